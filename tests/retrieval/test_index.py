"""FAISS against the brute-force reference, and the persisted index's manifest and rebuilds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedder import Vectors
from retrieval.index import BruteForceIndex, FaissIndex, IndexStore, VectorIndex


def _unit(rng: np.random.Generator, n: int, dim: int = 32) -> Vectors:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("make", [FaissIndex, BruteForceIndex])
def test_index_contract_exact_nearest_neighbours(make: type[VectorIndex]) -> None:
    rng = np.random.default_rng(7)
    data, queries = _unit(rng, 500), _unit(rng, 20)
    index = make(data)  # type: ignore[call-arg]
    scores, ids = index.search(queries, 5)
    expected = np.argsort(-(queries @ data.T), axis=1)[:, :5]
    assert index.size == 500
    assert (ids == expected).all()
    assert np.allclose(scores, np.take_along_axis(queries @ data.T, expected, axis=1), atol=1e-5)


def test_k_larger_than_index_returns_everything() -> None:
    rng = np.random.default_rng(1)
    index = FaissIndex(_unit(rng, 3))
    _, ids = index.search(_unit(rng, 1), 10)
    assert sorted(ids[0].tolist()) == [0, 1, 2]


class CountingEmbedder:
    """A deterministic stand-in that counts how often documents are embedded."""

    def __init__(self, name: str = "counting") -> None:
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return 8

    def _vec(self, texts: Sequence[str]) -> Vectors:
        out = np.array([[hash(t + str(i)) % 97 + 1 for i in range(8)] for t in texts], dtype=np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._vec(texts)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return self._vec(texts)


def test_index_is_reused_while_fresh_and_rebuilt_when_content_or_model_changes(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    emb = CountingEmbedder()
    texts = ["a", "b", "c"]
    _, built = store.build_or_load(emb, texts, "hash1", progress=False)
    assert built and emb.calls == 1
    _, built = store.build_or_load(emb, texts, "hash1", progress=False)
    assert not built and emb.calls == 1
    manifest = store.read_manifest()
    assert manifest is not None and manifest.content_hash == "hash1" and manifest.embedder == "counting"
    _, built = store.build_or_load(emb, [*texts, "d"], "hash2", progress=False)
    assert built
    _, built = store.build_or_load(CountingEmbedder("other-model"), [*texts, "d"], "hash2", progress=False)
    assert built


def test_corrupt_index_file_is_rebuilt(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    emb = CountingEmbedder()
    store.build_or_load(emb, ["a", "b"], "h", progress=False)
    store.index_path.write_bytes(b"not a faiss index")
    index, built = store.build_or_load(emb, ["a", "b"], "h", progress=False)
    assert built and index.size == 2
