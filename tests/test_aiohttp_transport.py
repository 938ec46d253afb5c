"""The aiohttp-backed httpx2 transport, over real loopback sockets (llmswitch.testing.MockServer).

What matters: bodies and streams arrive intact and incrementally, timeouts come from the httpx2
request, and every aiohttp failure surfaces as the httpx2 exception httpx2's own transport
would raise — so the router's retry/fallback logic sees one exception family.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

pytest.importorskip("aiohttp")

import aiohttp
import httpx2

import llmswitch
import llmswitch.adapters.openai  # imported here, not lazily inside a coroutine (see below)
from llmswitch._aiohttp import AiohttpTransport, _mapped
from llmswitch.testing import MockServer

BODY = {"model": "m", "messages": [{"role": "user", "content": "one two three four five"}]}


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer({"p": "openai"}) as srv:
        yield srv


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as c:
        yield c


def chat_url(server: MockServer) -> str:
    return server.base_url("p") + "/chat/completions"


async def read_stream(client: httpx2.AsyncClient, url: str, *, into: list[str] | None = None,
                      timeout: httpx2.Timeout | None = None) -> None:
    """Stream a chat answer line by line (into ``into``) until it ends or fails."""
    async with client.stream("POST", url, json={**BODY, "stream": True},
                             timeout=timeout or httpx2.Timeout(5.0)) as response:
        async for line in response.aiter_lines():
            if into is not None:
                into.append(line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_plain_request_and_response(mock: MockServer, client: httpx2.AsyncClient) -> None:
    response = await client.post(chat_url(mock), json=BODY, headers={"Authorization": "Bearer sk-x"})
    assert response.status_code == 200
    assert response.reason_phrase == "OK"
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"] == "[p:m] one two three four five"
    sent = mock.mount("p").requests[-1]
    assert sent.method == "POST"
    assert sent.headers["authorization"] == "Bearer sk-x"
    assert json.loads(sent.body) == BODY


async def test_whole_answer_is_a_complete_read_response(mock: MockServer) -> None:
    """A body that came with its head is handed over as read content (no second pass through
    httpx2's decoders); every way of reading it agrees, as for a response httpx2 read itself."""
    transport = AiohttpTransport()
    kinds = set()
    try:
        for _ in range(5):  # the mock writes head and body apart: most answers still come in one piece
            request = httpx2.Request("POST", chat_url(mock), json=BODY)
            response = await transport.handle_async_request(request)
            kinds.add(type(response).__name__)
            expected = await response.aread()
            assert response.is_closed and response.is_stream_consumed
            assert json.loads(expected)["object"] == "chat.completion"
            assert response.content == expected == response.read()
            assert response.json() == json.loads(expected) and response.text == expected.decode()
            assert [piece async for piece in response.aiter_bytes()] == [expected]
            assert response.request is request and response.http_version == "HTTP/1.1"
            await response.aclose()
    finally:
        await transport.aclose()
    assert "_Whole" in kinds


async def test_streamed_request_body(mock: MockServer, client: httpx2.AsyncClient) -> None:
    payload = json.dumps(BODY).encode()

    async def parts() -> AsyncIterator[bytes]:  # the mock server reads by Content-Length only
        yield payload[:10]
        yield payload[10:]

    response = await client.post(chat_url(mock), content=parts(),
                                 headers={"content-type": "application/json", "content-length": str(len(payload))})
    assert response.status_code == 200
    assert json.loads(mock.mount("p").requests[-1].body) == BODY


async def test_stream_arrives_event_by_event(mock: MockServer, client: httpx2.AsyncClient) -> None:
    mock.mount("p").fail("stall:after=2:seconds=0.3")
    started = time.monotonic()
    first_at = None
    events = []
    async with client.stream("POST", chat_url(mock), json={**BODY, "stream": True}) as response:
        assert response.headers["content-type"] == "text/event-stream"
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                first_at = first_at or time.monotonic() - started
                events.append(line[6:])
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert text == "[p:m] one two three four five"
    assert first_at is not None and first_at < 0.25  # delivered before the stall, not buffered to the end


async def test_gzip_bodies_are_decoded_by_httpx2(client: httpx2.AsyncClient) -> None:
    # aiohttp hands the bytes over as sent; httpx2 decodes them, whole (Content-Length) or streamed
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    payload = json.dumps({"object": "chat.completion", "pad": "x" * 2000}).encode()
    packed = gzip.compress(payload)

    async def whole(request: web.Request) -> web.Response:
        return web.Response(body=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Encoding": "gzip"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(0, len(packed), 100):
            await response.write(packed[i:i + 100])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/whole", whole)
    app.router.add_post("/chunked", chunked)
    async with TestServer(app, host="127.0.0.1") as server:
        for path in ("/whole", "/chunked"):
            response = await client.post(str(server.make_url(path)), content=b"{}")
            assert response.content == payload, path


async def test_connection_refused_is_connect_error(client: httpx2.AsyncClient) -> None:
    with pytest.raises(httpx2.ConnectError) as info:
        await client.post(f"http://127.0.0.1:{free_port()}/v1/chat/completions", json=BODY)
    assert info.value.request.url.port is not None


async def test_stalled_head_is_read_timeout(mock: MockServer, client: httpx2.AsyncClient) -> None:
    mock.mount("p").fail("stall:seconds=2")
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        await client.post(chat_url(mock), json=BODY, timeout=httpx2.Timeout(5.0, read=0.15))
    assert time.monotonic() - started < 1.0


async def test_stalled_stream_is_read_timeout(mock: MockServer, client: httpx2.AsyncClient) -> None:
    mock.mount("p").fail("stall:after=1:seconds=2")
    with pytest.raises(httpx2.ReadTimeout):
        await read_stream(client, chat_url(mock), timeout=httpx2.Timeout(5.0, read=0.15))


async def test_read_timeout_changed_after_the_head_applies_to_the_body(
        mock: MockServer, client: httpx2.AsyncClient) -> None:
    # llmswitch waits first_token for the head, then idle between chunks, by editing the mapping
    mock.mount("p").fail("stall:after=1:seconds=2")
    request = client.build_request("POST", chat_url(mock), json={**BODY, "stream": True},
                                   timeout=httpx2.Timeout(5.0))
    response = await client.send(request, stream=True)
    request.extensions["timeout"]["read"] = 0.15
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        async for _ in response.aiter_bytes():
            pass
    await response.aclose()
    assert time.monotonic() - started < 1.0


async def test_cut_stream_is_a_transport_error(mock: MockServer, client: httpx2.AsyncClient) -> None:
    mock.mount("p").fail("cut_stream:after=2")
    received: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        await read_stream(client, chat_url(mock), into=received)
    assert len([line for line in received if line.startswith("data: ")]) == 2


async def test_dropped_connection_is_remote_protocol_error(mock: MockServer, client: httpx2.AsyncClient) -> None:
    mock.mount("p").fail("close")
    with pytest.raises(httpx2.RemoteProtocolError):
        await client.post(chat_url(mock), json=BODY)


async def test_connection_is_reused_and_abandoned_streams_do_not_leak(mock: MockServer) -> None:
    transport = AiohttpTransport(limits=httpx2.Limits(max_connections=1))
    async with httpx2.AsyncClient(transport=transport) as c:
        async with c.stream("POST", chat_url(mock), json={**BODY, "stream": True}) as response:
            async for _ in response.aiter_bytes():
                break  # leave the body unread: the connection must be closed, not pooled
        for _ in range(3):  # with one connection allowed, a leaked one would block here
            response = await asyncio.wait_for(c.post(chat_url(mock), json=BODY), 2.0)
            assert response.json()["object"] == "chat.completion"


# the first loop's sockets can only be reclaimed by the GC (asyncio warns as it does so)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_one_transport_across_event_loops(mock: MockServer) -> None:
    transport = AiohttpTransport()

    async def call() -> int:
        client = httpx2.AsyncClient(transport=transport)
        response = await client.post(chat_url(mock), json=BODY)
        return response.status_code

    assert asyncio.run(call()) == 200
    assert asyncio.run(call()) == 200  # httpx2's own pool fails here: "Event loop is closed"
    asyncio.run(transport.aclose())
    gc.collect()


@pytest.mark.parametrize(("error", "expected"), [
    (aiohttp.ConnectionTimeoutError("t"), httpx2.ConnectTimeout),
    (aiohttp.SocketTimeoutError("t"), httpx2.ReadTimeout),
    (aiohttp.ServerDisconnectedError(), httpx2.RemoteProtocolError),
    (aiohttp.ClientPayloadError("cut"), httpx2.RemoteProtocolError),
    (aiohttp.ClientOSError(104, "reset"), httpx2.ReadError),
    (aiohttp.InvalidURL("nope"), httpx2.UnsupportedProtocol),
    (asyncio.TimeoutError(), httpx2.ReadTimeout),  # noqa: UP041  # not builtin on 3.10
])
def test_error_table(error: Exception, expected: type[Exception]) -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/x")
    mapped = _mapped(error, request)
    assert type(mapped) is expected
    assert mapped is not None and mapped.request is request


# -- through the public client ------------------------------------------------------------------
# llmswitch loads modules lazily; compiling one for the first time deep inside an async test trips
# CPython 3.11.7's "AST constructor recursion depth mismatch" under pytest's assertion rewriting
# (which the llmswitch pytest plugin enables for the whole package), so load them up front.
llmswitch.AsyncOpenAI(api_key="sk-warm", base_url="http://127.0.0.1:9/v1")

@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    """The caller's http_client: llmswitch (like openai) leaves closing it to the caller."""
    async with httpx2.AsyncClient(transport=AiohttpTransport()) as c:
        yield c


async def test_llmswitch_plain_and_stream(mock: MockServer, http: httpx2.AsyncClient) -> None:
    client = llmswitch.AsyncOpenAI(api_key="sk-test", base_url=mock.base_url("p"), http_client=http)
    completion = await client.chat.completions.create(**BODY)
    assert completion.choices[0].message.content == "[p:m] one two three four five"
    stream = await client.chat.completions.create(**BODY, stream=True)
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert "".join(p or "" for p in pieces) == "[p:m] one two three four five"
    assert mock.mount("p").requests[-1].headers["authorization"] == "Bearer sk-test"


async def test_llmswitch_sees_its_own_error_classes(mock: MockServer, http: httpx2.AsyncClient) -> None:
    client = llmswitch.AsyncOpenAI(api_key="sk-test", base_url=mock.base_url("p"), max_retries=0, http_client=http)
    mock.mount("p").fail("429:retry-after=0")
    with pytest.raises(llmswitch.RateLimitError):
        await client.chat.completions.create(**BODY)
    mock.mount("p").fail("cut_stream:after=3")
    stream = await client.chat.completions.create(**BODY, stream=True)
    with pytest.raises(llmswitch.StreamInterruptedError):
        async for _ in stream:
            pass
    refused = llmswitch.AsyncOpenAI(api_key="sk-test", base_url=f"http://127.0.0.1:{free_port()}/v1",
                                    max_retries=0, http_client=http)
    with pytest.raises(llmswitch.APIConnectionError):
        await refused.chat.completions.create(**BODY)
