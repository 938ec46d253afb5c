"""Responses on disk, keyed by the exact request, so a rerun after editing assertions sends nothing.

One SQLite file (stdlib ``sqlite3``) under the platform's user cache directory (platformdirs:
``~/.cache/llmswitch/eval/responses.sqlite3`` on Linux, honouring ``XDG_CACHE_HOME``). SQLite rather
than a file per response: a first version with files spent ~1 ms of CPU a cell creating, writing and
renaming them (+70 % over ``compare``); batched inserts cost tens of microseconds. SQLite's locks also
serialise concurrent runs, and a run stopped half-way never leaves a torn entry. Writes go in batches
(one statement, one commit) and when the run ends, Ctrl-C included. A cache that cannot be read is a
miss, never a failed run. Failed calls are never stored: a rerun tries them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["Cache", "default_dir", "request_key"]

VERSION = 1  # bump when the stored shape changes
FILENAME = "responses.sqlite3"
_BATCH = 64  # puts per commit
log = logging.getLogger("llmswitch.eval")


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
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, str] = {}  # written in batches (one statement, one commit)

    @property
    def path(self) -> Path:
        return self.directory / FILENAME

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and self.enabled:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # no fsync per commit: a power cut may lose the last batch
                db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._db = db
            except (OSError, sqlite3.Error) as exc:
                log.warning("response cache %s unusable, running without it: %s", self.path, exc)
                self.enabled = False
        return self._db

    def has(self, key: str) -> bool:
        """Is there an entry (without counting a hit)?"""
        db = self._connect()
        if db is None:
            return False
        if key in self._pending:
            return True
        try:
            return db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None
        except sqlite3.Error:
            return False

    def get(self, key: str) -> dict[str, Any] | None:
        db = self._connect()
        if db is None:
            return None
        try:
            text = self._pending.get(key)
            if text is None:
                row = db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
                text = row[0] if row else None
            data = json.loads(text) if text is not None else None
        except (sqlite3.Error, ValueError):
            data = None
        if not isinstance(data, dict):
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._connect() is None:
            return
        self._pending[key] = json.dumps(value, ensure_ascii=False)
        if len(self._pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self._db is None or not self._pending:
            return
        rows, self._pending = list(self._pending.items()), {}
        try:
            with self._db:  # one transaction
                self._db.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", rows)
        except sqlite3.Error as exc:
            log.warning("could not store %d responses in %s: %s", len(rows), self.path, exc)

    def close(self) -> None:
        """Commit what is pending and let go of the file (the next use opens it again)."""
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db.close()
                self._db = None
