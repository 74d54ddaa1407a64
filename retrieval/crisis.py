"""Assembling the semantic crisis detector (:mod:`nlu.crisis_semantic`) from its training texts.

Lives beside retrieval because its ordinary examples are the content pack's own question variants.
All texts are embedded as queries (what a person's message is) and cached like the index: they are
embedded again only when a text changes, and the classifier is fitted in about a second at start.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.schema import KnowledgePack
from nlu.crisis_semantic import (
    CRISIS_TOPICS,
    CrisisThresholds,
    Matrix,
    SemanticCrisisDetector,
    TrainingSet,
    load_exemplars,
    train_classifier,
)
from nlu.safety import LEXICON_DIR, read_lexicon
from nlu.training_data import TRAIN_FILE, load_training_data
from retrieval.embedder import Embedder
from retrieval.index import IndexStore
from retrieval.vector_cache import VectorCache

# Labelled messages written in the people's own style for tuning (evaluation/data/README.md); the
# blind sets in evaluation/data/blind/ are never read here.
LABELLED_FILE = Path(__file__).resolve().parent.parent / "evaluation" / "data" / "dev_situations.jsonl"
# Intents whose training examples are ordinary messages (greetings, person requests, questions).
_ORDINARY_INTENTS = frozenset({"greet", "thanks", "goodbye", "ask_human", "change_language", "delete_my_data",
                               "complaint", "faq", "out_of_scope"})
_SENTENCE_END = re.compile(r"(?<=[.!?؟।።\n])\s+|\n+")
MAX_PARTS = 12  # ~10 ms each; the input is capped at 4,096 characters
PART_WORDS = 24


@dataclass(frozen=True)
class CrisisCorpus:
    """Every training text's vector, by role."""

    situations: Matrix  # curated crisis situations (positives, and the neighbours that name the category)
    categories: tuple[str, ...]
    ordinary: Matrix  # curated ordinary texts and the pack's variants (negatives, and neighbours)
    positives: Matrix  # further crisis texts: the lexicon's examples
    negatives: Matrix  # further ordinary texts: the lexicon's negative examples
    labelled: Matrix  # labelled real-style messages
    labelled_crisis: np.ndarray  # bool per labelled message

    def training(self, weight: float, use_labelled: np.ndarray | None = None) -> TrainingSet:
        keep = np.ones(len(self.labelled), bool) if use_labelled is None else use_labelled
        parts = [self.situations, self.positives, self.ordinary, self.negatives, self.labelled[keep]]
        labels = np.concatenate([np.ones(len(self.situations) + len(self.positives), np.int64),
                                 np.zeros(len(self.ordinary) + len(self.negatives), np.int64),
                                 self.labelled_crisis[keep].astype(np.int64)])
        weights = np.concatenate([np.ones(sum(len(p) for p in parts[:4]), np.float32),
                                  np.full(int(keep.sum()), weight, np.float32)])
        return TrainingSet(np.vstack(parts), labels, weights)

    def detector(self, thresholds: CrisisThresholds, use_labelled: np.ndarray | None = None) -> SemanticCrisisDetector:
        coef, intercept = train_classifier(self.training(thresholds.labelled_weight, use_labelled), thresholds.c)
        return SemanticCrisisDetector(coef, intercept, self.situations, self.categories, self.ordinary, thresholds)


def _examples(name: str, key: str) -> list[str]:
    block = read_lexicon(LEXICON_DIR / name).get("examples", {}).get(key, [])
    return [str(e["text"]) for e in block if isinstance(e, dict) and e.get("text")]


def labelled_messages(path: Path = LABELLED_FILE) -> list[tuple[str, bool]]:
    """(text, is crisis) for the labelled messages; questions on the crisis topics are left out."""
    out: list[tuple[str, bool]] = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item["kind"] == "emergency" or item.get("topic") not in CRISIS_TOPICS:
            out.append((str(item["text"]), item["kind"] == "emergency"))
    return out


def build_corpus(embedder: Embedder, pack: KnowledgePack, folder: Path, progress: bool = False,
                 cache: VectorCache | None = None, save: bool = True) -> CrisisCorpus:
    exemplars = load_exemplars()
    nlu = load_training_data(TRAIN_FILE)
    ordinary = list(exemplars.ordinary) + [ex.text for ex in nlu.examples if ex.intent in _ORDINARY_INTENTS]
    ordinary += _examples("human_request.yaml", "positive")
    ordinary += [q for e in pack.entries if e.topic not in CRISIS_TOPICS for _, q in e.variants()]
    ordinary = list(dict.fromkeys(t.strip() for t in ordinary if t.strip()))
    labelled = labelled_messages()
    groups = [[t for _, t in exemplars.situations], ordinary, _examples("crisis.yaml", "positive"),
              _examples("crisis.yaml", "negative"), [t for t, _ in labelled]]
    texts = [t for g in groups for t in g]
    key = hashlib.sha256(json.dumps(groups, ensure_ascii=False).encode()).hexdigest()[:16]
    index, rebuilt = IndexStore(folder).build_or_load(embedder, texts, key, progress=progress, queries=True,
                                                      cache=cache, save=save)
    vectors = index.vectors()
    if cache is not None and not rebuilt and save:
        cache.seed(texts, vectors, queries=True)  # a corpus from before the cache: publishes reuse it
    cut = np.cumsum([len(g) for g in groups])[:-1]
    sit, ordv, pos, neg, lab = np.split(vectors, cut)
    return CrisisCorpus(sit, tuple(c for c, _ in exemplars.situations), ordv, pos, neg, lab,
                        np.array([is_crisis for _, is_crisis in labelled], dtype=bool))


def build_semantic_crisis(embedder: Embedder, pack: KnowledgePack, folder: Path, progress: bool = False,
                          thresholds: CrisisThresholds | None = None, cache: VectorCache | None = None,
                          save: bool = True) -> SemanticCrisisDetector:
    """``cache``: embeddings by text, so a changed pack embeds only its new question variants."""
    corpus = build_corpus(embedder, pack, folder, progress, cache=cache, save=save)
    return corpus.detector(thresholds or CrisisThresholds.load())


def message_parts(text: str) -> list[str]:
    """The parts of a long message the one query embedding does not see well (the embedder reads the
    opening): each sentence, and windows over sentences too long to read whole. A cry for help may
    come anywhere in a long story. At most MAX_PARTS, evenly spread."""
    if len(text.split()) <= PART_WORDS:
        return []
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if len(words) < 3:
            continue
        if len(words) <= 2 * PART_WORDS:
            parts.append(" ".join(words))
        else:
            step = PART_WORDS // 2
            parts += [" ".join(words[i : i + PART_WORDS]) for i in range(0, len(words) - step, step)]
    if len(parts) > MAX_PARTS:
        spread = (len(parts) - 1) / (MAX_PARTS - 1)
        parts = [parts[round(k * spread)] for k in range(MAX_PARTS)]
    return parts
