"""Streamed answers, async."""

from .clients import make_async_client


async def stream_answer(question: str) -> str:
    client = make_async_client()
    parts: list[str] = []
    stream = await client.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": question}], stream=True,
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    await client.close()
    return "".join(parts)
