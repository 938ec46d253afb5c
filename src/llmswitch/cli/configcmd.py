"""``llmswitch config validate`` and ``config show``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from ._common import DEMO_SOURCE, EXIT_FAILURE, console, discover, load, redact_url, scrub, secret_name, secret_values

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["redacted", "show", "validate"]

REDACTED = "<redacted>"


def validate(file: str | None) -> int:
    """Every problem on its own line as ``file:line: field: message``; exit 1 if there is any."""
    from ..config import load as load_config
    from ..demo import demo_config
    from ..errors import ConfigError

    source = file or discover()
    out = console()
    try:
        settings = load_config(source if source is not None else demo_config())
    except ConfigError as exc:
        shown = source or DEMO_SOURCE
        out.print(f"✗ {shown}: {len(exc.problems)} problem(s)", style="bold red", markup=False)
        for problem in exc.problems:
            out.print(problem, markup=False)
        return EXIT_FAILURE
    config = settings.config
    routes = len(config.routes)
    default = f", default route {config.default_route}" if config.default_route else ""
    out.print(f"✓ {source or DEMO_SOURCE} is valid: {len(config.providers)} provider(s), {routes} route(s){default}",
              style="green", markup=False)
    err = console(stderr=True)
    secrets = secret_values(settings)
    for name in sorted(settings.unresolved):
        for problem in settings.unresolved[name]:
            err.print(f"warning: {scrub(problem, secrets)} (provider {name!r} is in no route, so it is not used "
                      "unless called as provider/model)", style="yellow", markup=False)
    return 0


def _redact_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if secret_name(str(k)) and isinstance(v, str) and v else _redact_tree(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v) for v in value]
    return value


def redacted(settings: Settings) -> dict[str, Any]:
    """The resolved config (defaults filled in, variables expanded, base URLs resolved), secrets redacted."""
    from .._secret import Secret

    def unknown(value: Any) -> Any:  # credentials are Secrets inside the config: never their value
        return (REDACTED if value else "<missing>") if isinstance(value, Secret) else str(value)

    data: dict[str, Any] = _redact_tree(settings.config.model_dump(mode="json", fallback=unknown))
    for name, block in data["providers"].items():
        provider = settings.providers.get(name)
        if provider is None:
            continue
        preset = provider.preset
        for cred in preset.credentials:
            present = bool(provider.credential(cred))
            if cred in block:
                block[cred] = REDACTED if present else "<missing>"
            elif present:
                block[cred] = f"{REDACTED} (from ${preset.env_key})" if preset.env_key else REDACTED
        if block.get("base_url") is None:
            block["base_url"] = "in-process mock (no network)" if preset.protocol == "mock" else provider.base_url
        block["base_url"] = redact_url(block["base_url"] or "")
        block["headers"] = {k: REDACTED if secret_name(k) or k.lower() == "authorization" else v
                            for k, v in (block.get("headers") or {}).items()}
    return data


def show(file: str | None, *, fmt: str) -> int:
    loaded = load(file)
    data = redacted(loaded.settings)
    if fmt == "json":
        text = json.dumps({"source": loaded.source, "config": data}, indent=2, ensure_ascii=False) + "\n"
    else:
        import yaml

        text = f"# source: {loaded.source}\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    sys.stdout.write(scrub(text, secret_values(loaded.settings)))
    return 0
