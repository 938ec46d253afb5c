"""Adapter registry: protocol name → adapter class, imported only when first used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Adapter

__all__ = ["adapter_class", "protocols"]

# one line per protocol: "module:Class" under llmswitch.adapters
_REGISTRY: dict[str, str] = {
    "openai": "openai:OpenAIAdapter",
    "azure": "openai:AzureAdapter",
    "mock": "openai:OpenAIAdapter",
    "sensenova": "sensenova:SenseNovaAdapter",
    "dashscope": "dashscope:DashScopeAdapter",
    "qianfan": "qianfan:QianfanAdapter",
    "hunyuan": "hunyuan:HunyuanAdapter",
    "zhipu": "zhipu:ZhipuAdapter",
    "minimax": "minimax:MiniMaxAdapter",
    "anthropic": "anthropic:AnthropicAdapter",
    "gemini": "gemini:GeminiAdapter",
    "ollama": "ollama:OllamaAdapter",
}


def protocols() -> list[str]:
    return sorted(_REGISTRY)


def adapter_class(protocol: str) -> type[Adapter]:
    try:
        target = _REGISTRY[protocol]
    except KeyError:
        raise KeyError(f"unknown protocol {protocol!r}; known: {', '.join(protocols())}") from None
    module_name, _, cls_name = target.partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    cls: type[Adapter] = getattr(module, cls_name)
    return cls
