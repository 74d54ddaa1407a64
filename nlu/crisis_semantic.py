"""The second crisis check: a message *like* a crisis, in words no lexicon knows.

People in danger describe what they see ("he drank from the blue bottle under the sink and now he
coughs", "smoke comes under the door and the handle is hot"). The lexicon (:mod:`nlu.safety`) stays
first and deterministic; this detector runs on the query embedding the answer engine computes anyway
and may only *add* emergencies.

Two signals on the multilingual-e5 embedding:

* a logistic-regression classifier, crisis versus ordinary, trained when the engine starts on curated
  crisis situations in every served language (``nlu/lexicons/crisis_situations.yaml``), the lexicons'
  examples, labelled real-style messages (the development set) and, as ordinary messages, every
  question variant of the content pack outside the crisis topics;
* the *lead*: similarity to the nearest curated situation minus similarity to the nearest ordinary
  text (nearest neighbours), which tells the situation's category and damps the classifier where a
  message is plainly close to an ordinary question.

A probability ≥ ``confident`` gives the emergency reply, as the lexicon does. Between ``possible`` and
``confident`` with a lead ≥ ``possible_lead`` the person gets the numbers first, then the answer to
their question. Thresholds are fitted by ``wegweiser crisis calibrate`` with cross-validation on
tuning data (never the blind set) and kept in ``nlu/crisis_thresholds.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError, ContentError
from nlu.safety import CRISIS_ORDER, LEXICON_DIR, read_lexicon

log = logging.getLogger(__name__)

SITUATIONS_FILE = LEXICON_DIR / "crisis_situations.yaml"
THRESHOLDS_FILE = Path(__file__).with_name("crisis_thresholds.json")
# Topics whose questions are about crises themselves ("my husband beats me", "I think of ending my
# life, is there a line?"): the crisis reply fits them, so they are neither training negatives nor
# counted as false alarms.
CRISIS_TOPICS = frozenset({"emergency_numbers", "suicidal_thoughts_crisis", "violence_against_women",
                           "racist_violence_discrimination"})

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CrisisThresholds:
    confident: float = 0.8  # classifier probability for the emergency reply
    possible: float = 0.3  # probability for "numbers first, then the topic" …
    possible_lead: float = 0.0  # … when the message is at least this much closer to a situation
    confident_lead: float = -0.05  # a confident one, too, must not be far closer to an ordinary text
    c: float = 4.0  # inverse L2 regularisation of the classifier
    labelled_weight: float = 3.0  # weight of labelled real-style messages against curated exemplars

    @classmethod
    def load(cls, path: Path = THRESHOLDS_FILE) -> CrisisThresholds:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read crisis thresholds from {path}: {e}") from e
        base = asdict(cls())
        return cls(**{k: float(data.get(k, v)) for k, v in base.items()})

    def save(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {**asdict(self), **(extra or {})}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class SemanticCrisis:
    category: str
    probability: float
    lead: float
    confident: bool


@dataclass(frozen=True)
class CrisisExemplars:
    """The curated texts: situations with their category, and ordinary questions."""

    situations: tuple[tuple[str, str], ...]  # (category, text)
    ordinary: tuple[str, ...]


def _texts(items: Any) -> list[str]:
    return [str(i["text"]).strip() for i in items or [] if isinstance(i, dict) and str(i.get("text", "")).strip()]


def load_exemplars(path: Path = SITUATIONS_FILE) -> CrisisExemplars:
    data = read_lexicon(path)
    raw = data.get("situations")
    if not isinstance(raw, dict):
        raise ContentError(f"{path}: needs a 'situations' mapping of categories")
    situations: list[tuple[str, str]] = []
    for category, items in raw.items():
        if category not in CRISIS_ORDER:
            raise ContentError(f"{path}: unknown crisis category {category!r}")
        texts = _texts(items)
        if len(texts) != len(items or []):
            raise ContentError(f"{path}: a {category} situation without text")
        situations += [(category, t) for t in texts]
    if not situations:
        raise ContentError(f"{path}: no situations")
    return CrisisExemplars(tuple(situations), tuple(_texts(data.get("ordinary"))))


@dataclass(frozen=True)
class TrainingSet:
    """Vectors and labels the classifier learns from (1 = crisis), with per-row weights."""

    vectors: Matrix
    labels: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float32]


def train_classifier(data: TrainingSet, c: float) -> tuple[Matrix, float]:
    """L2 logistic regression, classes balanced; returns (coefficients, intercept)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit(data.vectors, data.labels, sample_weight=data.weights)
    return np.asarray(model.coef_[0], dtype=np.float32), float(model.intercept_[0])


class SemanticCrisisDetector:
    """Classifier probability and nearest-neighbour lead, on precomputed query vectors."""

    def __init__(self, coef: Matrix, intercept: float, situation_vectors: Matrix, categories: Sequence[str],
                 ordinary_vectors: Matrix, thresholds: CrisisThresholds) -> None:
        if len(situation_vectors) != len(categories):
            raise ValueError("one category per situation vector")
        self._coef = np.asarray(coef, dtype=np.float32)
        self._intercept = float(intercept)
        self._situations = np.ascontiguousarray(situation_vectors, dtype=np.float32)
        self._ordinary = np.ascontiguousarray(ordinary_vectors, dtype=np.float32)
        cats = np.asarray(list(categories))
        self._rows = {c: np.flatnonzero(cats == c) for c in CRISIS_ORDER if np.any(cats == c)}
        self.thresholds = thresholds

    def features(self, vectors: Matrix) -> tuple[Matrix, Matrix, list[str]]:
        """Per query: crisis probability, lead over the nearest ordinary text, nearest category."""
        z = vectors @ self._coef + self._intercept
        prob = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
        sims = vectors @ self._situations.T
        per_cat = np.stack([sims[:, self._rows[c]].max(axis=1) if c in self._rows else np.full(len(vectors), -1.0)
                            for c in CRISIS_ORDER], axis=1)
        best = per_cat.max(axis=1)
        ordinary = (vectors @ self._ordinary.T).max(axis=1) if len(self._ordinary) else np.full(len(vectors), -1.0)
        categories = [CRISIS_ORDER[int(i)] for i in per_cat.argmax(axis=1)]
        return prob, (best - ordinary).astype(np.float32), categories

    def check(self, vectors: Matrix) -> SemanticCrisis | None:
        """``vectors``: one or more query embeddings of the same message (its parts); the most alarming wins."""
        if not len(vectors):
            return None
        th = self.thresholds
        prob, lead, categories = self.features(vectors)
        # Both need the message nearer to a crisis situation than to any ordinary text: the classifier
        # alone alarms on short everyday complaints ("my phone is broken").
        near = lead >= th.possible_lead
        confident = np.flatnonzero((prob >= th.confident) & (lead >= th.confident_lead))
        if len(confident):
            i = int(confident[np.argmax(prob[confident])])
            return SemanticCrisis(categories[i], float(prob[i]), float(lead[i]), confident=True)
        possible = np.flatnonzero((prob >= th.possible) & near)
        if len(possible):
            j = int(possible[np.argmax(prob[possible])])
            return SemanticCrisis(categories[j], float(prob[j]), float(lead[j]), confident=False)
        return None
