"""Credentials that never print, and the one redaction function every output path uses.

A :class:`Secret` shows a mask in repr/str; only ``get()`` returns the value. :func:`redact`
masks known secrets in text in every form a library may print them: raw, repr-escaped
(a key with a CR/LF shows up as ``\\r\\n``), JSON-escaped, URL-escaped, inside a Basic auth
header, and the password of any ``scheme://user:password@host`` URL, known or not.
:class:`UserinfoFilter` applies the URL rule to third-party loggers (httpx2, httpcore2, aiohttp).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["MASK", "LiveSecret", "Secret", "UserinfoFilter", "install_log_filters", "redact", "redactor"]

MASK = "**********"
_SHORT = 8  # a secret shorter than this is masked only where it stands alone (not inside a word)
_MIN = 3  # shorter values mask nothing useful and everything else
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/@:]*):([^\s/@]*)@")


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


class LiveSecret(Secret):
    """A credential that changes between requests (openai's callable ``api_key``): the client
    stores each fresh value with :meth:`set` before the request is built."""

    __slots__ = ()

    def set(self, value: str) -> None:
        self._value = value

    def __bool__(self) -> bool:
        return True


def _forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` a message, repr or log line may carry (URL forms: _escaped)."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], secret.encode("unicode_escape").decode("ascii")}
    for line in re.split(r"[\r\n]+", secret):  # a key split by a CR/LF prints as two pieces
        if len(line) >= _SHORT:
            forms.add(line)
    return {f for f in forms if len(f) >= _MIN}


def _escaped(form: str) -> str:
    """A pattern for ``form`` where any character may also be percent-encoded (in either case)."""
    out = []
    for ch in form:
        encoded = "".join(f"%{b:02X}" for b in ch.encode())
        plus = "|\\+" if ch == " " else ""
        out.append(f"(?:{re.escape(ch)}|(?i:{re.escape(encoded)}){plus})")
    return "".join(out)


class _Redactor:
    """Masks a set of secrets: literal forms by plain replacement (cheap: errors are scrubbed on
    every failed attempt), percent-encoded ones by one pattern run only where a ``%`` is, and
    short secrets only where they stand alone."""

    __slots__ = ("_encoded", "_literals", "_short")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= _MIN:
                forms |= _forms(secret)
            if ":" in secret and len(secret) >= _MIN:  # user:password, as in a Basic auth header
                forms.add(base64.b64encode(secret.encode()).decode())
        ordered = sorted(forms, key=len, reverse=True)  # longest first, so none is half-masked
        self._literals = [f for f in ordered if len(f) >= _SHORT]
        self._encoded = _compiled(_escaped(f) for f in self._literals)
        self._short = _compiled(rf"(?<![A-Za-z0-9_\-]){_escaped(f)}(?![A-Za-z0-9_\-])"
                                for f in ordered if len(f) < _SHORT)

    def __call__(self, text: str) -> str:
        for form in self._literals:
            if form in text:
                text = text.replace(form, MASK)
        if self._encoded is not None and "%" in text:
            text = self._encoded.sub(MASK, text)
        if self._short is not None:
            text = self._short.sub(MASK, text)
        return _USERINFO.sub(_mask_userinfo, text) if "@" in text else text


def _compiled(patterns: Iterable[str]) -> re.Pattern[str] | None:
    joined = "|".join(patterns)
    return re.compile(joined) if joined else None


def _mask_userinfo(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}:{MASK}@"


@lru_cache(maxsize=64)
def _cached(secrets: tuple[str, ...]) -> _Redactor:
    return _Redactor(secrets)


def redactor(secrets: Iterable[str | Secret]) -> _Redactor:
    """A reusable redaction function for these secrets (compiled once per set)."""
    values = tuple(sorted({s.get() if isinstance(s, Secret) else s for s in secrets}))
    return _cached(values)


def redact(text: str, secrets: Iterable[str | Secret] = ()) -> str:
    """``text`` with every form of every secret, and every URL password, masked."""
    return redactor(secrets)(text)


class UserinfoFilter(logging.Filter):
    """Masks URL passwords in records of loggers we do not own (httpx2 logs every request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str) and "@" in record.msg:
            record.msg = _USERINFO.sub(_mask_userinfo, record.msg)
        return True


_FILTER = UserinfoFilter()
_LOGGERS = ("httpx2", "httpx", *(f"{core}.{part}" for core in ("httpcore2", "httpcore")
                                  for part in ("connection", "http11", "http2", "proxy", "socks")),
            "aiohttp.client", "aiohttp.internal")  # a logger's filters do not see its children's records


def install_log_filters() -> None:
    """Attach the URL filter to third-party HTTP loggers (idempotent; called when a client is made)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
