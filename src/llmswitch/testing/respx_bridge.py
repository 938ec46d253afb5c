"""respx routes for httpx2: drive openai's or llmswitch's client from tests written with respx.

respx patches ``httpx``; openai ≥ 3 and llmswitch send through ``httpx2``, so respx's mock never
sees their requests. :class:`RespxTransport` is the bridge: an httpx2 transport that hands each
request to a ``respx.Router`` as an ``httpx.Request`` and turns its answer back::

    router = respx.Router(base_url="https://api.deepseek.com")
    router.post("/chat/completions").respond(json=completion)
    http = httpx2.Client(transport=RespxTransport(router))
    client = llmswitch.OpenAI(api_key="sk-test", base_url="https://api.deepseek.com", http_client=http)

Unmatched requests fail as respx's own ``assert_all_mocked`` decides; ``router.calls`` records
every request as usual. Needs ``respx`` installed (it is not a dependency of llmswitch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    import httpx

__all__ = ["RespxTransport"]


class RespxTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An httpx2 transport (sync and async) answered by a ``respx.Router``."""

    def __init__(self, router: Any) -> None:
        self.router = router

    @staticmethod
    def _theirs(request: httpx2.Request, content: bytes) -> httpx.Request:
        import httpx

        return httpx.Request(request.method, str(request.url), headers=request.headers.multi_items(),
                             content=content)

    @staticmethod
    def _ours(answer: httpx.Response, content: bytes, request: httpx2.Request) -> httpx2.Response:
        headers = [(k, v) for k, v in answer.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx2.Response(answer.status_code, headers=headers, content=content, request=request)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        answer = self.router.handler(self._theirs(request, request.read()))
        return self._ours(answer, answer.read(), request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        answer = await self.router.async_handler(self._theirs(request, await request.aread()))
        return self._ours(answer, await answer.aread(), request)
