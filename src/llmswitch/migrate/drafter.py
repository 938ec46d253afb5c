"""A first providers file from what the codemod found: providers, keys by ``${VAR}``, fallback routes.

- Each model named in a string literal goes to the catalog preset that serves it (``deepseek-chat``
  → ``deepseek``, ``qwen-plus`` → ``dashscope``); an unknown name goes to the app's own endpoint
  (``openai``, or ``azure`` when the app only builds Azure clients).
- Credentials are always ``${VAR}`` references: the variable the code read, else the preset's
  usual one. Nothing is ever read from the environment into the file.
- Every model gets a route named after it, so the app's ``model="…"`` strings keep working and
  gain fallback: a chat model falls back over the other chat models found, in order; an embedding
  model has a route of its own (other models' vectors would not be comparable).
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from .catalogmap import preset_for
from .facts import Facts

__all__ = ["draft", "render"]


def draft(facts: Facts) -> dict[str, Any]:
    """The providers file as a dict (see :func:`render` for its text)."""
    default = "azure" if facts.azure_clients and not facts.clients else "openai"
    providers: dict[str, dict[str, Any]] = {}
    targets: dict[str, str] = {}  # model → "provider/model"
    embeddings: set[str] = set()
    for model in facts.models:
        found = preset_for(model)
        name = found[0].name if found is not None and found[0].name != "openai" else default
        if found is not None and not found[1].supports("chat") and found[1].supports("embeddings"):
            embeddings.add(model)
        if name not in providers:
            providers[name] = _provider(name, facts)
        targets[model] = f"{name}/{model}"
    if facts.azure_clients and "azure" not in providers:
        providers["azure"] = _provider("azure", facts)
    chat = [targets[m] for m in targets if m not in embeddings]
    routes: dict[str, Any] = {}
    for model, target in targets.items():
        others = [] if model in embeddings else [t for t in chat if t != target]
        routes[model] = {"strategy": "fallback", "targets": [target, *others]}
    return {"providers": providers, "routes": routes}


def _provider(name: str, facts: Facts) -> dict[str, Any]:
    preset = catalog.get_preset(name)
    assert preset is not None  # names come from the catalog
    spec: dict[str, Any] = {"type": name}
    if name in ("openai", "azure"):
        seen = facts.openai if name == "openai" else facts.azure
        implicit = {"openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
                    "azure": ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")}[name]
        spec["api_key"] = seen.get("api_key", f"${{{implicit[0]}}}")
        default_url = f":-{preset.base_url}" if preset.base_url else ""
        url = seen.get("base_url")
        if url is None:  # openai's client reads the variable itself, and has a default
            url = f"${{{implicit[1]}{default_url}}}"
        elif url[2:-1] in facts.optional_vars:  # read with os.getenv(): unset means the default
            url = url[:-1] + default_url + "}"
        spec["base_url"] = url
        if "api_version" in seen:
            spec["api_version"] = seen["api_version"]
        return spec
    for field in preset.required_credentials:
        var = preset.env_key if field == "api_key" and preset.env_key else f"{name}_{field}".upper().replace("-", "_")
        spec[field] = f"${{{var}}}"
    url_var = f"{name.split('-')[0].upper()}_BASE_URL"
    if url_var in facts.env_vars:
        spec["base_url"] = f"${{{url_var}:-{preset.base_url}}}" if preset.base_url else f"${{{url_var}}}"
    return spec


def render(providers_file: dict[str, Any], files: int) -> str:
    """YAML with a header saying where it came from and what to do next."""
    import yaml

    variables = sorted({v.split("}")[0].split(":-")[0] for spec in providers_file["providers"].values()
                        for value in spec.values() if isinstance(value, str)
                        for v in value.split("${")[1:]})
    header = [
        f"# Drafted by `llmswitch migrate` from {files} file(s). Review it, then run the app with",
        "# LLMSWITCH_CONFIG pointing at this file. Keys are ${VAR} references, never values;",
        f"# set these where the app runs: {', '.join(variables) or 'none'}.",
        "# Each route is named after a model the code uses, so those calls keep working and fall back.",
    ]
    body = yaml.safe_dump(providers_file, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
    return "\n".join(header) + "\n" + body
