"""MiniMax: the native v2 preset and its OpenAI-compatible twin (PROTOCOLS.md §9).

Both run on ``https://api.minimaxi.com/v1`` (China; ``https://api.minimax.io/v1`` abroad). The
native preset posts to ``/text/chatcompletion_v2`` and reads ``base_resp`` — MiniMax's error
envelope, which arrives inside HTTP 200 bodies and stream chunks; ``minimax-compat`` posts to
``/chat/completions`` through the generic OpenAI adapter. Both clamp temperature/top_p into (0, 1].

Prices are CNY per million tokens (vendor price list, 2025; MiniMax-M1 at its lowest input tier);
the providers file can override them per model.
"""

from __future__ import annotations

from ..catalog import ModelInfo, Preset, Quirks, Range

__all__ = ["PRESETS", "STATUS_CODES"]

BASE_URL = "https://api.minimaxi.com/v1"

#: ``base_resp.status_code`` → failure class. 1000–1024 are from the error-code page; 1026/1027
#: (sensitive input/output) and 1039 (token limit) are UNCONFIRMED there, though the v2 API
#: reference lists 1027 "invalid output content", 1039 "token limit", 1013 and 2013 too.
STATUS_CODES: dict[str, str] = {
    "1000": "server_error",  # unknown error
    "1001": "timeout",  # request timeout
    "1002": "rate_limit",  # rate limited
    "1004": "auth",  # not authorized / bad key
    "1008": "quota",  # insufficient balance
    "1013": "server_error",  # internal service error
    "1024": "server_error",  # internal error
    "1026": "content_filter",  # sensitive input (UNCONFIRMED)
    "1027": "content_filter",  # sensitive output (UNCONFIRMED)
    "1039": "context_window",  # token limit exceeded (UNCONFIRMED)
    "2013": "bad_request",  # invalid parameters
}

_CHAT = frozenset({"chat", "stream", "tools", "json_mode"})
_REASONING = frozenset({"chat", "stream", "tools", "reasoning"})
_EMBED = frozenset({"embeddings"})


def _cny(ctx: int, inp: float, out: float, caps: frozenset[str] = _CHAT,
         max_out: int | None = None) -> ModelInfo:
    return ModelInfo(ctx, max_out, inp, out, "CNY", caps)


_MODELS: dict[str, ModelInfo] = {
    "MiniMax-M2": _cny(204_800, 2.1, 8.4, _REASONING, 128_000),
    "MiniMax-M1": _cny(1_000_000, 0.8, 8.0, _REASONING, 80_000),
    "MiniMax-Text-01": _cny(1_000_192, 1.0, 8.0, _CHAT),
    "abab6.5s-chat": _cny(245_760, 1.0, 1.0, _CHAT),
    "embo-01": _cny(4_096, 0.5, 0.0, _EMBED),
}

# temperature and top_p must lie in (0, 1] (text-chat API reference); tool_choice is none|auto only
_QUIRKS = Quirks(
    ranges={"temperature": Range(0.0, 1.0, low_open=True), "top_p": Range(0.0, 1.0, low_open=True)},
    unsupported_values={"tool_choice": frozenset({"required"})},
    error_codes=STATUS_CODES,
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="minimax",
        protocol="minimax",
        base_url=BASE_URL,
        env_key="MINIMAX_API_KEY",
        quirks=_QUIRKS,
        models=_MODELS,
        default_model="MiniMax-Text-01",
        # group_id: appended as ?GroupId= when set; chat_path: the v2 endpoint below base_url
        options={"group_id": None, "chat_path": "/text/chatcompletion_v2", "embeddings_type": "db"},
        description="MiniMax, native v2: base_resp errors inside HTTP 200, sensitivity flags, embo-01",
    ),
    Preset(
        name="minimax-compat",
        protocol="openai",
        base_url=BASE_URL,
        env_key="MINIMAX_API_KEY",
        quirks=Quirks(
            ranges=_QUIRKS.ranges,
            unsupported_values=_QUIRKS.unsupported_values,
            error_codes=STATUS_CODES,
            status_envelope="base_resp",
            embeddings=False,  # embo-01 takes texts/type and answers vectors: use the native preset
        ),
        models={k: v for k, v in _MODELS.items() if k != "embo-01"},
        default_model="MiniMax-Text-01",
        description="MiniMax through the generic OpenAI adapter (/chat/completions)",
    ),
)
