"""Google Gemini presets (PROTOCOLS.md §15): the native ``generateContent`` API and its OpenAI layer.

``gemini`` speaks the native protocol (``x-goog-api-key``; the adapter builds the paths);
``gemini-compat`` is Google's OpenAI-compatible endpoint on the same key. The option
``thought_signatures`` (default on) carries Gemini's thought signatures inside tool-call ids,
so that tool loops keep working on models that require them back (Gemini 3).

Prices are Google's paid-tier list prices in USD per million tokens (text input / output,
thinking included in output; Gemini 2.5 Pro's rate for prompts up to 200k tokens) as published
in 2025. They drift: the providers file can override them per model.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks

_CHAT = frozenset({"chat", "stream", "tools", "vision", "json_mode"})
_THINKING = _CHAT | {"reasoning"}
_EMBED = frozenset({"embeddings"})
_MILLION = 1_048_576


def _usd(ctx: int, max_out: int | None, inp: float | None, out: float | None,
         caps: frozenset[str] = _CHAT) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "USD", caps)


MODELS: dict[str, ModelInfo] = {
    "gemini-2.0-flash": _usd(_MILLION, 8_192, 0.10, 0.40),
    "gemini-2.0-flash-lite": _usd(_MILLION, 8_192, 0.075, 0.30),
    "gemini-2.5-flash": _usd(_MILLION, 65_536, 0.30, 2.50, _THINKING),
    "gemini-2.5-flash-lite": _usd(_MILLION, 65_536, 0.10, 0.40, _THINKING),
    "gemini-2.5-pro": _usd(_MILLION, 65_536, 1.25, 10.0, _THINKING),
    "gemini-embedding-001": _usd(2_048, None, 0.15, 0.0, _EMBED),
    "text-embedding-004": _usd(2_048, None, None, None, _EMBED),  # price not listed (free tier only)
}

# OpenAI parameters Google's OpenAI layer rejects or ignores
_COMPAT_UNSUPPORTED = frozenset({"store", "metadata", "service_tier", "prediction", "logit_bias", "logprobs",
                                 "top_logprobs", "prompt_cache_key", "safety_identifier", "user"})

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="gemini",
        protocol="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        auth="custom",  # x-goog-api-key header, set by the adapter
        env_key="GEMINI_API_KEY",
        models=MODELS,
        default_model="gemini-2.5-flash",
        options={"thought_signatures": True},
        description="Google Gemini API (native generateContent; x-goog-api-key)",
    ),
    Preset(
        name="gemini-compat",
        protocol="openai",
        base_url="https://generativelanguage.googleapis.com/v1beta/openai",
        env_key="GEMINI_API_KEY",
        quirks=Quirks(rename={"max_completion_tokens": "max_tokens"}, unsupported=_COMPAT_UNSUPPORTED),
        models=MODELS,
        default_model="gemini-2.5-flash",
        description="Google Gemini through its OpenAI-compatible endpoint",
    ),
)
