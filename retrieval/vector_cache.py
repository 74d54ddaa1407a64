"""Embeddings cached by text hash, so that changing the content re-embeds only what changed.

A publish that adds one question variant must not re-embed the pack's thousands of rows: the index
is rebuilt from cached vectors (a few milliseconds) plus the new text's. The cache is a SQLite file
per embedder, keyed by (query or passage side, SHA-256 of the text); it only ever grows by what staff
write, and stale rows cost nothing but disk.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.embedder import Embedder, Vectors


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (side TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (side, key))"
        )
        self._db.commit()
        # How many texts the last call had to embed (benchmarks and tests read it).
        self.last_embedded = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _lookup(self, side: str, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite's limit on bound parameters
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE side = ? AND key IN ({marks})",  # noqa: S608
                                    (side, *chunk))
            found.update((k, v) for k, v in rows)
        return found

    def seed(self, texts: Sequence[str], vectors: Vectors, queries: bool = False) -> int:
        """Fill the cache from an index built before it existed (its rows are exact vectors)."""
        side = "query" if queries else "passage"
        keys = [text_key(t) for t in texts]
        with self._lock:
            found = self._lookup(side, keys)
            fresh = {k: v for k, v in zip(keys, vectors, strict=True) if k not in found}
            rows = [(side, k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in fresh.items()]
            if rows:
                self._db.executemany("INSERT OR IGNORE INTO vectors (side, key, vector) VALUES (?, ?, ?)", rows)
                self._db.commit()
        return len(rows)

    def embed(self, embedder: Embedder, texts: Sequence[str], queries: bool = False, batch_size: int = 32,
              progress: bool = False) -> Vectors:
        """The vectors of ``texts`` in order; only texts never seen before are embedded."""
        from retrieval.index import embed_in_batches

        side = "query" if queries else "passage"
        keys = [text_key(t) for t in texts]
        with self._lock:
            found = self._lookup(side, keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        todo = list(dict.fromkeys(texts[i] for i in missing))
        self.last_embedded = len(todo)
        if todo:
            fresh = embed_in_batches(embedder, todo, batch_size=batch_size, progress=progress, queries=queries)
            new = {text_key(t): np.ascontiguousarray(v, dtype=np.float32).tobytes() for t, v in zip(todo, fresh,
                                                                                                   strict=True)}
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO vectors (side, key, vector) VALUES (?, ?, ?)",
                                     [(side, k, v) for k, v in new.items()])
                self._db.commit()
            found.update(new)
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.vstack([np.frombuffer(found[k], dtype=np.float32) for k in keys])
