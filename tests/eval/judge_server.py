"""A loopback OpenAI-protocol judge, scripted to grade: the smallest addition the mock providers lack.

The mock providers answer deterministically (an echo, or a fixed instance of the schema asked for);
a judge must answer with a verdict that depends on what it is asked. This one reads the rubric
("must mention 'WORD'") and the answer from the request, and replies with ``{"pass", "score",
"reason"}`` as structured output, the way a real judge model would be asked to; a rubric saying
"off-schema" gets a reply that ignores the schema. It records every request body.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verdict_for(body: dict[str, Any]) -> dict[str, Any]:
    prompt = body["messages"][-1]["content"]
    rubric = re.search(r"Rubric:\n(.*?)\n\nQuestion:", prompt, re.DOTALL)
    if rubric and "off-schema" in rubric.group(1):  # a judge that ignores the grading schema
        return {"verdict": "looks fine to me"}
    answer = prompt.rpartition("Answer:\n")[2]
    word = re.search(r"must mention '([^']+)'", rubric.group(1) if rubric else "")
    if word is None:
        return {"pass": False, "score": 0.0, "reason": "the rubric names nothing to check"}
    found = word.group(1) in answer
    return {"pass": found, "score": 0.9 if found else 0.1,
            "reason": f"the answer {'mentions' if found else 'does not mention'} {word.group(1)!r}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: JudgeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        self.server.requests.append(body)
        if not self.path.endswith("/chat/completions") or body.get("stream"):
            self._send(400, {"error": {"message": "the judge answers non-streamed chat only", "type": "bad"}})
            return
        content = json.dumps(verdict_for(body))
        self._send(200, {
            "id": "chatcmpl-judge", "object": "chat.completion", "created": 1700000000, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
        })

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def judge_server() -> Iterator[JudgeServer]:
    server = JudgeServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
