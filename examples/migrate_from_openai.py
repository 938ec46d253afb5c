"""Move an app from the official ``openai`` client to llmswitch by changing one import.

Before::

    from openai import OpenAI

After::

    from llmswitch import OpenAI

Everything else stays: the constructor arguments, ``chat.completions.create``, streaming, the
response types and the exception classes. Then a providers config lets the same code reach any
provider. This script runs against llmswitch's loopback mock server: no keys, no network.

    python examples/migrate_from_openai.py
"""

from __future__ import annotations

import openai

from llmswitch import OpenAI  # was: from openai import OpenAI
from llmswitch.testing import MockServer


def summarize(client: OpenAI, text: str, model: str = "gpt-4o-mini") -> str:
    """App code written for openai's client; nothing here changes."""
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Summarize in one line."}, {"role": "user", "content": text}],
    )
    return response.choices[0].message.content or ""


def main() -> None:
    with MockServer({"openai": "openai", "deepseek": "openai"}) as server:
        # 1. The same constructor as openai.OpenAI: api_key and base_url (or OPENAI_API_KEY / OPENAI_BASE_URL).
        client = OpenAI(api_key="sk-test", base_url=server.base_url("openai"))
        response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        print(f"type: {type(response).__module__}.{type(response).__name__}")
        print(f"answer: {summarize(client, 'llmswitch keeps the openai interface')}")

        # Streaming is unchanged too.
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "stream this"}], stream=True)
        print("streamed: " + "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))

        # So are the exceptions: an app's `except openai.RateLimitError` keeps working.
        server.mount("openai").fail("429:retry-after=0*3")
        try:
            client.with_options(max_retries=0).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        except openai.RateLimitError as exc:
            print(f"caught openai.RateLimitError: {type(exc).__name__} (status {exc.status_code})")
        server.mount("openai").script.clear()
        client.close()

        # 2. Add a providers config, and the same app code reaches other providers by name.
        config = {
            "providers": {
                "deepseek": {"type": "deepseek", "api_key": "sk-test", "base_url": server.base_url("deepseek")},
            },
        }
        with OpenAI(config=config) as switched:
            print(f"deepseek: {summarize(switched, 'one import changed', model='deepseek/deepseek-chat')}")


if __name__ == "__main__":
    main()
