"""Baidu Qianfan (ERNIE): the v1 native preset and the v2 OpenAI-compatible one.

``qianfan`` speaks the v1 "wenxinworkshop" API (PROTOCOLS.md §3): the model is chosen by the URL's
endpoint segment, ``api_key`` + ``secret_key`` are exchanged for an ``access_token`` (OAuth
client_credentials) sent in the query, and errors arrive in HTTP 200 bodies as ``error_code``.
``qianfan-compat`` is the v2 API (``https://qianfan.baidubce.com/v2``): OpenAI-shaped, bearer key,
lower-case model ids.

Prices are CNY per million tokens from Baidu's price list (2024-25; the Speed/Lite/Tiny lines are
free); they drift, and the providers file can override them per model.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range

__all__ = [
    "BASE_URL",
    "CHAT_ENDPOINTS",
    "COMPAT_BASE_URL",
    "EMBEDDING_ENDPOINTS",
    "ERROR_CODES",
    "ERROR_PATTERNS",
    "PRESETS",
    "V2_ERROR_CODES",
]

BASE_URL = "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop"
COMPAT_BASE_URL = "https://qianfan.baidubce.com/v2"

#: v1 model name → URL endpoint segment (qianfan consts / one-api baidu adaptor); a model not
#: listed uses its lower-cased name. The option ``endpoints`` adds to / overrides this table
#: (custom deployments have their own segment).
CHAT_ENDPOINTS: dict[str, str] = {
    "ERNIE-4.0-8K": "completions_pro",
    "ERNIE-4.0-Turbo-8K": "ernie-4.0-turbo-8k",
    "ERNIE-3.5-8K": "completions",
    "ERNIE-Speed-8K": "ernie_speed",
    "ERNIE-Speed-128K": "ernie-speed-128k",
    "ERNIE-Lite-8K-0308": "ernie-lite-8k",
    "ERNIE-Lite-8K": "ernie-lite-8k",
    "ERNIE-Tiny-8K": "ernie-tiny-8k",
}

#: v1 embedding model → segment under ``/embeddings/``. Embedding-V1 is from the brief/SDK; the
#: bge/tao segments follow the SDK's model table (UNCONFIRMED here).
EMBEDDING_ENDPOINTS: dict[str, str] = {
    "Embedding-V1": "embedding-v1",
    "bge-large-zh": "bge_large_zh",
    "bge-large-en": "bge_large_en",
    "tao-8k": "tao_8k",
}

_TEXT = frozenset({"chat", "stream"})
_V2 = frozenset({"chat", "stream", "tools", "json_mode"})
_EMBED = frozenset({"embeddings"})


def _cny(ctx: int, inp: float, out: float, caps: frozenset[str] = _TEXT,
         max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "CNY", caps)


_V1_MODELS: dict[str, ModelInfo] = {
    "ERNIE-4.0-8K": _cny(8_192, 30.0, 90.0, max_out=2_048),
    "ERNIE-4.0-Turbo-8K": _cny(8_192, 20.0, 60.0, max_out=2_048),
    "ERNIE-3.5-8K": _cny(8_192, 0.8, 2.0, max_out=2_048),
    "ERNIE-Speed-8K": _cny(8_192, 0.0, 0.0, max_out=2_048),
    "ERNIE-Speed-128K": _cny(131_072, 0.0, 0.0, max_out=4_096),
    "ERNIE-Lite-8K": _cny(8_192, 0.0, 0.0, max_out=2_048),
    "ERNIE-Tiny-8K": _cny(8_192, 0.0, 0.0, max_out=2_048),
    "Embedding-V1": _cny(384, 0.5, 0.0, _EMBED),
    "bge-large-zh": _cny(512, 0.5, 0.0, _EMBED),
    "bge-large-en": _cny(512, 0.5, 0.0, _EMBED),
    "tao-8k": _cny(8_192, 0.5, 0.0, _EMBED),
}

_V2_MODELS: dict[str, ModelInfo] = {
    "ernie-4.0-8k": _cny(8_192, 30.0, 90.0, _V2, 2_048),
    "ernie-4.0-turbo-8k": _cny(8_192, 20.0, 60.0, _V2, 2_048),
    "ernie-3.5-8k": _cny(8_192, 0.8, 2.0, _V2, 2_048),
    "ernie-speed-8k": _cny(8_192, 0.0, 0.0, _TEXT, 2_048),
    "ernie-speed-128k": _cny(131_072, 0.0, 0.0, _TEXT, 4_096),
    "ernie-lite-8k": _cny(8_192, 0.0, 0.0, _TEXT, 2_048),
    "ernie-tiny-8k": _cny(8_192, 0.0, 0.0, _TEXT, 2_048),
    "embedding-v1": _cny(384, 0.5, 0.0, _EMBED),
    "bge-large-zh": _cny(512, 0.5, 0.0, _EMBED),
    "tao-8k": _cny(8_192, 0.5, 0.0, _EMBED),
}

#: v1 ``error_code`` → failure class (qianfan consts.py APIErrorCode; PROTOCOLS.md §3). Codes
#: marked UNCONFIRMED are kept as data so they can be corrected without touching the adapter.
ERROR_CODES: dict[str, str] = {
    "1": "server_error",  # unknown error
    "2": "server_error",  # service unavailable
    "3": "bad_request",  # unsupported method
    "4": "rate_limit",  # request limit reached
    "6": "permission",  # no permission to access data
    "13": "auth",  # get service token failed
    "14": "auth",  # IAM certification failed
    "15": "auth",  # app does not exist
    "17": "rate_limit",  # daily limit reached
    "18": "rate_limit",  # QPS limit reached
    "19": "quota",  # total request limit reached (quota exhausted)
    "100": "bad_request",  # invalid request
    "110": "auth",  # access token invalid (the auth flow refreshes and retries once first)
    "111": "auth",  # access token expired (likewise)
    "336000": "server_error",  # internal error
    "336001": "bad_request",
    "336002": "bad_request",  # invalid JSON
    "336003": "bad_request",
    "336004": "permission",
    "336005": "not_found",  # API name does not exist
    "336006": "bad_request",  # messages must be odd-length and alternate
    "336100": "server_error",  # server high load
    "336101": "bad_request",
    "336103": "context_window",  # UNCONFIRMED: suspected context-overflow code
    "336104": "bad_request",
    "336105": "bad_request",
    "336501": "rate_limit",  # RPM
    "336502": "rate_limit",  # TPM
    "500000": "server_error",
}

#: v1 messages that reveal the class when the code alone does not (UNCONFIRMED wording)
ERROR_PATTERNS: tuple[tuple[str, str], ...] = (
    ("max input characters", "context_window"),
    ("prompt tokens too long", "context_window"),
    ("too long", "context_window"),
    ("sensitive", "content_filter"),
)

#: v2 ``error.code`` values (cloud.baidu.com/doc/qianfan-api/s/Om9b4yj3w; the 429 names UNCONFIRMED)
V2_ERROR_CODES: dict[str, str] = {
    "tokens_too_long": "context_window",
    "characters_too_long": "context_window",
    "rpm_rate_limit_exceeded": "rate_limit",
    "tpm_rate_limit_exceeded": "rate_limit",
    "invalid_model": "not_found",
}

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="qianfan",
        protocol="qianfan",
        base_url=BASE_URL,
        auth="custom",  # access_token from the OAuth exchange, by llmswitch.auth.QianfanTokenAuth
        env_key="QIANFAN_AK",
        credentials=("api_key", "secret_key"),
        required_credentials=("api_key", "secret_key"),
        # ERNIE v1 docs: temperature in (0, 1], top_p in [0, 1] (from the vendor docs, not PROTOCOLS.md)
        quirks=Quirks(
            ranges={"temperature": Range(0.0, 1.0, low_open=True), "top_p": Range(0.0, 1.0)},
            error_codes=ERROR_CODES,
            error_patterns=ERROR_PATTERNS,
        ),
        models=_V1_MODELS,
        default_model="ERNIE-Speed-128K",
        options={"token_url": None, "endpoints": {}, "embedding_endpoints": {},
                 "token_refresh_margin": 300.0},
        description="Baidu Qianfan v1 (ERNIE), native: endpoint per model, AK/SK access_token exchange",
    ),
    Preset(
        name="qianfan-compat",
        protocol="openai",
        base_url=COMPAT_BASE_URL,
        auth="bearer",
        env_key="QIANFAN_API_KEY",
        quirks=Quirks(rename={"max_completion_tokens": "max_tokens"}, error_codes=V2_ERROR_CODES),
        models=_V2_MODELS,
        default_model="ernie-speed-128k",
        description="Baidu Qianfan v2: OpenAI-compatible, bearer API key",
    ),
)
