"""Text assertions: equals, contains and its kin, regex, starts-with."""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import Field, field_validator

from .base import Context, Grade, Kind, Options, Output, verdict

__all__ = ["KINDS"]


def _show(text: str, limit: int = 80) -> str:
    text = text.replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class Value(Options):
    value: str


class Values(Options):
    value: list[str] = Field(min_length=1)
    ignore_case: bool = False

    def templates(self) -> list[str]:
        return list(self.value)


class Pattern(Options):
    value: str
    ignore_case: bool = False

    @field_validator("value")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from None
        return value

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.value, re.IGNORECASE if self.ignore_case else 0)


def _equals(opts: Value, out: Output, ctx: Context) -> Grade:
    ok = out.text.strip() == opts.value.strip()
    return verdict(ok, f"output {'equals' if ok else 'is'} {_show(out.text)}" + ("" if ok else
                   f", expected {_show(opts.value)}"))


def _contains(opts: Value, out: Output, ctx: Context) -> Grade:
    ok = opts.value in out.text
    return verdict(ok, f"{_show(opts.value)} {'found' if ok else 'not found'} in {_show(out.text)}")


def _icontains(opts: Value, out: Output, ctx: Context) -> Grade:
    ok = opts.value.casefold() in out.text.casefold()
    return verdict(ok, f"{_show(opts.value)} {'found' if ok else 'not found'} (any case) in {_show(out.text)}")


def _not_contains(opts: Value, out: Output, ctx: Context) -> Grade:
    ok = opts.value not in out.text
    return verdict(ok, f"{_show(opts.value)} {'absent from' if ok else 'found in'} {_show(out.text)}")


def _found(opts: Values, text: str) -> list[str]:
    if opts.ignore_case:
        folded = text.casefold()
        return [v for v in opts.value if v.casefold() in folded]
    return [v for v in opts.value if v in text]


def _contains_any(opts: Values, out: Output, ctx: Context) -> Grade:
    found = _found(opts, out.text)
    return verdict(bool(found), f"found {found}" if found else f"none of {opts.value} in {_show(out.text)}")


def _contains_all(opts: Values, out: Output, ctx: Context) -> Grade:
    found = _found(opts, out.text)
    missing = [v for v in opts.value if v not in found]
    return Grade(not missing, len(found) / len(opts.value),
                 f"all of {opts.value} found" if not missing else f"missing {missing} in {_show(out.text)}")


def _regex(opts: Pattern, out: Output, ctx: Context) -> Grade:
    match = opts.compiled.search(out.text)
    return verdict(match is not None, f"/{opts.value}/ matched {match.group(0)!r}" if match
                   else f"/{opts.value}/ did not match {_show(out.text)}")


def _starts_with(opts: Value, out: Output, ctx: Context) -> Grade:
    ok = out.text.lstrip().startswith(opts.value)
    return verdict(ok, f"output {'starts' if ok else 'does not start'} with {_show(opts.value)}: {_show(out.text)}")


KINDS = [
    Kind("equals", Value, _equals),
    Kind("contains", Value, _contains),
    Kind("icontains", Value, _icontains),
    Kind("not-contains", Value, _not_contains),
    Kind("contains-any", Values, _contains_any),
    Kind("contains-all", Values, _contains_all),
    Kind("regex", Pattern, _regex),
    Kind("starts-with", Value, _starts_with),
]
