"""openai's own parameter types for the direct ``create()`` path, and openai's argument checks.

The TypedDicts extend openai's ``*CreateParams`` with the four per-request options, so editors and
mypy see every parameter with openai's types; at run time an unknown keyword raises ``TypeError``
and a missing required one too, as openai's generated ``create`` does. Vendor-only parameters
belong in ``extra_body``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import httpx2
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.embedding_create_params import EmbeddingCreateParams
from typing_extensions import TypedDict

__all__ = ["ChatParams", "ChatStreamParams", "EmbeddingParams", "RequestOptions", "check_chat",
           "check_embeddings"]


class RequestOptions(TypedDict, total=False):
    """openai's per-request options (not part of the body)."""

    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, object] | None
    extra_body: object | None
    timeout: float | httpx2.Timeout | None


class ChatParams(CompletionCreateParamsNonStreaming, RequestOptions, total=False):
    pass


class ChatStreamParams(CompletionCreateParamsStreaming, RequestOptions, total=False):
    pass


class EmbeddingParams(EmbeddingCreateParams, RequestOptions, total=False):
    pass


# openai's ``required_args``; its TypedDicts cannot say it at run time (postponed annotations)
_REQUIRED = {"chat": frozenset({"model", "messages"}), "embeddings": frozenset({"model", "input"})}


@cache
def _known(kind: str) -> tuple[frozenset[str], frozenset[str]]:
    """(every accepted keyword, the required ones) for ``chat`` or ``embeddings``."""
    typed: Any = ChatParams if kind == "chat" else EmbeddingParams
    return frozenset(typed.__required_keys__ | typed.__optional_keys__) | {"stream"}, _REQUIRED[kind]


def _check(kind: str, method: str, params: Mapping[str, Any]) -> None:
    known, required = _known(kind)
    for name in params:
        if name not in known:
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}"
                            " (vendor-only parameters go in extra_body)")
    missing = sorted(required - params.keys())
    if missing:
        raise TypeError(f"{method}() missing required keyword argument(s): {', '.join(map(repr, missing))}")


def check_chat(params: Mapping[str, Any]) -> None:
    _check("chat", "create", params)


def check_embeddings(params: Mapping[str, Any]) -> None:
    _check("embeddings", "create", params)
