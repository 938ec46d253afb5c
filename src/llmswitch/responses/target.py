"""Whether a target serves ``/responses`` itself (pass through) or needs the bridge, and where."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.base import Provider

__all__ = ["responses_url"]


def responses_url(provider: Provider, model: str) -> str | None:
    """The URL of the provider's native ``/responses`` for ``model``, or None when it must be bridged.

    The providers file's ``responses:`` (true, false, or a base URL) wins over the catalog. A
    catalog base URL that differs from the preset's is used only while the provider keeps the
    preset's default base URL: a provider pointed elsewhere (a proxy, another region, a mock)
    is bridged unless the file says where its Responses API is.
    """
    override = provider.options.get("responses")
    if override is False:
        return None
    if override is True:
        return provider.base_url.rstrip("/") + "/responses"
    if isinstance(override, str):
        return override.rstrip("/") + "/responses"
    api = provider.preset.responses
    if api is None or (api.models is not None and model not in api.models):
        return None
    base = provider.base_url
    if api.base_url is not None:
        if provider.base_url.rstrip("/") != (provider.preset.base_url or "").rstrip("/"):
            return None
        base = api.base_url
    return base.rstrip("/") + api.path
