"""Which targets serve /responses natively (catalog flag, providers-file override) and which are bridged."""

from __future__ import annotations

from typing import Any

import pytest

from llmswitch import config
from llmswitch.errors import ConfigError
from llmswitch.responses import responses_url


def provider(spec: dict[str, Any], name: str = "p") -> Any:
    creds = {} if "secret_id" in spec else {"api_key": "sk-x"}
    settings = config.load({"providers": {name: {**creds, **spec}}})
    return settings.provider(name)


@pytest.mark.parametrize(("spec", "model", "url"), [
    ({"type": "openai"}, "gpt-4o", "https://api.openai.com/v1/responses"),
    ({"type": "azure", "base_url": "https://r.openai.azure.com"}, "dep", "https://r.openai.azure.com/openai/v1/responses"),
    ({"type": "doubao"}, "doubao-seed-1-6", "https://ark.cn-beijing.volces.com/api/v3/responses"),
    ({"type": "dashscope-compat"}, "qwen3-max", "https://dashscope.aliyuncs.com/compatible-mode/v1/responses"),
    ({"type": "dashscope"}, "qwen3-max", "https://dashscope.aliyuncs.com/compatible-mode/v1/responses"),
    # Qwen serves it for some models only
    ({"type": "dashscope"}, "qwen-plus", None),
    # a native preset pointed elsewhere (region, proxy, mock) keeps the bridge unless the file says where
    ({"type": "dashscope", "base_url": "http://127.0.0.1:9/api/v1"}, "qwen3-max", None),
    ({"type": "deepseek"}, "deepseek-chat", None),
    ({"type": "anthropic"}, "claude-sonnet-4-0", None),
    ({"type": "hunyuan", "secret_id": "i", "secret_key": "k"}, "hunyuan-turbo", None),
    # the providers file decides either way
    ({"type": "openai", "responses": False}, "gpt-4o", None),
    ({"type": "vllm", "base_url": "http://127.0.0.1:8000/v1", "responses": True}, "m",
     "http://127.0.0.1:8000/v1/responses"),
    ({"type": "dashscope", "responses": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"}, "qwen-plus",
     "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/responses"),
])
def test_native_or_bridged(spec: dict[str, Any], model: str, url: str | None) -> None:
    assert responses_url(provider(spec), model) == url


def test_a_bad_override_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"providers\.p\.responses") as info:
        provider({"type": "deepseek", "responses": "ftp://nope"})
    assert "http(s)" in str(info.value)
