"""Chat helpers."""

from __future__ import annotations

from openai import APIError  # the sync client
from llmswitch import OpenAI
from openai.types.chat import ChatCompletion

from .clients import make_client

# fmt: off
MODELS = {
    "main":  "gpt-4o-mini",
    "cheap": "deepseek-chat",
    "qwen":  "qwen-plus",
}
# fmt: on


def ask(question: str, kind: str = "main", client: OpenAI | None = None) -> str:
    client = client or make_client()
    try:
        reply: ChatCompletion = client.chat.completions.create(
            model=MODELS[kind],  # chosen per task
            messages=[{"role": "user", "content": question}],
        )
    except APIError as exc:
        return f"error: {exc.__class__.__name__}"
    return reply.choices[0].message.content or ""
