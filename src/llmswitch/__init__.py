"""llmswitch: switch LLM providers at zero cost.

``from llmswitch import OpenAI`` instead of ``from openai import OpenAI``. Importing this package
does no work: names are loaded on first use (PEP 562), so neither openai's types, YAML, nor the
CLI are imported until needed.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `from typing import …`: typing costs ~15 ms, most of a bare import

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "OpenAI": "client",
    "AsyncOpenAI": "client",
    "route_info": "client",
    "instrument": "telemetry",
    "load_config": "config:load",
    "Settings": "config",
    "RouteInfo": "router",
    "StructuredOutputWarning": "adapters.structured",
    **{
        name: "errors"
        for name in (
            "APIConnectionError",
            "APIStatusError",
            "APITimeoutError",
            "AllTargetsFailedError",
            "AuthenticationError",
            "BadRequestError",
            "ConfigError",
            "ConflictError",
            "ContentFilterError",
            "ContextWindowExceededError",
            "InternalServerError",
            "LLMSwitchError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "StreamInterruptedError",
            "UnprocessableEntityError",
            "UnsupportedParameterError",
        )
    },
}

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AllTargetsFailedError",
    "AsyncOpenAI",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "InternalServerError",
    "LLMSwitchError",
    "NotFoundError",
    "OpenAI",
    "PermissionDeniedError",
    "RateLimitError",
    "RouteInfo",
    "Settings",
    "StreamInterruptedError",
    "StructuredOutputWarning",
    "UnprocessableEntityError",
    "UnsupportedParameterError",
    "__version__",
    "instrument",
    "load_config",
    "route_info",
]

if TYPE_CHECKING:
    from typing import Any

    from .adapters.structured import StructuredOutputWarning
    from .client import AsyncOpenAI, OpenAI, route_info
    from .config import Settings
    from .config import load as load_config
    from .errors import (
        AllTargetsFailedError,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigError,
        ConflictError,
        ContentFilterError,
        ContextWindowExceededError,
        InternalServerError,
        LLMSwitchError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        StreamInterruptedError,
        UnprocessableEntityError,
        UnsupportedParameterError,
    )
    from .router import RouteInfo
    from .telemetry import instrument


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'llmswitch' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
