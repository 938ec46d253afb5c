"""The clients under test, each doing the same job against the same canned answer.

A contestant is built once per round (connection set-up is not what we measure) and returns a
zero-argument callable; for streams the callable returns how many chunks it received, so the
harness can report CPU per chunk. Every callable really parses what it receives — raw clients
``json.loads`` every body/event — so the comparison is between complete jobs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from upstream import MODEL, Upstream, model_for

API_KEY = "sk-bench"
MESSAGES = [{"role": "user", "content": "Say something about streams."}]
BODY = {"model": MODEL, "messages": MESSAGES}
STREAM_BODY = {**BODY, "stream": True}
HEADERS = {"Authorization": f"Bearer {API_KEY}"}

SyncCall = Callable[[], Any]
AsyncCall = Callable[[], Awaitable[Any]]


@dataclass
class Built:
    call: Any  # SyncCall | AsyncCall
    close: Callable[[], Any]  # may return an awaitable for async contestants


# -- sync, one call at a time -------------------------------------------------------------------

def httpx2_plain(up: Upstream) -> Built:
    import httpx2

    client = httpx2.Client()
    url = up.base_url("openai") + "/chat/completions"

    def call() -> Any:
        response = client.post(url, json=BODY, headers=HEADERS)
        response.raise_for_status()
        return json.loads(response.content)

    return Built(call, client.close)


def openai_plain(up: Upstream) -> Built:
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=up.base_url("openai"))
    return Built(lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES), client.close)  # type: ignore[arg-type]


def llmswitch_plain(up: Upstream) -> Built:
    import llmswitch

    client = llmswitch.OpenAI(api_key=API_KEY, base_url=up.base_url("openai"))
    return Built(lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES), client.close)


def _machinery(cls: Any, up: Upstream) -> Built:
    """openai's own request building and parsing: ``with_raw_response`` + ``parse()``, then ``parse()``
    (structured outputs' entry point; no response_format, so the canned text answer parses)."""
    client = cls(api_key=API_KEY, base_url=up.base_url("openai"))
    completions = client.chat.completions

    def call() -> Any:
        completions.with_raw_response.create(model=MODEL, messages=MESSAGES).parse()
        return completions.parse(model=MODEL, messages=MESSAGES)

    return Built(call, client.close)


def openai_machinery(up: Upstream) -> Built:
    import openai

    return _machinery(openai.OpenAI, up)


def llmswitch_machinery(up: Upstream) -> Built:
    import llmswitch

    return _machinery(llmswitch.OpenAI, up)


def httpx2_stream_lines(up: Upstream) -> Built:
    """The leanest correct SSE client: iter_lines, ``data:`` lines, json.loads, skip [DONE]."""
    import httpx2

    client = httpx2.Client()
    url = up.base_url("openai", stream=True) + "/chat/completions"

    def call() -> int:
        n = 0
        with client.stream("POST", url, json=STREAM_BODY, headers=HEADERS) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data = line[5:].strip()
                    if data != "[DONE]":  # read on to the end: the connection goes back to the pool
                        json.loads(data)
                        n += 1
        return n

    return Built(call, client.close)


def httpx2_stream_sse(up: Upstream) -> Built:
    """httpx2's own SSE support (``client.sse``, derived from httpx-sse)."""
    import httpx2

    client = httpx2.Client()
    url = up.base_url("openai", stream=True) + "/chat/completions"

    def call() -> int:
        n = 0
        with client.sse(url, method="POST", json=STREAM_BODY, headers=HEADERS) as events:
            for event in events:
                if event.data != "[DONE]":
                    event.json()
                    n += 1
        return n

    return Built(call, client.close)


def openai_stream(up: Upstream) -> Built:
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=up.base_url("openai", stream=True))

    def call() -> int:
        n = 0
        for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            n += 1
        return n

    return Built(call, client.close)


def llmswitch_stream(up: Upstream) -> Built:
    import llmswitch

    client = llmswitch.OpenAI(api_key=API_KEY, base_url=up.base_url("openai", stream=True))

    def call() -> int:
        return sum(1 for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    return Built(call, client.close)


# -- async, many calls in flight ----------------------------------------------------------------

def aiohttp_raw(up: Upstream) -> Built:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = up.base_url("openai") + "/chat/completions"

    async def call() -> Any:
        async with session.post(url, json=BODY, headers=HEADERS) as response:
            response.raise_for_status()
            return json.loads(await response.read())

    return Built(call, session.close)


def httpx2_async(up: Upstream) -> Built:
    import httpx2

    client = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))
    url = up.base_url("openai") + "/chat/completions"

    async def call() -> Any:
        response = await client.post(url, json=BODY, headers=HEADERS)
        response.raise_for_status()
        return json.loads(response.content)

    return Built(call, client.aclose)


def httpx2_async_aiohttp(up: Upstream) -> Built:
    """What the httpx2 layer costs on top of aiohttp: the same POST through AiohttpTransport."""
    import httpx2

    from llmswitch._aiohttp import AiohttpTransport

    client = httpx2.AsyncClient(transport=AiohttpTransport())
    url = up.base_url("openai") + "/chat/completions"

    async def call() -> Any:
        response = await client.post(url, json=BODY, headers=HEADERS)
        response.raise_for_status()
        return json.loads(response.content)

    return Built(call, client.aclose)


def openai_async(up: Upstream) -> Built:
    import openai

    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=up.base_url("openai"))

    async def call() -> Any:
        return await client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    return Built(call, client.close)


def openai_async_aiohttp(up: Upstream) -> Built:
    import openai

    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=up.base_url("openai"),
                                http_client=openai.DefaultAioHttpClient())

    async def call() -> Any:
        return await client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    return Built(call, client.close)


def llmswitch_async(up: Upstream) -> Built:
    import llmswitch

    client = llmswitch.AsyncOpenAI(api_key=API_KEY, base_url=up.base_url("openai"))

    async def call() -> Any:
        return await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    return Built(call, client.close)


def llmswitch_async_aiohttp(up: Upstream) -> Built:
    import httpx2

    import llmswitch
    from llmswitch._aiohttp import AiohttpTransport

    http = httpx2.AsyncClient(transport=AiohttpTransport())
    client = llmswitch.AsyncOpenAI(api_key=API_KEY, base_url=up.base_url("openai"), http_client=http)

    async def call() -> Any:
        return await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    async def close() -> None:
        await client.close()
        await http.aclose()

    return Built(call, close)


# -- native adapters: the same reply in each vendor's wire format --------------------------------

DUMMY_CREDENTIALS = {  # shaped as the adapters expect (zhipu keys are id.secret); never sent anywhere but 127.0.0.1
    "api_key": "benchid.benchsecret",
    "secret_key": "bench-secret-key",
    "secret_id": "AKIDbench",
    "access_key_id": "bench-ak",
    "secret_access_key": "bench-sk",
}


def provider_spec(up: Upstream, protocol: str, *, stream: bool) -> dict[str, Any]:
    """A providers-file block for ``protocol`` pointing at the canned answer on the upstream."""
    from llmswitch.catalog import get_preset

    spec: dict[str, Any] = {"type": protocol, "base_url": up.base_url(protocol, stream=stream)}
    preset = get_preset(protocol)
    if preset is None:
        raise LookupError(f"no catalog preset named {protocol!r}")
    for name in preset.required_credentials or ("api_key",):
        if name in preset.credentials:
            spec[name] = DUMMY_CREDENTIALS.get(name, "bench")
    if "token_url" in preset.options:
        spec["token_url"] = up.url("json", "token") + "/oauth/2.0/token"
    return spec


def llmswitch_native(up: Upstream, protocol: str, *, stream: bool) -> Built:
    """llmswitch.OpenAI configured with one provider of ``protocol`` (``openai`` = the reference)."""
    import llmswitch

    spec = provider_spec(up, protocol, stream=stream)
    client = llmswitch.OpenAI(config={"providers": {"p": spec}})
    model = f"p/{model_for(protocol)}"
    if stream:
        def call() -> Any:
            return sum(1 for _ in client.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    else:
        def call() -> Any:
            return client.chat.completions.create(model=model, messages=MESSAGES)
    return Built(call, client.close)


def adapter_parse(up: Upstream, protocol: str, *, stream: bool) -> Built:
    """Translation alone, no HTTP: the adapter turns the canned native bytes into OpenAI dicts."""
    import httpx2

    from llmswitch.adapters import adapter_class
    from llmswitch.config import load
    from llmswitch.streaming import decoder_for

    settings = load({"providers": {"p": provider_spec(up, protocol, stream=stream)}})
    adapter = adapter_class(settings.providers["p"].preset.protocol)(settings.providers["p"])
    model = model_for(protocol)
    fmt = up.stream_fmt(protocol) if stream else "json"
    body = up.canned[(protocol, fmt)].body
    request = httpx2.Request("POST", up.base_url(protocol, stream=stream))
    if not stream:
        def call() -> Any:
            return adapter.parse_chat(httpx2.Response(200, content=body, request=request), model)
    else:
        response = httpx2.Response(200, content=b"", request=request)

        def call() -> Any:
            decoder = decoder_for(adapter.stream_format)
            translator = adapter.stream_translator(response, model)
            n = 0
            for event in decoder.feed(body) + decoder.close():
                n += len(translator.feed(event))
            n += len(translator.close())
            if not translator.complete:
                raise AssertionError(f"{protocol}: canned stream did not complete")
            return n
    return Built(call, lambda: None)
