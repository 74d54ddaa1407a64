"""Dense and lexical evidence fused per entry, and the answer / clarify / escalate decision."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError
from retrieval.embedder import Embedder
from retrieval.index import VectorIndex
from retrieval.lexical import LexicalRanker

DEFAULT_THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")


@dataclass(frozen=True)
class Thresholds:
    """Calibrated on the evaluation set by ``wegweiser calibrate`` (see retrieval/thresholds.json)."""

    lexical_weight: float = 0.3  # fused = dense + w * lexical
    answer: float = 1.0  # best fused score needed to answer
    margin: float = 0.02  # lead over the best entry of another topic needed to answer
    clarify: float = 0.9  # below this: no candidate is plausible → escalate
    clarify_window: float = 0.08  # candidates within this distance of the best are offered

    @classmethod
    def load(cls, path: Path | None = None) -> Thresholds:
        path = path or DEFAULT_THRESHOLDS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read thresholds from {path}: {e}") from e
        known = {k: float(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path, extra: dict[str, object] | None = None) -> None:
        payload: dict[str, object] = dict(asdict(self))
        payload.update(extra or {})
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class EntryScores:
    """Per-entry evidence for one query; arrays are indexed like the ranker's entry list."""

    dense: npt.NDArray[np.float32]
    lexical: npt.NDArray[np.float32]

    def fused(self, lexical_weight: float) -> npt.NDArray[np.float32]:
        return self.dense + np.float32(lexical_weight) * self.lexical


class HybridRanker:
    """Scores every entry by its best-matching question variant, densely and lexically."""

    def __init__(
        self,
        embedder: Embedder,
        index: VectorIndex,
        row_entry: Sequence[int],
        row_texts: Sequence[str],
        n_entries: int,
        dense_k: int = 512,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self._row_entry = np.asarray(row_entry, dtype=np.int64)
        self._n_entries = n_entries
        self._dense_k = dense_k
        self.lexical = LexicalRanker(row_texts)

    def _per_entry_max(self, rows: npt.NDArray[np.int64], scores: npt.NDArray[np.float32], floor: float) -> (
        npt.NDArray[np.float32]
    ):
        out = np.full(self._n_entries, floor, dtype=np.float32)
        np.maximum.at(out, self._row_entry[rows], scores)
        return out

    def score(self, query: str, dense: bool = True, lexical: bool = True) -> EntryScores:
        zeros = np.zeros(self._n_entries, dtype=np.float32)
        dense_scores = zeros
        if dense:
            vec = self.embedder.embed_queries([query])
            sims, ids = self.index.search(vec, self._dense_k)
            sims, ids = sims[0], ids[0]
            keep = ids >= 0
            # Entries outside the top k get the lowest score seen: a safe lower bound.
            dense_scores = self._per_entry_max(ids[keep], sims[keep], float(sims[keep].min()))
        lexical_scores = zeros
        if lexical:
            lex = self.lexical.scores(query)
            lexical_scores = self._per_entry_max(np.arange(len(lex), dtype=np.int64), lex, 0.0)
        return EntryScores(dense_scores, lexical_scores)
