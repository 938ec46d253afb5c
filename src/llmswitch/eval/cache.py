"""Responses on disk, keyed by the exact request, so a rerun after editing assertions sends nothing.

One small JSON file per request under the platform's user cache directory (platformdirs:
``~/.cache/llmswitch/eval`` on Linux, honouring ``XDG_CACHE_HOME``). Files are written to a
temporary name and renamed, so concurrent runs and a Ctrl-C never leave a half-written entry;
an unreadable entry is a miss. Failed calls are never stored: a rerun tries them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["Cache", "default_dir", "request_key"]

VERSION = 1  # bump when the stored shape changes


def default_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("llmswitch", appauthor=False)) / "eval"


def request_key(request: dict[str, Any]) -> str:
    """A digest of the request's canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps({"v": VERSION, **request}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Cache:
    """``get``/``put`` by key; ``enabled=False`` (``--no-cache``) neither reads nor writes."""

    def __init__(self, directory: Path | None = None, *, enabled: bool = True) -> None:
        self.directory = directory or default_dir()
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        """Is there an entry (without reading or counting it)?"""
        return self.enabled and self._path(key).is_file()

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            data = json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(data, dict):
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: str, value: dict[str, Any]) -> None:
        if not self.enabled:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{id(value)}")
        temporary.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
