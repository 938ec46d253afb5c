"""openai's whole client surface on llmswitch's client, side by side with openai's own.

llmswitch.OpenAI subclasses openai.OpenAI and routes underneath, in a transport: every attribute,
wrapper and helper openai documents must exist and give what openai's gives on the same endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
import respx
from pydantic import BaseModel

import llmswitch
from llmswitch.testing import MockServer
from llmswitch.testing.respx_bridge import RespxTransport

KEY = "sk-test-0123456789"
MESSAGES = [{"role": "user", "content": "hello there friend"}]


class Echo(BaseModel):
    """The shape the OpenAI mock answers JSON-mode requests with."""

    model: str
    echo: str


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai", "claude": "anthropic"}) as srv:
        yield srv


_OPEN: list[Any] = []  # clients a test made; closed after it (unclosed sockets fail the suite)


@pytest.fixture(autouse=True)
async def _fresh(mock: MockServer) -> Any:
    for mount in mock.app.mounts.values():
        mount.requests.clear()
        mount.script.clear()
    yield
    while _OPEN:
        client = _OPEN.pop()
        if isinstance(client, (openai.AsyncOpenAI, httpx2.AsyncClient)):
            await client.close() if isinstance(client, openai.AsyncOpenAI) else await client.aclose()
        else:
            client.close()


def opened(client: Any) -> Any:
    _OPEN.append(client)
    return client


def pair(mock: MockServer, **kw: Any) -> list[Any]:
    return [opened(cls(api_key=KEY, base_url=mock.base_url("primary"), **kw))
            for cls in (openai.OpenAI, llmswitch.OpenAI)]


def routed(mock: MockServer, **extra: Any) -> llmswitch.OpenAI:
    config = {
        "providers": {
            "primary": {"type": "openai", "base_url": mock.base_url("primary"), "api_key": "sk-primary-key-123"},
            "backup": {"type": "openai", "base_url": mock.base_url("backup"), "api_key": "sk-backup-key-456"},
        },
        "routes": {"chat": {"targets": ["primary/gpt-4o", "backup/gpt-4o"],
                            "retry": {"max_attempts": 1}}},
        **extra,
    }
    client: llmswitch.OpenAI = opened(llmswitch.OpenAI(config=config))
    return client


def auth_of(mock: MockServer, mount: str) -> str:
    return str(mock.mount(mount).requests[-1].headers["authorization"])


# -- identity and attributes ---------------------------------------------------------------------

def test_is_an_openai_client(mock: MockServer) -> None:
    theirs, ours = pair(mock, organization="org-1", timeout=12.0, max_retries=4)
    assert isinstance(ours, openai.OpenAI)
    assert isinstance(llmswitch.AsyncOpenAI(api_key=KEY), openai.AsyncOpenAI)
    for name in ("base_url", "api_key", "organization", "max_retries", "timeout"):
        assert getattr(ours, name) == getattr(theirs, name), name
    public = {n for n in dir(theirs) if not n.startswith("_")}
    assert public <= set(dir(ours))
    for resource in ("beta", "responses", "moderations", "images", "files", "audio", "batches", "models"):
        assert type(getattr(ours, resource)) is type(getattr(theirs, resource))


def test_default_timeout_and_retries_like_openai(mock: MockServer) -> None:
    theirs, ours = pair(mock)
    assert (ours.timeout, ours.max_retries) == (theirs.timeout, theirs.max_retries)


def test_typos_raise_type_error_like_openai(mock: MockServer) -> None:
    for cls in (openai.OpenAI, llmswitch.OpenAI):
        with pytest.raises(TypeError):
            cls(api_key=KEY, max_retires=5)
    for client in pair(mock):
        with pytest.raises(TypeError, match="temprature"):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temprature=0.2)
        with pytest.raises(TypeError):
            client.chat.completions.create(model="gpt-4o")  # messages missing
        with pytest.raises(TypeError):
            client.embeddings.create(model="e", input="x", dimension=3)
    assert mock.mount("primary").requests == []


# -- copy / with_options --------------------------------------------------------------------------

def test_with_options_new_key_and_url_reach_the_new_endpoint(mock: MockServer) -> None:
    client = opened(llmswitch.OpenAI(api_key="sk-one-111111", base_url=mock.base_url("primary")))
    other = client.with_options(api_key="sk-two-222222", base_url=mock.base_url("backup"))
    other.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert auth_of(mock, "backup") == "Bearer sk-two-222222"
    assert mock.mount("primary").requests == []
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert auth_of(mock, "primary") == "Bearer sk-one-111111"
    assert other.base_url == httpx2.URL(mock.base_url("backup") + "/")


async def test_async_with_options_new_key_and_url(mock: MockServer) -> None:
    client = opened(llmswitch.AsyncOpenAI(api_key="sk-one-111111", base_url=mock.base_url("primary")))
    other = client.copy(api_key="sk-two-222222", base_url=mock.base_url("backup"))
    await other.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert auth_of(mock, "backup") == "Bearer sk-two-222222"
    raw = await other.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "[backup:gpt-4o] hello there friend"
    assert auth_of(mock, "backup") == "Bearer sk-two-222222"
    await client.close()


def test_with_options_limits_share_routing_state(mock: MockServer) -> None:
    client = routed(mock)
    faster = client.with_options(timeout=5, max_retries=0)
    assert faster.router is client.router
    assert (faster.timeout, faster.max_retries) == (5, 0)
    other = client.with_options(config={"providers": {"p": {"type": "openai", "base_url": mock.base_url("backup"),
                                                            "api_key": "sk-p-999999"}}})
    assert other.router is not client.router
    other.chat.completions.create(model="p/gpt-4o", messages=MESSAGES)
    assert auth_of(mock, "backup") == "Bearer sk-p-999999"


def test_config_client_copies_keep_the_file(mock: MockServer) -> None:
    client = routed(mock).with_options(timeout=30)
    result = client.chat.completions.create(model="chat", messages=MESSAGES)
    assert llmswitch.route_info(result).provider == "primary"  # type: ignore[union-attr]


def test_callable_api_key_is_called_for_each_request(mock: MockServer) -> None:
    keys = iter(["sk-first-111111", "sk-second-22222", "sk-third-333333"])
    client = opened(llmswitch.OpenAI(api_key=lambda: next(keys), base_url=mock.base_url("primary")))
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert auth_of(mock, "primary") == "Bearer sk-first-111111"
    client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert auth_of(mock, "primary") == "Bearer sk-second-22222"
    client.embeddings.create(model="e", input="x")
    assert auth_of(mock, "primary") == "Bearer sk-third-333333"


# -- openai's wrappers and helpers ---------------------------------------------------------------------

def test_with_raw_response(mock: MockServer) -> None:
    results = []
    for client in pair(mock):
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("application/json")
        results.append(raw.parse())
    theirs, ours = results
    assert type(ours) is type(theirs)
    assert ours.choices[0].message.content == theirs.choices[0].message.content
    assert llmswitch.route_info(ours) is not None


def test_raw_response_carries_route_headers(mock: MockServer) -> None:
    client = routed(mock)
    mock.mount("primary").fail("500")
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES)
    assert raw.headers["x-llmswitch-provider"] == "backup"
    assert raw.headers["x-llmswitch-route"] == "chat"
    info = llmswitch.route_info(raw)
    assert info is not None and info.fallbacks == 1
    assert raw.parse().choices[0].message.content == "[backup:gpt-4o] hello there friend"


def test_with_streaming_response(mock: MockServer) -> None:
    texts = []
    for client in pair(mock):
        with client.chat.completions.with_streaming_response.create(
                model="gpt-4o", messages=MESSAGES, stream=True) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            chunks = [json.loads(line[6:]) for line in response.iter_lines()
                      if line.startswith("data: ") and line != "data: [DONE]"]
        texts.append("".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]))
    assert texts[0] == texts[1] == "[primary:gpt-4o] hello there friend"


def test_parse_structured_output(mock: MockServer) -> None:
    results = [client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Echo)
               for client in pair(mock)]
    theirs, ours = (r.choices[0].message.parsed for r in results)
    assert isinstance(ours, Echo)
    assert ours == theirs == Echo(model="mock model", echo="mock echo")  # the mock's instance of the schema


def test_stream_helper(mock: MockServer) -> None:
    finals = []
    for client in pair(mock):
        with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
            kinds = {event.type for event in stream}
            finals.append(stream.get_final_completion().choices[0].message.content)
        assert {"chunk", "content.delta", "content.done"} <= kinds
    assert finals[0] == finals[1] == "[primary:gpt-4o] hello there friend"


def test_direct_streams_are_openai_streams(mock: MockServer) -> None:
    ours = pair(mock)[1]
    stream = ours.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    with stream:
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


async def test_async_direct_streams_are_openai_streams(mock: MockServer) -> None:
    client = opened(llmswitch.AsyncOpenAI(api_key=KEY, base_url=mock.base_url("primary")))
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "[primary:gpt-4o] hello there friend"
    parsed = await client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Echo)
    assert parsed.choices[0].message.parsed == Echo(model="mock model", echo="mock echo")
    await client.close()


# -- models -------------------------------------------------------------------------------------

def test_models_without_config_ask_the_endpoint(mock: MockServer) -> None:
    theirs, ours = ([m.id for m in client.models.list()] for client in pair(mock))
    assert ours == theirs == ["mock-large", "mock-small", "mock-embed"]
    model = pair(mock)[1].models.retrieve("mock-small")
    assert model.id == "mock-small"
    for client in pair(mock):
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("nope")


def test_models_with_config_list_routes_and_models(mock: MockServer) -> None:
    client = routed(mock)
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "chat"
    assert client.models.retrieve("chat").owned_by == "llmswitch"
    with pytest.raises(openai.NotFoundError, match="neither a route"):
        client.models.retrieve("missing")
    assert mock.mount("primary").requests == []


# -- pass-through and refused endpoints ------------------------------------------------------------

def test_passthrough_without_config_goes_to_the_endpoint(mock: MockServer) -> None:
    for client in pair(mock):
        with pytest.raises(openai.NotFoundError):  # the mock serves no moderations: same answer, same class
            client.moderations.create(input="hello")
    sent = mock.mount("primary").requests
    assert [r.path for r in sent] == ["/v1/moderations", "/v1/moderations"]
    assert sent[0].body == sent[1].body
    assert sent[1].headers["authorization"] == f"Bearer {KEY}"


def test_passthrough_with_config_uses_the_named_provider_and_its_key(mock: MockServer) -> None:
    client = routed(mock, passthrough="backup")
    with pytest.raises(openai.NotFoundError):
        client.files.list()
    request = mock.mount("backup").requests[-1]
    assert request.path == "/v1/files"
    assert request.headers["authorization"] == "Bearer sk-backup-key-456"


def test_refused_without_an_openai_protocol_provider(mock: MockServer) -> None:
    client = opened(llmswitch.OpenAI(config={"providers": {"claude": {
        "type": "anthropic", "base_url": mock.base_url("claude"), "api_key": "sk-ant-000000"}}}))
    with pytest.raises(openai.NotFoundError, match=r"/images/generations .*passthrough"):
        client.images.generate(prompt="a cat")
    assert mock.mount("claude").requests == []


# -- guarantees through the transport path --------------------------------------------------------------

def test_failover_and_errors_through_the_transport(mock: MockServer) -> None:
    client = routed(mock)
    mock.mount("primary").fail("429", "429")
    mock.mount("backup").fail("503")
    with pytest.raises(llmswitch.AllTargetsFailedError) as caught:
        client.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES)
    assert [a.kind for a in caught.value.attempts] == ["rate_limit", "server_error"]
    text = str(caught.value) + repr(caught.value.attempts)
    assert "sk-primary-key-123" not in text and "sk-backup-key-456" not in text
    one = opened(llmswitch.OpenAI(api_key=KEY, base_url=mock.base_url("primary"), max_retries=0))
    mock.mount("primary").fail("429")
    with pytest.raises(openai.RateLimitError):
        one.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert len(mock.mount("primary").requests) == 2  # no retry stacked by openai's loop


def test_stream_commit_point_through_the_transport(mock: MockServer) -> None:
    client = routed(mock)
    mock.mount("primary").fail("cut_stream:after=0")  # before the first token: falls back silently
    with client.chat.completions.stream(model="chat", messages=MESSAGES) as stream:
        assert stream.get_final_completion().choices[0].message.content == "[backup:gpt-4o] hello there friend"
    mock.mount("primary").fail("cut_stream:after=3")  # after it: an interruption with the partial text
    with pytest.raises(llmswitch.StreamInterruptedError) as caught, \
            client.chat.completions.stream(model="chat", messages=MESSAGES) as stream:
        for _ in stream:
            pass
    assert caught.value.partial_text.startswith("[primary:gpt-4o]")


def test_timeout_is_honoured_through_the_transport(mock: MockServer) -> None:
    client = opened(llmswitch.OpenAI(api_key=KEY, base_url=mock.base_url("primary"), max_retries=0))
    mock.mount("primary").fail("stall:seconds=2")
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES, timeout=0.3)


# -- respx, for our users ---------------------------------------------------------------------

def test_respx_routes_drive_both_clients() -> None:
    completion = {"id": "c1", "object": "chat.completion", "created": 1, "model": "deepseek-chat",
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": "from respx"}}]}
    router = respx.Router(base_url="https://api.deepseek.com")
    route = router.post("/chat/completions").respond(json=completion)
    for cls in (openai.OpenAI, llmswitch.OpenAI):
        http = httpx2.Client(transport=RespxTransport(router))
        client = cls(api_key="sk-test", base_url="https://api.deepseek.com", http_client=http)
        reply = client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
        assert reply.choices[0].message.content == "from respx"
    assert route.call_count == 2
    assert json.loads(route.calls[1].request.content)["messages"] == MESSAGES


async def test_respx_routes_drive_async_clients() -> None:
    router = respx.Router(base_url="https://api.deepseek.com")
    router.post("/embeddings").respond(json={"object": "list", "model": "e", "data": [
        {"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}]})
    client = opened(llmswitch.AsyncOpenAI(api_key="sk-test", base_url="https://api.deepseek.com",
                                   http_client=httpx2.AsyncClient(transport=RespxTransport(router))))
    result = await client.embeddings.create(model="e", input="x", encoding_format="float")
    assert result.data[0].embedding == [0.5, 0.25]


def test_a_vendor_nan_is_served_as_null_through_the_transport() -> None:
    """JSON has no NaN; a vendor that sends one anyway still gets its answer through, as null."""
    body = (b'{"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0,'
            b' "finish_reason": "stop", "logprobs": {"content": [{"token": "a", "logprob": NaN, "bytes": null,'
            b' "top_logprobs": []}]}, "message": {"role": "assistant", "content": "ok"}}]}')
    router = respx.Router(base_url="https://vendor.example")
    router.post("/v1/chat/completions").respond(content=body, headers={"content-type": "application/json"})
    client = opened(llmswitch.OpenAI(api_key="sk-test", base_url="https://vendor.example/v1",
                                     http_client=httpx2.Client(transport=RespxTransport(router))))
    raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert json.loads(raw.content)["choices"][0]["logprobs"]["content"][0]["logprob"] is None
    assert raw.parse().choices[0].message.content == "ok"
