"""Fitting the semantic crisis detector's thresholds (``wegweiser crisis calibrate``).

Cross-validation on tuning data only, never on the blind set: the labelled development messages
(``data/dev_situations.jsonl``) and the team's evaluation set (``data/bautzen.jsonl``) are split into
folds; for each fold the classifier is trained on everything else (curated exemplars, the pack's
variants and the other folds) and scores the fold. A message counts as an emergency when the
lexicon or the detector says so, exactly as in the engine. The fit takes the thresholds that miss
the fewest crises and, among those, spend the false-alarm budget (1 % of ordinary messages) on
looser thresholds: recall first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from evaluation.evaluate import DEFAULT_EVAL_FILE, load_eval
from nlu.crisis_semantic import CRISIS_TOPICS, CrisisThresholds
from retrieval.crisis import LABELLED_FILE, CrisisCorpus, build_corpus, labelled_messages
from retrieval.engine import AnswerEngine

FOLDS = 5
MAX_FALSE_ALARMS = 0.01


def cross_validated(engine: AnswerEngine, corpus: CrisisCorpus, base: CrisisThresholds) -> dict[str, np.ndarray]:
    """Out-of-fold probability and lead for every tuning message, with its labels."""
    own = [i for i in load_eval(DEFAULT_EVAL_FILE) if i.kind == "emergency" or i.topic not in CRISIS_TOPICS]
    dev = labelled_messages(LABELLED_FILE)
    texts = [t for t, _ in dev] + [i.text for i in own]
    crisis = np.array([c for _, c in dev] + [i.kind == "emergency" for i in own], dtype=bool)
    vectors = engine.ranker.embedder.embed_queries(texts)
    lexicon = np.array([engine.crisis.check(t) is not None for t in texts], dtype=bool)
    fold = np.random.default_rng(0).integers(0, FOLDS, len(texts))
    prob = np.zeros(len(texts), np.float32)
    lead = np.zeros(len(texts), np.float32)
    for f in range(FOLDS):
        # The dev messages of the other folds stay in training; the own set never is.
        use = fold[: len(dev)] != f
        detector = corpus.detector(base, use_labelled=use)
        p, lead_f, _ = detector.features(vectors[fold == f])
        prob[fold == f], lead[fold == f] = p, lead_f
    return {"prob": prob, "lead": lead, "crisis": crisis, "lexicon": lexicon}


def fit(scores: dict[str, np.ndarray], base: CrisisThresholds) -> tuple[CrisisThresholds, dict[str, Any]]:
    crisis, lexicon, prob, lead = scores["crisis"], scores["lexicon"], scores["prob"], scores["lead"]
    best: tuple[int, int, float, float, float, float] | None = None
    leads = np.round(np.arange(-0.1, 0.031, 0.01), 3)
    for confident in np.round(np.arange(0.6, 0.951, 0.05), 3):
        for confident_lead in leads:
            sure = lexicon | ((prob >= confident) & (lead >= confident_lead))
            for possible in np.round(np.arange(0.2, confident + 1e-9, 0.05), 3):
                for min_lead in leads:
                    alarm = sure | ((prob >= possible) & (lead >= min_lead))
                    missed = int((crisis & ~alarm).sum())
                    false = int((~crisis & alarm).sum())
                    if false > MAX_FALSE_ALARMS * int((~crisis).sum()):
                        continue
                    # Recall first: the fewest misses, then the false-alarm budget spent on catching more
                    # (an unseen crisis told in other words is likelier caught by looser thresholds).
                    key = (missed, -false, float(confident), float(confident_lead), float(possible), float(min_lead))
                    if best is None or key < best:
                        best = key
    if best is None:
        raise ValueError("no thresholds keep false alarms under the budget")
    missed, negative_false, confident, confident_lead, possible, min_lead = best
    false = int(-negative_false)
    th = replace(base, confident=confident, confident_lead=confident_lead, possible=possible,
                 possible_lead=min_lead)
    ordinary = int((~crisis).sum())
    return th, {"crises": int(crisis.sum()), "missed": missed, "ordinary": ordinary, "false_alarms": false,
                "false_alarm_rate": round(false / ordinary, 4) if ordinary else 0.0,
                "lexicon_alone_missed": int((crisis & ~lexicon).sum())}


def calibrate(engine: AnswerEngine, base: CrisisThresholds) -> tuple[CrisisThresholds, dict[str, Any]]:
    if engine.crisis_cache is None:
        raise ValueError("calibration needs an engine from AnswerEngine.build (its crisis cache)")
    corpus = build_corpus(engine.ranker.embedder, engine.pack, engine.crisis_cache)
    return fit(cross_validated(engine, corpus, base), base)
