"""Vector indexes over question variants, and their persistence with a manifest.

A district's knowledge is a few thousand vectors, so exact inner-product search on normalised
vectors is both fast and exact; :class:`BruteForceIndex` is the numpy reference the FAISS index is
tested against.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from core.errors import VectorIndexError
from retrieval.embedder import Embedder, Vectors
from retrieval.vector_cache import VectorCache

log = logging.getLogger(__name__)
INDEX_FORMAT = 1


class VectorIndex(Protocol):
    @property
    def size(self) -> int: ...

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...


class FaissIndex:
    """Exact inner-product search (cosine on normalised vectors) with FAISS."""

    def __init__(self, vectors: Vectors) -> None:
        self._index: faiss.Index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def from_faiss(cls, index: faiss.Index) -> FaissIndex:
        self = cls.__new__(cls)
        self._index = index
        return self

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        k = max(1, min(k, self.size))
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def vectors(self) -> Vectors:
        """Every stored vector, in row order (exact for a flat index)."""
        if not self.size:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_n(0, self.size), dtype=np.float32)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        try:
            return cls.from_faiss(faiss.read_index(str(path)))
        except RuntimeError as e:
            raise VectorIndexError(f"cannot read FAISS index {path}: {e}") from e


class BruteForceIndex:
    """The reference implementation: a matrix product and a sort."""

    def __init__(self, vectors: Vectors) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def size(self) -> int:
        return int(self._vectors.shape[0])

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        k = max(1, min(k, self.size))
        sims = queries @ self._vectors.T
        ids = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, ids, axis=1).astype(np.float32), ids.astype(np.int64)


@dataclass(frozen=True)
class Manifest:
    embedder: str
    dim: int
    content_hash: str
    rows: int
    format: int = INDEX_FORMAT

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


def embed_in_batches(
    embedder: Embedder, texts: Sequence[str], batch_size: int = 32, progress: bool = True, desc: str = "embedding",
    queries: bool = False,
) -> Vectors:
    parts: list[Vectors] = []
    # In a terminal the bar moves smoothly; in a CI log it prints a line every 30 s instead of thousands.
    interval = 0.5 if sys.stderr.isatty() else 30.0
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, leave=False,
              mininterval=interval) as bar:
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            parts.append(embedder.embed_queries(batch) if queries else embedder.embed_documents(batch))
            bar.update(len(batch))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.vstack(parts)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class IndexStore:
    """A folder holding ``index.faiss`` and ``manifest.json``; stale or foreign files are rebuilt."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index_path = folder / "index.faiss"
        self.manifest_path = folder / "manifest.json"

    def read_manifest(self) -> Manifest | None:
        try:
            return Manifest(**json.loads(self.manifest_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def load_if_fresh(self, expected: Manifest) -> FaissIndex | None:
        if self.read_manifest() != expected or not self.index_path.is_file():
            return None
        try:
            index = FaissIndex.load(self.index_path)
        except VectorIndexError:
            log.warning("index.corrupt path=%s", self.index_path)
            return None
        if index.size != expected.rows or index.dim != expected.dim:
            return None
        return index

    def save(self, index: FaissIndex, manifest: Manifest) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Index first, manifest last: a crash in between leaves a manifest that does not match.
        self.manifest_path.unlink(missing_ok=True)
        _atomic_write(self.index_path, index.save)
        _atomic_write(self.manifest_path, lambda p: _write_text(p, manifest.to_json()))

    def build_or_load(
        self, embedder: Embedder, texts: Sequence[str], content_hash: str, progress: bool = True,
        queries: bool = False, cache: VectorCache | None = None, save: bool = True,
    ) -> tuple[FaissIndex, bool]:
        """Return the index for ``texts`` and whether it had to be (re)built; ``queries`` embeds them
        as questions (e5's query side) rather than as passages. With ``cache``, a rebuild embeds only
        the texts the cache has not seen; ``save=False`` keeps a candidate index in memory only."""
        expected = Manifest(embedder.name, embedder.dim, content_hash, len(texts))
        cached = self.load_if_fresh(expected)
        if cached is not None:
            return cached, False
        log.info("index.build rows=%d embedder=%s", len(texts), embedder.name)
        if cache is not None:
            vectors = cache.embed(embedder, texts, queries=queries, progress=progress)
        else:
            vectors = embed_in_batches(embedder, texts, progress=progress, queries=queries)
        index = FaissIndex(vectors) if len(vectors) else FaissIndex(np.zeros((0, embedder.dim), np.float32))
        if save:
            self.save(index, expected)
        return index, True
