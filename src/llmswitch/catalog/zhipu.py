"""Zhipu GLM (BigModel open platform): the native preset and its OpenAI-compatible twin.

Both speak the same v4 API (PROTOCOLS.md §5); they differ in auth. ``zhipu`` signs the
``id.secret`` key as a JWT (HS256, ``sign_type: SIGN``, millisecond timestamps) and reads Zhipu's
business codes and finish reasons natively; ``zhipu-compat`` sends the key as a plain bearer through
the generic OpenAI adapter, which still classifies the business codes via ``Quirks.error_codes``.

Prices are CNY per million tokens from the vendor's model pages (2025); they drift, and the
providers file can override them per model.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range

__all__ = ["ERROR_CODES", "PRESETS"]

BASE_URL = "https://open.bigmodel.cn/api/paas/v4"

#: business code in ``{"error": {"code": "<4 digits>"}}`` → failure class (PROTOCOLS.md §5;
#: docs.z.ai api-code, litellm bigmodel). 1261 and 1301 both arrive as HTTP 400.
ERROR_CODES: dict[str, str] = {
    "1000": "auth",  # authentication failed
    "1001": "auth",  # no Authorization header
    "1002": "auth",  # token invalid
    "1003": "auth",  # token expired
    "1004": "auth",  # token verification failed
    "1113": "quota",  # account in arrears (HTTP 429)
    "1261": "context_window",  # prompt too long
    "1301": "content_filter",  # unsafe or sensitive content
    "1302": "rate_limit",  # high concurrency
    "1305": "rate_limit",  # too many requests
}

_CHAT = frozenset({"chat", "stream", "tools", "json_mode"})
_VISION = frozenset({"chat", "stream", "vision"})
_REASONING = frozenset({"chat", "stream", "reasoning"})
_EMBED = frozenset({"embeddings"})


def _cny(ctx: int, inp: float, out: float, caps: frozenset[str] = _CHAT,
         max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "CNY", caps)


_MODELS: dict[str, ModelInfo] = {
    "glm-4-plus": _cny(128_000, 5.0, 5.0, max_out=4_096),
    "glm-4-air": _cny(128_000, 0.5, 0.5, max_out=4_096),
    "glm-4-airx": _cny(8_000, 10.0, 10.0, max_out=4_096),
    "glm-4-flash": _cny(128_000, 0.0, 0.0, max_out=4_096),
    "glm-4-long": _cny(1_000_000, 1.0, 1.0, max_out=4_096),
    "glm-4v": _cny(2_048, 50.0, 50.0, _VISION, 1_024),
    "glm-4v-plus": _cny(8_192, 4.0, 4.0, _VISION, 1_024),
    "glm-4v-flash": _cny(8_192, 0.0, 0.0, _VISION, 1_024),
    "glm-z1-air": _cny(128_000, 0.5, 0.5, _REASONING, 32_000),
    "glm-z1-airx": _cny(32_000, 5.0, 5.0, _REASONING, 30_000),
    "glm-z1-flash": _cny(128_000, 0.0, 0.0, _REASONING, 32_000),
    "embedding-2": _cny(8_192, 0.5, 0.0, _EMBED),
    "embedding-3": _cny(8_192, 0.5, 0.0, _EMBED),
}

# Sampling ranges are UNCONFIRMED for the v4 API (older model docs: temperature (0,1], top_p (0,1));
# out-of-range values are clamped in lenient mode and rejected in strict mode.
_QUIRKS = Quirks(
    ranges={"temperature": Range(0.0, 1.0, low_open=True),
            "top_p": Range(0.0, 1.0, low_open=True, high_open=True)},
    stream_options=False,  # the final chunk always carries top-level usage
    error_codes=ERROR_CODES,
    structured="json_object",  # response_format takes text | json_object (GLM-4 docs); json_schema UNCONFIRMED
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="zhipu",
        protocol="zhipu",
        base_url=BASE_URL,
        auth="custom",  # JWT minted per key by the adapter (or a raw bearer with auth_mode: bearer)
        env_key="ZHIPUAI_API_KEY",
        quirks=_QUIRKS,
        models=_MODELS,
        default_model="glm-4-flash",
        options={"auth_mode": "jwt", "jwt_ttl_ms": 210_000},
        description="Zhipu GLM (BigModel v4), native: id.secret key signed as a JWT, business codes read",
    ),
    Preset(
        name="zhipu-compat",
        protocol="openai",
        base_url=BASE_URL,
        auth="bearer",
        env_key="ZHIPUAI_API_KEY",
        quirks=_QUIRKS,
        models=_MODELS,
        default_model="glm-4-flash",
        description="Zhipu GLM through the generic OpenAI adapter: raw id.secret key as bearer",
    ),
)
