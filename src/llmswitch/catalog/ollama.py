"""Ollama presets (PROTOCOLS.md §17): the native ``/api/chat`` API and its OpenAI layer on ``/v1``.

A local Ollama needs no credentials; a remote one may want a Bearer key (``api_key``, or
``OLLAMA_API_KEY`` in the environment). Models are whatever the server has pulled: the entries
below are common ones, with the context the model supports (Ollama itself runs with a smaller
``num_ctx`` unless told otherwise) and a price of zero.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks

_CHAT = frozenset({"chat", "stream", "tools", "json_mode"})
_THINKING = _CHAT | {"reasoning"}
_VISION = frozenset({"chat", "stream", "vision", "json_mode"})
_EMBED = frozenset({"embeddings"})


def _local(ctx: int, caps: frozenset[str] = _CHAT) -> ModelInfo:
    return ModelInfo(ctx, None, 0.0, 0.0, "USD", caps)


MODELS: dict[str, ModelInfo] = {
    "llama3.2": _local(131_072),
    "llama3.1": _local(131_072),
    "qwen2.5": _local(32_768),
    "qwen3": _local(40_960, _THINKING),
    "deepseek-r1": _local(131_072, frozenset({"chat", "stream", "json_mode", "reasoning"})),
    "gemma3": _local(131_072, _VISION),
    "llava": _local(4_096, _VISION),
    "nomic-embed-text": _local(8_192, _EMBED),
    "mxbai-embed-large": _local(512, _EMBED),
}

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="ollama",
        protocol="ollama",
        base_url="http://localhost:11434",
        auth="none",  # the adapter sends a Bearer key only when one is configured
        env_key="OLLAMA_API_KEY",
        required_credentials=(),
        models=MODELS,
        default_model="llama3.2",
        description="Ollama (native /api/chat, NDJSON streams)",
    ),
    Preset(
        name="ollama-compat",
        protocol="openai",
        base_url="http://localhost:11434/v1",
        auth="bearer",
        env_key="OLLAMA_API_KEY",
        required_credentials=(),
        quirks=Quirks(rename={"max_completion_tokens": "max_tokens"},
                      unsupported=frozenset({"tool_choice", "logit_bias", "n", "user", "store", "metadata",
                                             "service_tier", "prediction", "parallel_tool_calls"})),
        models=MODELS,
        default_model="llama3.2",
        description="Ollama through its OpenAI-compatible endpoint",
    ),
)
