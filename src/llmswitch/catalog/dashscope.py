"""Alibaba Qwen on DashScope (Model Studio): native ``dashscope`` and OpenAI-compatible ``dashscope-compat``.

Prices are mainland-China list prices in CNY per million tokens (Model Studio price page, 2025;
the lowest input tier where prices are tiered). They drift; a providers file can override them.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range, ResponsesAPI

_CHAT = frozenset({"chat", "stream", "tools", "json_mode"})
_VISION = frozenset({"chat", "stream", "vision"})
_REASONING = frozenset({"chat", "stream", "reasoning", "tools"})
_EMBED = frozenset({"embeddings"})

# temperature [0, 2), top_p (0, 1] (Model Studio API reference)
RANGES = {
    "temperature": Range(0, 2, high_open=True),
    "top_p": Range(0, 1, low_open=True),
}


def _cny(ctx: int, inp: float, out: float, caps: frozenset[str] = _CHAT,
         max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "CNY", caps)


MODELS: dict[str, ModelInfo] = {
    "qwen-max": _cny(32_768, 2.4, 9.6, max_out=8_192),
    "qwen3-max": _cny(262_144, 6.0, 24.0, max_out=65_536),
    "qwen-plus": _cny(131_072, 0.8, 2.0, _CHAT | {"reasoning"}, 16_384),
    "qwen-turbo": _cny(1_000_000, 0.3, 0.6, _CHAT | {"reasoning"}, 16_384),
    "qwen-long": _cny(10_000_000, 0.5, 2.0, max_out=8_192),
    "qwen3-coder-plus": _cny(1_000_000, 4.0, 16.0, max_out=65_536),
    "qwq-plus": _cny(131_072, 1.6, 4.0, _REASONING, 8_192),
    "qwen-vl-max": _cny(131_072, 3.0, 9.0, _VISION, 8_192),
    "qwen-vl-plus": _cny(131_072, 1.5, 4.5, _VISION, 8_192),
    "qvq-max": _cny(131_072, 8.0, 32.0, _VISION | {"reasoning"}, 8_192),
    "text-embedding-v4": _cny(8_192, 0.5, 0.0, _EMBED),
    "text-embedding-v3": _cny(8_192, 0.5, 0.0, _EMBED),
    "text-embedding-v2": _cny(2_048, 0.7, 0.0, _EMBED),
}

_OPENAI_ONLY = frozenset({"store", "metadata", "service_tier", "prediction", "modalities", "audio",
                          "reasoning_effort", "web_search_options", "verbosity", "prompt_cache_key",
                          "safety_identifier"})

# Model Studio serves OpenAI's Responses API on its compatible-mode base URL, for these models only
# ("OpenAI Responses API compatibility", Model Studio docs, 2026-02)
_RESPONSES_MODELS = frozenset({"qwen3.5-plus", "qwen3.5-plus-2026-02-15", "qwen3.5-397b-a17b", "qwen3-max",
                               "qwen3-max-2026-01-23"})

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="dashscope",
        protocol="dashscope",
        base_url="https://dashscope.aliyuncs.com/api/v1",
        env_key="DASHSCOPE_API_KEY",
        quirks=Quirks(ranges=RANGES),
        models=MODELS,
        default_model="qwen-plus",
        description="Alibaba Qwen, native DashScope API (intl: https://dashscope-intl.aliyuncs.com/api/v1)",
        responses=ResponsesAPI(base_url="https://dashscope.aliyuncs.com/compatible-mode/v1", models=_RESPONSES_MODELS),
    ),
    Preset(
        name="dashscope-compat",
        protocol="openai",
        base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        env_key="DASHSCOPE_API_KEY",
        quirks=Quirks(
            rename={"max_completion_tokens": "max_tokens"},
            unsupported=_OPENAI_ONLY,
            ranges=RANGES,
            structured="json_object",  # json_schema only on some newer models; json_object on all
            # compat errors: {"error":{"code":"invalid_parameter_error","message":"<400> InternalError.Algo.
            # InvalidParameter: Range of input length should be [1, N]"}}; the moderation code is UNCONFIRMED
            error_codes={"data_inspection_failed": "content_filter", "DataInspectionFailed": "content_filter",
                         "Throttling": "rate_limit", "InvalidApiKey": "auth"},
            error_patterns=(("range of input length", "context_window"),
                            ("datainspectionfailed", "content_filter"),
                            ("inappropriate content", "content_filter")),
        ),
        models=MODELS,
        default_model="qwen-plus",
        description="Alibaba Qwen, DashScope OpenAI-compatible mode",
        responses=ResponsesAPI(models=_RESPONSES_MODELS),
    ),
)
