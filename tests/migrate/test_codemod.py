"""The codemod's rules one at a time: exact output, what it leaves alone, and what it learns."""

from __future__ import annotations

import textwrap

import pytest

from llmswitch.migrate.codemod import rewrite
from llmswitch.migrate.drafter import draft


def after(source: str) -> str:
    code = textwrap.dedent(source)
    result = rewrite(code, "m.py").after
    assert rewrite(result, "m.py").after == result  # idempotent, always
    return result


@pytest.mark.parametrize(("source", "expected"), [
    ("from openai import OpenAI\n", "from llmswitch import OpenAI\n"),
    ("from openai import AsyncOpenAI as AC  # note\n", "from llmswitch import AsyncOpenAI as AC  # note\n"),
    ("from openai import OpenAI, RateLimitError\n",
     "from openai import RateLimitError\nfrom llmswitch import OpenAI\n"),
    ("from openai import (\n    APIError,\n    OpenAI,\n)\n", "from openai import (\n    APIError,\n)\n"
                                                                "from llmswitch import OpenAI\n"),
    ("from openai import OpenAI; x = 1\n", "from llmswitch import OpenAI; x = 1\n"),
    ("from openai import AzureOpenAI\nc: AzureOpenAI = AzureOpenAI(api_version='v', timeout=3)\n",
     "from llmswitch import OpenAI\nc: OpenAI = OpenAI(timeout=3)\n"),
    ("import openai as oa\nc = oa.AsyncOpenAI()\n", "import llmswitch\nc = llmswitch.AsyncOpenAI()\n"),
    ("import openai\nc = openai.OpenAI()\nopenai.types.Model\n",
     "import openai\nimport llmswitch\nc = llmswitch.OpenAI()\nopenai.types.Model\n"),
    ("def f():\n    import openai\n    return openai.OpenAI()\n",
     "def f():\n    import llmswitch\n    return llmswitch.OpenAI()\n"),
    ("from openai import OpenAI, AzureOpenAI\n", "from llmswitch import OpenAI\n"),
])
def test_rewrites(source: str, expected: str) -> None:
    assert after(source) == expected


@pytest.mark.parametrize("source", [
    "from openai.types.chat import ChatCompletion\n",
    "import openai\ntry:\n    pass\nexcept openai.RateLimitError:\n    pass\n",
    "from openai import RateLimitError, NOT_GIVEN\n",
    "from mylib import OpenAI\nOpenAI()\n",
    "from .openai import OpenAI\n",
    "from llmswitch import OpenAI\nOpenAI()\n",
])
def test_leaves_alone(source: str) -> None:
    assert after(source) == source


def test_what_it_cannot_change_is_reported_with_the_reason() -> None:
    source = "from openai import *\nfrom openai import AzureOpenAI\nc = AzureOpenAI(azure_deployment='prod')\n"
    result = rewrite(source, "m.py")
    assert result.after == source
    assert [str(s) for s in result.skipped] == [
        "m.py:1: `from openai import *`: the client names cannot be told apart; import them by name",
        "m.py:3: AzureOpenAI(...) left as it is: it pins one deployment, while llmswitch takes the deployment as "
        "the model"]


def test_a_literal_key_is_a_warning_and_never_reaches_the_draft() -> None:
    source = "from openai import OpenAI\nc = OpenAI(api_key='sk-live-123456', base_url='http://10.0.0.5:8000/v1')\n"
    result = rewrite(source, "m.py")
    assert [s.line for s in result.facts.warnings] == [2]
    providers = draft(result.facts)["providers"]
    assert providers == {}  # no model named yet: nothing to route
    result.facts.models["my-finetune"] = result.facts.warnings[0]
    providers = draft(result.facts)["providers"]
    assert providers == {"openai": {"type": "openai", "api_key": "${OPENAI_API_KEY}",
                                    "base_url": "http://10.0.0.5:8000/v1"}}


def test_models_in_literals_map_to_catalog_presets_and_embeddings_do_not_fall_back() -> None:
    source = textwrap.dedent("""\
        import os
        from openai import OpenAI
        c = OpenAI(base_url=os.environ["LLM_URL"])
        MODELS = ["qwen-plus", "glm-4-flash", "not-a-model"]
        c.embeddings.create(model="text-embedding-v3", input=["x"])
        c.chat.completions.create(model="my-finetune", messages=[])
        url = os.environ.get("DEEPSEEK_BASE_URL")
        c.chat.completions.create(model="deepseek-chat", messages=[])
    """)
    drafted = draft(rewrite(source, "m.py").facts)
    assert {name: spec["type"] for name, spec in drafted["providers"].items()} == {
        "dashscope": "dashscope", "zhipu": "zhipu", "openai": "openai", "deepseek": "deepseek"}
    assert drafted["providers"]["openai"]["base_url"] == "${LLM_URL}"
    assert drafted["providers"]["deepseek"] == {"type": "deepseek", "api_key": "${DEEPSEEK_API_KEY}",
                                                "base_url": "${DEEPSEEK_BASE_URL:-https://api.deepseek.com}"}
    routes = drafted["routes"]
    assert routes["text-embedding-v3"]["targets"] == ["dashscope/text-embedding-v3"]
    assert routes["my-finetune"]["targets"] == ["openai/my-finetune", "dashscope/qwen-plus", "zhipu/glm-4-flash",
                                                "deepseek/deepseek-chat"]
    assert "not-a-model" not in routes


def test_code_that_does_not_parse_raises_the_parser_error() -> None:
    import libcst

    with pytest.raises(libcst.ParserSyntaxError):
        rewrite("from openai import (OpenAI\n", "m.py")
