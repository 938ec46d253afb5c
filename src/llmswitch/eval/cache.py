"""Responses on disk, keyed by the exact request, so a rerun after editing assertions sends nothing.

One SQLite file (stdlib ``sqlite3``) under the platform's user cache directory (platformdirs:
``~/.cache/llmswitch/eval/responses.sqlite3`` on Linux, honouring ``XDG_CACHE_HOME``). SQLite, not a
file per response: a cell's write then costs tens of microseconds instead of a file's create, write
and rename (measured in benchmarks/eval_bench.py), concurrent runs are serialised by its locks, and
a run that stops half-way never leaves a torn entry. Writes are committed in batches and when the
run ends (Ctrl-C included). A cache that cannot be read is a miss, never a failed run. Failed calls
are never stored: a rerun tries them again.
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
        self._pending = 0

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
        try:
            return db is not None and db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None
        except sqlite3.Error:
            return False

    def get(self, key: str) -> dict[str, Any] | None:
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
            data = json.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError):
            data = None
        if not isinstance(data, dict):
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: str, value: dict[str, Any]) -> None:
        db = self._connect()
        if db is None:
            return
        try:
            db.execute("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                       (key, json.dumps(value, ensure_ascii=False)))
            self._pending += 1
            if self._pending >= _BATCH:
                self.flush()
        except sqlite3.Error as exc:
            log.warning("could not store a response in %s: %s", self.path, exc)

    def flush(self) -> None:
        if self._db is not None and self._pending:
            self._db.commit()
            self._pending = 0

    def close(self) -> None:
        """Commit what is pending and let go of the file (the next use opens it again)."""
        if self._db is not None:
            try:
                self.flush()
            finally:
                self._db.close()
                self._db = None
