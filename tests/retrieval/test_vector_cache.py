"""The incremental index: vectors cached by text hash; one new variant embeds one text, not the pack."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np

from retrieval.engine import AnswerEngine, index_rows
from retrieval.index import FaissIndex, IndexStore
from retrieval.vector_cache import VectorCache


def _vectors(engine: AnswerEngine) -> np.ndarray:
    index = engine.ranker.index
    assert isinstance(index, FaissIndex)
    return index.vectors()


def test_one_new_variant_embeds_one_text_and_matches_a_full_rebuild(engine: AnswerEngine, tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "vectors.sqlite")
    rows = index_rows(engine.pack)
    embedder = engine.ranker.embedder
    # Seed from the built index (what a first publish does with an index from before the cache).
    assert cache.seed(rows.texts, _vectors(engine)) == len(set(rows.texts))
    entry = engine.pack.entries[3]
    question = "Wie lange dauert das ungefähr bei euch im Büro mit dem Fahrradschein?"
    changed = replace(entry, questions={**entry.questions, "de": (*entry.questions.get("de", ()), question)})
    pack = replace(engine.pack, entries=tuple(changed if e.id == entry.id else e for e in engine.pack.entries))
    live = copy.copy(engine)
    live.vector_cache, live.index_store, live.crisis_cache = cache, IndexStore(tmp_path / "index"), None
    updated = live.with_pack(pack, save=False)
    assert cache.last_embedded == 1
    fresh = embedder.embed_documents([question])[0]
    new_rows = index_rows(pack)
    row = new_rows.texts.index(question)
    assert np.allclose(_vectors(updated)[row], fresh, atol=1e-6)
    assert updated.ask(question).entry_id == entry.id
    assert engine.ask(question).entry_id != entry.id or engine.ask(question).status != "answered"
