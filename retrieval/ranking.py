"""Dense and lexical evidence fused per entry, and the answer / clarify / escalate decision."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError
from retrieval.embedder import Embedder, Vectors
from retrieval.index import VectorIndex
from retrieval.lexical import LexicalRanker

DEFAULT_THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")


@dataclass(frozen=True)
class Thresholds:
    """Calibrated on the evaluation set by ``wegweiser calibrate`` (see retrieval/thresholds.json)."""

    # fused = dense(variants) + lexical_weight·lexical(variants)
    #         + answer_weight·dense(answers) + answer_lexical_weight·lexical(answers)
    lexical_weight: float = 0.1
    answer_weight: float = 0.8
    answer_lexical_weight: float = 0.2
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
    """Per-entry evidence for one query (arrays indexed like the pack's entries): the best-matching
    question variant and the best-matching answer text, each densely and lexically."""

    dense: npt.NDArray[np.float32]
    lexical: npt.NDArray[np.float32]
    answer_dense: npt.NDArray[np.float32]
    answer_lexical: npt.NDArray[np.float32]

    def fused(self, th: Thresholds) -> npt.NDArray[np.float32]:
        out: npt.NDArray[np.float32] = (
            self.dense
            + np.float32(th.lexical_weight) * self.lexical
            + np.float32(th.answer_weight) * self.answer_dense
            + np.float32(th.answer_lexical_weight) * self.answer_lexical
        )
        return out


class HybridRanker:
    """Scores every entry by its best-matching question variant and answer, densely and lexically.

    The index holds one row per question variant and one per answer text (answers widen the
    vocabulary a question can match: "visit my cousin in Hamburg" meets the answer on travel
    permission even when no variant mentions a visit). ``row_entry[i]`` is the entry of row ``i``,
    ``row_is_answer[i]`` its kind.
    """

    def __init__(
        self,
        embedder: Embedder,
        index: VectorIndex,
        row_entry: Sequence[int],
        row_is_answer: Sequence[bool],
        row_texts: Sequence[str],
        n_entries: int,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self._row_entry = np.asarray(row_entry, dtype=np.int64)
        self._is_answer = np.asarray(row_is_answer, dtype=bool)
        self._n_entries = n_entries
        # Rows of each kind are grouped by entry, so a per-entry maximum is one reduceat per kind.
        self._segments = {kind: self._segment_starts(kind) for kind in (False, True)}
        self.lexical = LexicalRanker(row_texts)

    def _segment_starts(self, kind: bool) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        rows = np.flatnonzero(self._is_answer == kind)
        entries = self._row_entry[rows]
        if len(entries) and np.any(np.diff(entries) < 0):
            raise ValueError("index rows must be grouped by entry within each kind")
        present, starts = np.unique(entries, return_index=True)
        return rows, present, starts.astype(np.int64)

    def _per_entry_max(self, scores: npt.NDArray[np.float32], answers: bool, floor: float) -> npt.NDArray[np.float32]:
        rows, present, starts = self._segments[answers]
        out = np.full(self._n_entries, floor, dtype=np.float32)
        if len(rows):
            out[present] = np.maximum.reduceat(scores[rows], starts)
        return out

    def score(self, query: str, dense: bool = True, lexical: bool = True, vector: Vectors | None = None) -> EntryScores:
        """``vector``: the query's embedding when the caller already has it (computed once per message)."""
        zeros = np.zeros(self._n_entries, dtype=np.float32)
        dense_q = dense_a = lexical_q = lexical_a = zeros
        if dense:
            vec = vector if vector is not None else self.embedder.embed_queries([query])
            # Exact search over every row: a district pack is a few thousand rows (< 1 ms).
            sims, ids = self.index.search(vec, self.index.size)
            row_scores = np.empty(self.index.size, dtype=np.float32)
            row_scores[ids[0]] = sims[0]
            dense_q = self._per_entry_max(row_scores, answers=False, floor=-1.0)
            dense_a = self._per_entry_max(row_scores, answers=True, floor=-1.0)
        if lexical:
            lex = self.lexical.scores(query)
            lexical_q = self._per_entry_max(lex, answers=False, floor=0.0)
            lexical_a = self._per_entry_max(lex, answers=True, floor=0.0)
        return EntryScores(dense_q, lexical_q, dense_a, lexical_a)
