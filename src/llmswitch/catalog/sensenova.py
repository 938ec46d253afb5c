"""SenseTime SenseNova: the native API (``sensenova``) and its OpenAI-compatible mode (``sensenova-compat``).

Context windows follow the vendor's model list (platform.sensenova.cn, 2025). List prices were not
found in a source we could cite, so they are left unset; a providers file can give them per model.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range

_CHAT = frozenset({"chat", "stream", "tools"})
_VISION = _CHAT | {"vision"}
_REASONING = frozenset({"chat", "stream", "reasoning"})
_EMBED = frozenset({"embeddings"})

# PROTOCOLS.md §1: temperature (0, 2], top_p (0, 1) — both ends of top_p exclusive
RANGES = {
    "temperature": Range(0, 2, low_open=True),
    "top_p": Range(0, 1, low_open=True, high_open=True),
}

MODELS: dict[str, ModelInfo] = {
    "SenseNova-V6-Pro": ModelInfo(32_768, 16_384, None, None, "CNY", _VISION),
    "SenseNova-V6-Turbo": ModelInfo(32_768, 16_384, None, None, "CNY", _VISION),
    "SenseNova-V6-Reasoner": ModelInfo(32_768, 16_384, None, None, "CNY", _REASONING | {"vision"}),
    "SenseChat-5": ModelInfo(131_072, 4_096, None, None, "CNY", _CHAT),
    "SenseChat-Turbo": ModelInfo(32_768, 4_096, None, None, "CNY", _CHAT),
    "SenseChat-128K": ModelInfo(131_072, 4_096, None, None, "CNY", _CHAT),
    "SenseChat-32K": ModelInfo(32_768, 4_096, None, None, "CNY", _CHAT),
    "SenseChat-Vision": ModelInfo(32_768, 4_096, None, None, "CNY", _VISION),
    "nova-embedding-stable": ModelInfo(512, None, None, None, "CNY", _EMBED),
}
_COMPAT_MODELS = {name: info for name, info in MODELS.items() if name != "nova-embedding-stable"}

_OPENAI_ONLY = frozenset({"store", "metadata", "service_tier", "prediction", "modalities", "audio",
                          "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier",
                          "response_format"})

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="sensenova",
        protocol="sensenova",
        base_url="https://api.sensenova.cn/v1",
        env_key="SENSENOVA_API_KEY",
        # either the key pair (signed as a JWT) or an API key; the adapter checks that one is complete
        credentials=("access_key_id", "secret_access_key", "api_key"),
        required_credentials=(),
        quirks=Quirks(ranges=RANGES),
        models=MODELS,
        default_model="SenseNova-V6-Turbo",
        description="SenseTime SenseNova, native API (JWT from access key pair, or API key)",
    ),
    Preset(
        name="sensenova-compat",
        protocol="openai",
        base_url="https://api.sensenova.cn/compatible-mode/v1",
        env_key="SENSENOVA_API_KEY",
        quirks=Quirks(
            rename={"max_completion_tokens": "max_tokens"},
            unsupported=_OPENAI_ONLY,
            ranges=RANGES,
            reasoning_field="reasoning",
            empty_finish_reason=True,
            embeddings=False,
            error_patterns=(("context length", "context_window"), ("sensitive", "content_filter")),
        ),
        models=_COMPAT_MODELS,
        default_model="SenseNova-V6-Turbo",
        description="SenseTime SenseNova, OpenAI-compatible mode",
    ),
)
