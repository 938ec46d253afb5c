"""Presets for OpenAI and the vendors that speak its protocol with no native alternative here.

Prices are list prices per million tokens as published by each vendor (2025); they drift, so the
providers file can override them per model. Vendors that also have a native adapter keep their
``-compat`` preset beside the native one, in their own catalog module.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range, ResponsesAPI

_CHAT = frozenset({"chat", "stream", "tools", "json_mode"})
_VISION = _CHAT | {"vision"}
_REASONING = frozenset({"chat", "stream", "reasoning"})
_EMBED = frozenset({"embeddings"})

# max_completion_tokens is OpenAI's newer name; most compatible vendors only know max_tokens
_LEGACY_MAX = {"max_completion_tokens": "max_tokens"}
_OPENAI_ONLY = frozenset({"store", "metadata", "service_tier", "prediction", "modalities", "audio",
                          "reasoning_effort", "web_search_options", "verbosity", "prompt_cache_key",
                          "safety_identifier"})


def _usd(ctx: int, inp: float, out: float, caps: frozenset[str] = _CHAT, max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "USD", caps)


def _cny(ctx: int, inp: float, out: float, caps: frozenset[str] = _CHAT, max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "CNY", caps)


def _compatible(name: str, base_url: str | None, env_key: str | None, description: str, **kw: object) -> Preset:
    quirks = kw.pop("quirks", Quirks(rename=_LEGACY_MAX, unsupported=_OPENAI_ONLY))
    return Preset(name=name, protocol="openai", base_url=base_url, env_key=env_key, description=description,
                  quirks=quirks, **kw)  # type: ignore[arg-type]


_LOCAL = {"required_credentials": (), "auth": "bearer"}

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="openai",
        protocol="openai",
        base_url="https://api.openai.com/v1",
        env_key="OPENAI_API_KEY",
        description="OpenAI (or any endpoint speaking exactly its protocol)",
        models={
            "gpt-4o": _usd(128_000, 2.5, 10.0, _VISION, 16_384),
            "gpt-4o-mini": _usd(128_000, 0.15, 0.6, _VISION, 16_384),
            "gpt-4.1": _usd(1_047_576, 2.0, 8.0, _VISION, 32_768),
            "gpt-4.1-mini": _usd(1_047_576, 0.4, 1.6, _VISION, 32_768),
            "o3-mini": _usd(200_000, 1.1, 4.4, _CHAT | {"reasoning"}, 100_000),
            "text-embedding-3-small": _usd(8_191, 0.02, 0.0, _EMBED),
            "text-embedding-3-large": _usd(8_191, 0.13, 0.0, _EMBED),
        },
        default_model="gpt-4o-mini",
        responses=ResponsesAPI(),
    ),
    Preset(
        name="azure",
        protocol="azure",
        base_url=None,  # https://{resource}.openai.azure.com — must be given
        auth="api-key",
        env_key="AZURE_OPENAI_API_KEY",
        options={"api_version": "2024-10-21"},
        description="Azure OpenAI: model = deployment name; api-key header; api-version query",
        responses=ResponsesAPI(path="/openai/v1/responses"),  # the v1 API: no deployment, no api-version
    ),
    _compatible(
        "deepseek", "https://api.deepseek.com", "DEEPSEEK_API_KEY", "DeepSeek",
        # JSON Output is json_object only (api-docs.deepseek.com/guides/json_mode)
        quirks=Quirks(rename=_LEGACY_MAX, unsupported=_OPENAI_ONLY, echo_reasoning=True,
                      ranges={"temperature": Range(0, 2)}, error_codes={"invalid_request_error": "bad_request"},
                      structured="json_object"),
        models={
            "deepseek-chat": _cny(64_000, 2.0, 8.0, max_out=8_192),
            "deepseek-reasoner": _cny(64_000, 4.0, 16.0, _REASONING | {"tools"}, 32_768),
        },
        default_model="deepseek-chat",
    ),
    _compatible(
        "moonshot", "https://api.moonshot.cn/v1", "MOONSHOT_API_KEY", "Moonshot Kimi",
        quirks=Quirks(rename=_LEGACY_MAX, unsupported=_OPENAI_ONLY, usage_in_choice=True, echo_reasoning=True,
                      ranges={"temperature": Range(0, 1)},
                      unsupported_values={"tool_choice": frozenset({"required"})},
                      structured="json_object"),  # Kimi's JSON Mode; json_schema UNCONFIRMED
        models={
            "moonshot-v1-8k": _cny(8_192, 12.0, 12.0),
            "moonshot-v1-32k": _cny(32_768, 24.0, 24.0),
            "moonshot-v1-128k": _cny(131_072, 60.0, 60.0),
            "kimi-k2-0711-preview": _cny(131_072, 4.0, 16.0),
        },
        default_model="moonshot-v1-8k",
    ),
    _compatible(
        "doubao", "https://ark.cn-beijing.volces.com/api/v3", "ARK_API_KEY", "ByteDance Doubao (Volcengine Ark)",
        quirks=Quirks(rename=_LEGACY_MAX, unsupported=_OPENAI_ONLY,
                      error_codes={"OutofContextError": "context_window",
                                   "SensitiveContentDetected": "content_filter"}),
        models={
            "doubao-1-5-pro-32k-250115": _cny(32_768, 0.8, 2.0),
            "doubao-1-5-pro-256k-250115": _cny(262_144, 5.0, 9.0),
            "doubao-1-5-lite-32k-250115": _cny(32_768, 0.3, 0.6),
            "doubao-embedding-text-240715": _cny(4_096, 0.7, 0.0, _EMBED),
        },
        default_model="doubao-1-5-pro-32k-250115",
        responses=ResponsesAPI(),  # Ark serves /responses at its usual base URL
    ),
    _compatible(
        "spark", "https://spark-api-open.xf-yun.com/v1", "SPARK_API_PASSWORD", "iFlytek Spark (HTTP)",
        quirks=Quirks(rename=_LEGACY_MAX, unsupported=_OPENAI_ONLY | {"stream_options"}, stream_options=False,
                      ranges={"temperature": Range(0, 1, low_open=True), "top_k": Range(1, 6),
                              "max_tokens": Range(1, 8192)},
                      embeddings=False),
        models={
            "lite": _cny(8_192, 0.0, 0.0, frozenset({"chat", "stream"})),
            "generalv3.5": _cny(8_192, 30.0, 30.0),
            "pro-128k": _cny(131_072, 30.0, 30.0, frozenset({"chat", "stream"})),
            "max-32k": _cny(32_768, 30.0, 30.0),
            "4.0Ultra": _cny(8_192, 70.0, 70.0),
        },
        default_model="lite",
    ),
    _compatible("baichuan", "https://api.baichuan-ai.com/v1", "BAICHUAN_API_KEY", "Baichuan",
                models={"Baichuan4-Turbo": _cny(32_768, 15.0, 15.0), "Baichuan4-Air": _cny(32_768, 0.98, 0.98)},
                default_model="Baichuan4-Air"),
    _compatible("yi", "https://api.lingyiwanwu.com/v1", "YI_API_KEY", "01.AI Yi",
                models={"yi-lightning": _cny(16_384, 0.99, 0.99), "yi-vision-v2": _cny(16_384, 6.0, 6.0, _VISION)},
                default_model="yi-lightning"),
    _compatible("stepfun", "https://api.stepfun.com/v1", "STEPFUN_API_KEY", "StepFun",
                models={"step-1-8k": _cny(8_192, 5.0, 20.0), "step-2-16k": _cny(16_384, 38.0, 120.0),
                        "step-1v-8k": _cny(8_192, 5.0, 20.0, _VISION)},
                default_model="step-1-8k"),
    _compatible("siliconflow", "https://api.siliconflow.cn/v1", "SILICONFLOW_API_KEY", "SiliconFlow",
                models={"deepseek-ai/DeepSeek-V3": _cny(64_000, 2.0, 8.0),
                        "Qwen/Qwen2.5-7B-Instruct": _cny(32_768, 0.0, 0.0),
                        "BAAI/bge-m3": _cny(8_192, 0.0, 0.0, _EMBED)},
                default_model="Qwen/Qwen2.5-7B-Instruct"),
    _compatible("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "OpenRouter",
                models={"openai/gpt-4o-mini": _usd(128_000, 0.15, 0.6, _VISION),
                        "deepseek/deepseek-chat": _usd(64_000, 0.27, 1.1)},
                default_model="openai/gpt-4o-mini"),
    _compatible(
        "groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "Groq",
        quirks=Quirks(rename=_LEGACY_MAX,
                      unsupported=_OPENAI_ONLY | {"logprobs", "top_logprobs", "logit_bias"},
                      ranges={"n": Range(1, 1)}),
        models={"llama-3.3-70b-versatile": _usd(131_072, 0.59, 0.79),
                "llama-3.1-8b-instant": _usd(131_072, 0.05, 0.08)},
        default_model="llama-3.1-8b-instant",
    ),
    _compatible(
        "mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "Mistral",
        quirks=Quirks(rename={**_LEGACY_MAX, "seed": "random_seed"},
                      unsupported=_OPENAI_ONLY | {"logit_bias", "logprobs", "top_logprobs", "user",
                                                  "stream_options"},
                      stream_options=False, ranges={"temperature": Range(0, 1.5)}),
        models={"mistral-large-latest": _usd(131_072, 2.0, 6.0), "mistral-small-latest": _usd(32_768, 0.1, 0.3),
                "mistral-embed": _usd(8_192, 0.1, 0.0, _EMBED)},
        default_model="mistral-small-latest",
    ),
    _compatible("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY", "Together AI",
                models={"meta-llama/Llama-3.3-70B-Instruct-Turbo": _usd(131_072, 0.88, 0.88)},
                default_model="meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    _compatible("vllm", "http://localhost:8000/v1", "VLLM_API_KEY", "vLLM OpenAI-compatible server",
                quirks=Quirks(), **_LOCAL),
    _compatible("lmstudio", "http://localhost:1234/v1", None, "LM Studio local server",
                quirks=Quirks(rename=_LEGACY_MAX), **_LOCAL),
    Preset(
        name="mock",
        protocol="mock",
        base_url=None,  # in-process: http://llmswitch.mock/<provider name>/v1
        auth="none",
        required_credentials=(),
        options={"latency": 0.0, "completion_tokens": None, "faults": ()},
        models={
            "mock-small": _cny(8_192, 0.5, 1.0, _VISION | {"embeddings"}),
            "mock-large": _usd(128_000, 1.0, 3.0, _VISION | {"embeddings"}),
        },
        default_model="mock-small",
        description="built-in deterministic mock provider (no network); options: latency, completion_tokens, faults",
    ),
)
