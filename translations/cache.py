"""Persistent cache of machine translations (SQLite, WAL).

The key covers everything the output depends on: the text (sha256), the language pair, the
fingerprint of every package along the path (version plus the model file's size and mtime, so a
re-installed or replaced package invalidates its entries) and the glossary version (masking changes
the model input). A changed source text hashes differently, so stale answers are never served.

One connection guarded by a lock: SQLite serialises writers anyway, lookups take microseconds, and
WAL lets several bot processes share the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import WegweiserError


class TranslationCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS translations ("
                " key TEXT PRIMARY KEY, text TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,"
                " path TEXT NOT NULL, created REAL NOT NULL)"
            )
        except sqlite3.Error as e:
            raise WegweiserError(f"translation cache {path} cannot be opened: {e}") from e

    @staticmethod
    def key(text: str, source: str, target: str, fingerprints: Sequence[str]) -> str:
        text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"{text_hash}:{source}>{target}:{'|'.join(fingerprints)}"

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM translations WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, text: str, source: str, target: str, path: Sequence[str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO translations (key, text, source, target, path, created) VALUES (?,?,?,?,?,?)",
                (key, text, source, target, ">".join(path), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0])

    def count(self, target: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM translations WHERE target = ?", (target,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
