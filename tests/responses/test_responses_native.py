"""Targets that serve OpenAI's Responses API themselves: passed through, with failover to bridged
targets, built-in tools routed to them alone, and stored conversations expanded for them. The
native vendor is a small loopback server speaking ``/v1/responses``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

import llmswitch
from llmswitch.testing import MockServer

ANSWER = {"type": "message", "id": "msg_v", "role": "assistant", "status": "completed",
          "content": [{"type": "output_text", "text": "native answer", "annotations": []}]}


def vendor_response(body: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"resp_vendor_{len(str(body))}", "object": "response", "created_at": 1, "model": body["model"],
            "status": "completed", "output": [ANSWER],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": 2, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                      "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 4}}


class Vendor:
    """A loopback Responses API: records request bodies; fails with 500 while ``failures`` > 0."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures = 0
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                vendor.bodies.append(body)
                vendor.headers.append(dict(self.headers))
                if self.path != "/v1/responses" or vendor.failures:
                    vendor.failures = max(vendor.failures - 1, 0)
                    return self._send(500, "application/json", b'{"error":{"message":"boom","type":"server_error"}}')
                response = vendor_response(body)
                if not body.get("stream"):
                    return self._send(200, "application/json", json.dumps(response).encode())
                events = [{"type": "response.created", "sequence_number": 0,
                           "response": {**response, "status": "in_progress", "output": []}},
                          {"type": "response.completed", "sequence_number": 1, "response": response}]
                data = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
                return self._send(200, "text/event-stream", data)

            def _send(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    v = Vendor()
    v.thread.start()
    yield v
    v.server.shutdown()
    v.server.server_close()
    v.thread.join()


@pytest.fixture
def client(vendor: Vendor) -> Iterator[llmswitch.OpenAI]:
    with MockServer({"ds": "openai"}) as server:
        config = {
            "providers": {
                "native": {"type": "openai", "base_url": vendor.base_url, "api_key": "sk-native", "responses": True},
                "deepseek": {"type": "deepseek", "base_url": server.base_url("ds"), "api_key": "sk-ds"},
            },
            "routes": {"native_first": {"targets": ["native/gpt-4o", "deepseek/deepseek-chat"],
                                        "retry": {"max_attempts": 1}},
                       "bridged_first": {"targets": ["deepseek/deepseek-chat", "native/gpt-4o"]}},
        }
        with llmswitch.OpenAI(config=config) as c:
            yield c


def test_native_target_gets_the_body_untouched(client: llmswitch.OpenAI, vendor: Vendor) -> None:
    response = client.responses.create(model="native_first", input="hi", metadata={"k": "v"},
                                       text={"verbosity": "low"})
    assert response.id.startswith("resp_vendor_")
    assert response.output_text == "native answer"
    assert vendor.bodies[-1] == {"model": "gpt-4o", "input": "hi", "metadata": {"k": "v"},
                                 "text": {"verbosity": "low"}}
    assert vendor.headers[-1]["Authorization"] == "Bearer sk-native"
    assert llmswitch.route_info(response).provider == "native"


def test_native_failure_falls_back_to_the_bridge(client: llmswitch.OpenAI, vendor: Vendor) -> None:
    vendor.failures = 1
    response = client.responses.create(model="native_first", input="hello")
    assert response.output_text == "[ds:deepseek-chat] hello"
    info = llmswitch.route_info(response)
    assert [(a.target, a.kind) for a in info.attempts] == [("native/gpt-4o", "server_error"),
                                                           ("deepseek/deepseek-chat", None)]


def test_builtin_tools_go_to_native_targets_only(client: llmswitch.OpenAI, vendor: Vendor) -> None:
    response = client.responses.create(model="bridged_first", input="news?", tools=[{"type": "web_search"}])
    assert response.output_text == "native answer"
    assert vendor.bodies[-1]["tools"] == [{"type": "web_search"}]
    attempts = llmswitch.route_info(response).attempts
    assert attempts[0].target == "deepseek/deepseek-chat"
    assert "skipped" in (attempts[0].kind or "") and "web_search" in (attempts[0].kind or "")


def test_a_stored_conversation_is_expanded_for_a_native_target(client: llmswitch.OpenAI, vendor: Vendor) -> None:
    first = client.responses.create(model="deepseek/deepseek-chat", input="remember me", instructions="brief")
    client.responses.create(model="native/gpt-4o", input="and now?", previous_response_id=first.id)
    sent = vendor.bodies[-1]
    assert "previous_response_id" not in sent
    assert [item.get("role") for item in sent["input"]] == ["user", "assistant", "user"]
    assert sent["input"][1]["content"][0]["text"] == "[ds:deepseek-chat] remember me"


def test_all_native_stream_is_passed_through(client: llmswitch.OpenAI, vendor: Vendor) -> None:
    events = list(client.responses.create(model="native/gpt-4o", input="stream it", stream=True))
    assert [e.type for e in events] == ["response.created", "response.completed"]
    assert vendor.bodies[-1]["stream"] is True
    with pytest.raises(openai.BadRequestError, match="'file_search'"):
        client.responses.create(model="deepseek/deepseek-chat", input="x", tools=[
            {"type": "file_search", "vector_store_ids": ["vs_1"]}])
