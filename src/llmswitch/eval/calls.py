"""Upstream calls through the public client, each looked up in the cache first and measured.

A cell's call streams (so time to first token is what a user of the client sees, failover and
retries included); the judge's and the embeddings' calls do not. All three share one cache and one
count of calls and spend.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .assertions import Output
from .cache import Cache, request_key

if TYPE_CHECKING:
    from ..client import AsyncOpenAI
    from ..config import Settings

__all__ = ["Caller", "fingerprint", "reachable"]


def reachable(settings: Settings, name: str) -> list[str]:
    """Every ``provider/model`` a route (or a provider/model itself) can reach, nested routes flattened."""
    routes = settings.config.routes
    if name not in routes:  # the providers file has no route cycles (checked when it was loaded)
        return [name]
    return list(dict.fromkeys(leaf for spec in routes[name].targets for leaf in reachable(settings, spec.target)))


def fingerprint(settings: Settings, model: str) -> list[str]:
    """What a name resolves to (provider types and base URLs), so editing the providers file misses the cache."""
    found = []
    for name in reachable(settings, model):
        provider = settings.providers.get(name.partition("/")[0])
        if provider is not None:
            found.append(f"{name}@{provider.preset.name}:{provider.base_url}")
    return sorted(found)


class Caller:
    """Sends requests (or answers them from the cache) and keeps the tally the progress bar shows."""

    def __init__(self, client: AsyncOpenAI, settings: Settings, cache: Cache, secrets: Sequence[str] = ()) -> None:
        self.client, self.settings, self.cache, self.secrets = client, settings, cache, list(secrets)
        self.calls = 0
        self.spent_usd = 0.0
        self._prints: dict[str, list[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one judge/embedding call per key at a time

    def key(self, kind: str, model: str, request: dict[str, Any], repeat: int = 0) -> str:
        """The cache key ('' when the cache is off: nothing would use it)."""
        if not self.cache.enabled:
            return ""
        prints = self._prints.get(model)
        if prints is None:
            prints = self._prints[model] = fingerprint(self.settings, model)
        return request_key({"kind": kind, "model": model, "resolves": prints, "request": request, "repeat": repeat})

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text

    def _charge(self, info: Any) -> None:
        self.calls += 1
        if info is not None and info.cost_usd is not None:
            self.spent_usd += info.cost_usd

    def cached(self, key: str) -> Output | None:
        stored = self.cache.get(key)
        if stored is None:
            return None
        output = Output.from_dict(stored)
        output.cached = True
        return output

    async def chat(self, model: str, messages: list[dict[str, Any]], params: dict[str, Any], key: str) -> Output:
        """One streamed chat call, stored under ``key``; a failure becomes an Output with the error (not stored)."""
        from ..client import route_info

        clock = time.perf_counter
        start = clock()
        first: float | None = None
        text: list[str] = []
        tools: dict[int, dict[str, Any]] = {}
        usage: Any = None
        finish: str | None = None
        try:
            # messages and params come from the eval file (params checked against spec.PARAMS), so they are
            # plain dicts rather than openai's TypedDicts
            stream = await self.client.chat.completions.create(  # type: ignore[call-overload]
                model=model, messages=messages, stream=True, stream_options={"include_usage": True}, **params)
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        first = first or clock()
                        text.append(delta.content)
                    for call in delta.tool_calls or ():
                        first = first or clock()
                        slot = tools.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                        slot["id"] = call.id or slot["id"]
                        if call.function is not None:
                            slot["name"] += call.function.name or ""
                            slot["arguments"] += call.function.arguments or ""
                    finish = choice.finish_reason or finish
        except Exception as exc:  # a failed call is a graded outcome, never a crash of the run
            info = getattr(exc, "route_info", None)
            self._charge(info)
            return Output(text="".join(text), latency=clock() - start, provider=getattr(exc, "provider", None),
                          model=getattr(exc, "model", None), error_type=type(exc).__name__,
                          error=self._scrub(str(exc).strip()))
        end = clock()
        info = route_info(stream)
        self._charge(info)
        output = Output(
            text="".join(text), tool_calls=[tools[i] for i in sorted(tools)], finish_reason=finish,
            latency=end - start, ttft=(first - start) if first is not None else None,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            cost_usd=info.cost_usd if info else None, cost_cny=info.cost_cny if info else None,
            provider=info.provider if info else None, model=info.model if info else None,
        )
        self.cache.put(key, output.as_dict())
        return output

    async def _once(self, key: str, send: Any) -> dict[str, Any]:
        if not self.cache.enabled:
            result: dict[str, Any] = await send()
            return result
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # the same judge question from two cells is asked once
            stored = self.cache.get(key)
            if stored is not None:
                return stored
            value: dict[str, Any] = await send()
            self.cache.put(key, value)
            return value

    async def judge(self, route: str, messages: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
        """The judge's verdict as structured output, checked against ``schema``."""
        response_format = {"type": "json_schema", "json_schema": {"name": "grade", "schema": schema, "strict": True}}
        request = {"messages": messages, "response_format": response_format, "temperature": 0}

        async def send() -> dict[str, Any]:
            from ..client import route_info

            response = await self.client.chat.completions.create(model=route, **request)  # type: ignore[call-overload]
            self._charge(route_info(response))
            return {"content": response.choices[0].message.content or ""}

        content = (await self._once(self.key("judge", route, request), send))["content"]
        try:
            verdict = json.loads(content)
        except ValueError:
            raise ValueError(f"the judge's reply is not JSON: {content[:200]!r}") from None
        from jsonschema import validators

        problems = [e.message for e in validators.validator_for(schema)(schema).iter_errors(verdict)]
        if problems:
            raise ValueError(f"the judge's reply does not fit the grading schema: {problems[0]}")
        return dict(verdict)

    async def embed(self, route: str, texts: list[str]) -> list[list[float]]:
        async def send() -> dict[str, Any]:
            from ..client import route_info

            response = await self.client.embeddings.create(model=route, input=texts)
            self._charge(route_info(response))
            return {"vectors": [list(item.embedding) for item in response.data]}

        vectors: list[list[float]] = (await self._once(self.key("embed", route, {"input": texts}), send))["vectors"]
        return vectors
