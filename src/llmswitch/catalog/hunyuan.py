"""Tencent Hunyuan: the native preset (TC3-signed API 3.0) and its OpenAI-compatible twin.

``hunyuan`` speaks the native ChatCompletions / GetEmbedding actions (PROTOCOLS.md §4): PascalCase
bodies, TC3-HMAC-SHA256 signing with ``secret_id``/``secret_key`` (optional ``token`` for
temporary credentials), errors inside HTTP 200 ``Response.Error``. Tencent marks the native action
"pre-offline" and recommends ``hunyuan-compat``: the OpenAI-compatible endpoint with a bearer key.

Prices are CNY per million tokens from Tencent's pricing page (2025); they drift, and the
providers file can override them per model. Which models take tools natively is from the SDK
docstrings (``hunyuan-functioncall`` first, later turbo/pro lines): treat it as UNCONFIRMED.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range

__all__ = ["BASE_URL", "COMPAT_BASE_URL", "ERROR_CODES", "ERROR_PATTERNS", "PRESETS"]

BASE_URL = "https://hunyuan.tencentcloudapi.com"
COMPAT_BASE_URL = "https://api.hunyuan.cloud.tencent.com/v1"

_TEXT = frozenset({"chat", "stream"})
_TOOLS = _TEXT | {"tools"}
_VISION = _TEXT | {"vision"}
_REASONING = _TEXT | {"reasoning"}
_EMBED = frozenset({"embeddings"})


def _cny(ctx: int, inp: float, out: float, caps: frozenset[str] = _TEXT,
         max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "CNY", caps)


_MODELS: dict[str, ModelInfo] = {
    "hunyuan-lite": _cny(262_144, 0.0, 0.0, max_out=6_144),
    "hunyuan-standard": _cny(32_768, 0.8, 2.0, max_out=2_048),
    "hunyuan-standard-256K": _cny(262_144, 0.5, 2.0, max_out=6_144),
    "hunyuan-pro": _cny(32_768, 30.0, 100.0, _TOOLS, 4_096),
    "hunyuan-turbo": _cny(32_768, 15.0, 50.0, _TOOLS, 4_096),
    "hunyuan-turbo-latest": _cny(32_768, 15.0, 50.0, _TOOLS, 4_096),
    "hunyuan-turbos-latest": _cny(32_768, 0.8, 2.0, _TOOLS, 16_384),
    "hunyuan-large": _cny(32_768, 4.0, 12.0, _TEXT, 4_096),
    "hunyuan-functioncall": _cny(32_768, 4.0, 8.0, _TOOLS, 4_096),
    "hunyuan-code": _cny(8_192, 3.5, 7.0, _TEXT, 4_096),
    "hunyuan-role": _cny(32_768, 2.4, 9.6, _TEXT, 4_096),
    "hunyuan-vision": _cny(8_192, 18.0, 18.0, _VISION, 2_048),
    "hunyuan-t1-latest": _cny(32_768, 1.0, 4.0, _REASONING, 32_768),
    "hunyuan-embedding": _cny(1_024, 0.7, 0.0, _EMBED),
}

# the compatible endpoint also takes json_mode on the chat models (OpenAI request shape)
_COMPAT_MODELS: dict[str, ModelInfo] = {
    name: ModelInfo(info.context_window, info.max_output, info.input_price, info.output_price, info.currency,
                    info.capabilities | {"json_mode"} if "chat" in info.capabilities else info.capabilities)
    for name, info in _MODELS.items()
}

# SDK docstrings: Temperature in [0, 2], TopP in [0, 1]. Hunyuan has no max-tokens field at all:
# the native adapter drops max_tokens / max_completion_tokens (strict mode: rejects them).
_RANGES = {"temperature": Range(0.0, 2.0), "top_p": Range(0.0, 1.0)}

#: Response.Error.Code → failure class, by exact code or by ``prefix.`` (errorcodes.py; the common
#: codes RequestLimitExceeded / AuthFailure.* / UnknownParameter are UNCONFIRMED for this action).
ERROR_CODES: dict[str, str] = {
    "FailedOperation.EngineServerLimitExceeded": "rate_limit",
    "RequestLimitExceeded": "rate_limit",
    "LimitExceeded": "rate_limit",
    "AuthFailure": "auth",
    "UnauthorizedOperation": "permission",
    "FailedOperation.ServiceNotActivated": "permission",
    "OperationDenied.TextIllegalDetected": "content_filter",
    "OperationDenied.ImageIllegalDetected": "content_filter",
    "ResourceUnavailable.InArrears": "quota",
    "ResourceUnavailable.LowBalance": "quota",
    "ResourceInsufficient.ChargeResourceExhaust": "quota",
    "InvalidParameterValue.Model": "not_found",
    "InvalidAction": "not_found",
    "FailedOperation.EngineServerError": "server_error",
    "FailedOperation.EngineRequestTimeout": "server_error",
    "InternalError": "server_error",
    "InvalidParameter": "bad_request",
    "InvalidParameterValue": "bad_request",
    "MissingParameter": "bad_request",
    "UnknownParameter": "bad_request",
    "UnsupportedOperation": "bad_request",
}

#: Hunyuan truncates over-long input instead of failing (PROTOCOLS.md §4), so no context code is
#: documented; should one appear, its message is the only clue (UNCONFIRMED wording)
ERROR_PATTERNS: tuple[tuple[str, str], ...] = (
    ("too long", "context_window"),
    ("exceeds the maximum", "context_window"),
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="hunyuan",
        protocol="hunyuan",
        base_url=BASE_URL,
        auth="custom",  # TC3-HMAC-SHA256, signed by llmswitch.auth.TC3Auth
        credentials=("secret_id", "secret_key", "token"),
        required_credentials=("secret_id", "secret_key"),
        quirks=Quirks(ranges=_RANGES, error_codes=ERROR_CODES, error_patterns=ERROR_PATTERNS),
        models=_MODELS,
        default_model="hunyuan-lite",
        options={"region": None, "version": "2023-09-01", "sign_action": False},
        description="Tencent Hunyuan, native API 3.0 (TC3-HMAC-SHA256; Tencent recommends hunyuan-compat)",
    ),
    Preset(
        name="hunyuan-compat",
        protocol="openai",
        base_url=COMPAT_BASE_URL,
        auth="bearer",
        env_key="HUNYUAN_API_KEY",
        quirks=Quirks(rename={"max_completion_tokens": "max_tokens"}),
        models=_COMPAT_MODELS,
        default_model="hunyuan-lite",
        description="Tencent Hunyuan, OpenAI-compatible endpoint with a bearer API key",
    ),
)
