"""Anthropic's native Messages API preset (PROTOCOLS.md §14) and its Claude models.

Auth is the ``x-api-key`` header; the adapter adds ``anthropic-version`` from the
``anthropic_version`` option (``2023-06-01`` is the long-standing value; newer values may be set
in the providers file). Each model is listed under its dated id and its alias, sharing one
:class:`ModelInfo`. ``max_output`` is also the ``max_tokens`` the adapter sends when a request
gives none (the API requires one).

Prices are Anthropic's list prices in USD per million tokens (base input / output, no cache or
batch discounts) as published in 2025; context windows and output limits are the standard ones
(no 1M-context or 128k-output betas). They drift: the providers file can override them per model.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset

_CLAUDE = frozenset({"chat", "stream", "tools", "vision", "json_mode"})  # json_mode: a forced tool
_THINKING = _CLAUDE | {"reasoning"}


def _claude(max_out: int, inp: float, out: float, caps: frozenset[str] = _CLAUDE) -> ModelInfo:
    return ModelInfo(200_000, max_out, inp, out, "USD", caps)


_HAIKU_3 = _claude(4_096, 0.25, 1.25)
_OPUS_3 = _claude(4_096, 15.0, 75.0)
_HAIKU_35 = _claude(8_192, 0.8, 4.0)
_SONNET_35 = _claude(8_192, 3.0, 15.0)
_SONNET_37 = _claude(64_000, 3.0, 15.0, _THINKING)
_SONNET_4 = _claude(64_000, 3.0, 15.0, _THINKING)
_OPUS_4 = _claude(32_000, 15.0, 75.0, _THINKING)
_SONNET_45 = _claude(64_000, 3.0, 15.0, _THINKING)
_HAIKU_45 = _claude(64_000, 1.0, 5.0, _THINKING)

MODELS: dict[str, ModelInfo] = {
    "claude-3-haiku-20240307": _HAIKU_3,
    "claude-3-opus-20240229": _OPUS_3,
    "claude-3-opus-latest": _OPUS_3,
    "claude-3-5-haiku-20241022": _HAIKU_35,
    "claude-3-5-haiku-latest": _HAIKU_35,
    "claude-3-5-sonnet-20240620": _SONNET_35,
    "claude-3-5-sonnet-20241022": _SONNET_35,
    "claude-3-5-sonnet-latest": _SONNET_35,
    "claude-3-7-sonnet-20250219": _SONNET_37,
    "claude-3-7-sonnet-latest": _SONNET_37,
    "claude-sonnet-4-20250514": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-opus-4-20250514": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    "claude-opus-4-1-20250805": _OPUS_4,
    "claude-opus-4-1": _OPUS_4,
    "claude-sonnet-4-5-20250929": _SONNET_45,
    "claude-sonnet-4-5": _SONNET_45,
    "claude-haiku-4-5-20251001": _HAIKU_45,
    "claude-haiku-4-5": _HAIKU_45,
}

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="anthropic",
        protocol="anthropic",
        base_url="https://api.anthropic.com/v1",
        auth="x-api-key",
        env_key="ANTHROPIC_API_KEY",
        options={"anthropic_version": "2023-06-01"},
        models=MODELS,
        default_model="claude-sonnet-4-0",
        description="Anthropic Messages API (native): x-api-key + anthropic-version headers",
    ),
)
