"""Mock protocol registry: protocol name → class, imported on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import MockProtocol

__all__ = ["mock_protocol", "mock_protocols"]

_REGISTRY: dict[str, str] = {
    "openai": "openai:OpenAIProtocol",
    "azure": "openai:OpenAIProtocol",
    "mock": "openai:OpenAIProtocol",
    "sensenova": "sensenova:SenseNovaProtocol",
    "dashscope": "dashscope:DashScopeProtocol",
    "qianfan": "qianfan:QianfanProtocol",
    "hunyuan": "hunyuan:HunyuanProtocol",
    "zhipu": "zhipu:ZhipuProtocol",
    "minimax": "minimax:MiniMaxProtocol",
    "anthropic": "anthropic:AnthropicProtocol",
    "gemini": "gemini:GeminiProtocol",
    "ollama": "ollama:OllamaProtocol",
}


def mock_protocols() -> list[str]:
    return sorted(_REGISTRY)


def mock_protocol(name: str) -> MockProtocol:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no mock protocol {name!r}; known: {', '.join(mock_protocols())}") from None
    module_name, _, cls_name = target.partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    protocol: MockProtocol = getattr(module, cls_name)()
    return protocol
