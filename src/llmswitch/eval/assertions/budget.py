"""Budget assertions: latency, time to first token, cost and tokens, each at most a threshold."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Context, Grade, Kind, Options, Output, verdict

__all__ = ["KINDS"]


class Seconds(Options):
    threshold: float = Field(gt=0)


class Cost(Options):
    threshold: float = Field(ge=0)
    currency: Literal["USD", "CNY"] = "USD"


class Tokens(Options):
    threshold: int = Field(ge=0)
    count: Literal["total", "completion", "prompt"] = "total"


def _at_most(what: str, value: float | None, limit: float, unit: str) -> Grade:
    if value is None:
        return verdict(False, f"{what} unknown (the provider did not report it)")
    ok = value <= limit
    return verdict(ok, f"{what} {value:.4g}{unit} {'≤' if ok else '>'} {limit:g}{unit}")


def _latency(opts: Seconds, out: Output, ctx: Context) -> Grade:
    return _at_most("latency", out.latency, opts.threshold, " s")


def _ttft(opts: Seconds, out: Output, ctx: Context) -> Grade:
    return _at_most("time to first token", out.ttft, opts.threshold, " s")


def _cost(opts: Cost, out: Output, ctx: Context) -> Grade:
    value = out.cost_usd if opts.currency == "USD" else out.cost_cny
    return _at_most("cost", value, opts.threshold, f" {opts.currency}")


def _tokens(opts: Tokens, out: Output, ctx: Context) -> Grade:
    value = {"total": out.total_tokens, "completion": out.completion_tokens, "prompt": out.prompt_tokens}[opts.count]
    return _at_most(f"{opts.count} tokens", value, opts.threshold, "")


KINDS = [
    Kind("latency", Seconds, _latency),
    Kind("ttft", Seconds, _ttft),
    Kind("cost", Cost, _cost),
    Kind("tokens", Tokens, _tokens),
]
