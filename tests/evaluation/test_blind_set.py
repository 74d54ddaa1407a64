"""The blind evaluation set: written apart from the content, never tuned on, and held to floors.

The floors sit a little below what was measured when the set was first run (closing note of the
issue that added it); a change that makes the engine worse for people as they really write fails here.
"""

from __future__ import annotations

from collections import Counter

import pytest

from evaluation.evaluate import BLIND_DIR, EVAL_SETS, Report, evaluate, load_eval_set
from knowledge.topics import load_topics
from nlu.crisis_semantic import load_exemplars
from nlu.safety import LEXICON_DIR, read_lexicon
from nlu.training_data import TRAIN_FILE, load_training_data
from retrieval.crisis import LABELLED_FILE
from retrieval.engine import AnswerEngine

FLOORS = {
    "top1": 0.85,
    "answer_precision": 0.96,
    "out_of_scope_rejection": 0.95,
    "emergency_recall": 0.97,
    "human_request_recall": 0.75,
}
MAX_FALSE_ALARMS = 0.02


@pytest.fixture(scope="module")
def report(engine: AnswerEngine) -> Report:
    return evaluate(engine, load_eval_set("blind"))


def test_the_blind_set_is_large_covers_every_topic_and_language() -> None:
    items = load_eval_set("blind")
    questions = [i for i in items if i.kind != "emergency"]
    crises = [i for i in items if i.kind == "emergency"]
    assert len(questions) >= 600 and len(crises) >= 300
    per_lang = Counter(i.lang for i in questions if i.kind == "in_scope")
    assert all(per_lang[lang] >= 30 for lang in ("ar", "fa", "uk", "ru", "tr", "de", "en")), per_lang
    assert all(per_lang[lang] >= 15 for lang in ("ps", "ti", "ku", "so", "fr")), per_lang
    assert {i.topic for i in questions if i.kind == "in_scope"} == set(load_topics())


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def test_nothing_is_tuned_on_the_blind_set(engine: AnswerEngine) -> None:
    blind = set(EVAL_SETS["blind"])
    assert blind and all(p.parent == BLIND_DIR for p in blind)
    assert not blind & (set(EVAL_SETS["tuning"]) | {LABELLED_FILE})
    # No blind text is among anything the engine learns from or is calibrated on.
    exemplars = load_exemplars()
    learnt = {_norm(t) for _, t in exemplars.situations} | {_norm(t) for t in exemplars.ordinary}
    learnt |= {_norm(q) for e in engine.pack.entries for _, q in e.variants()}
    learnt |= {_norm(i.text) for i in load_eval_set("tuning")}
    learnt |= {_norm(ex.text) for ex in load_training_data(TRAIN_FILE).examples}
    for name in ("crisis.yaml", "human_request.yaml"):
        examples = read_lexicon(LEXICON_DIR / name).get("examples", {})
        learnt |= {_norm(str(e["text"])) for block in examples.values() for e in block}
    assert [i.text for i in load_eval_set("blind") if _norm(i.text) in learnt] == []


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_blind_metric_meets_its_floor(report: Report, metric: str) -> None:
    assert report.overall[metric] >= FLOORS[metric], report.overall


def test_ordinary_messages_rarely_get_the_emergency_reply(report: Report) -> None:
    assert report.overall["false_alarms"] <= MAX_FALSE_ALARMS, report.overall
