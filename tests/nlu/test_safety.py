"""The deterministic crisis and person-request checks, on the lexicons' own curated examples."""

from __future__ import annotations

import pytest

from core.languages import CLOSE_LANGUAGES
from nlu.language import SERVED_LANGUAGES
from nlu.safety import CrisisDetector, HumanRequestDetector


@pytest.fixture(scope="module")
def crisis() -> CrisisDetector:
    return CrisisDetector()


@pytest.fixture(scope="module")
def human() -> HumanRequestDetector:
    return HumanRequestDetector()


def test_every_served_language_has_patterns_and_messages_for_every_crisis(crisis: CrisisDetector) -> None:
    for category, msgs in crisis.messages.items():
        assert set(SERVED_LANGUAGES) <= set(msgs), category
    positives = crisis.examples["positive"]
    # Dari is written like Farsi: the Farsi patterns and examples serve it.
    written = {lang for lang in SERVED_LANGUAGES if lang not in CLOSE_LANGUAGES}
    assert written <= {e["lang"] for e in positives}


def test_every_curated_crisis_example_is_recognised(crisis: CrisisDetector) -> None:
    missed = [e for e in crisis.examples["positive"] if crisis.check(e["text"]) is None]
    assert missed == []


def test_crisis_examples_get_their_category(crisis: CrisisDetector) -> None:
    wrong = [(e["text"], m.category) for e in crisis.examples["positive"]
             if (m := crisis.check(e["text"])) is not None and m.category != e["category"]]
    # Overlaps are allowed only in the direction of precedence (suicidal > medical > violence).
    assert len(wrong) <= len(crisis.examples["positive"]) // 20, wrong


def test_information_questions_do_not_trigger_the_crisis_reply(crisis: CrisisDetector) -> None:
    assert [e["text"] for e in crisis.examples["negative"] if crisis.check(e["text"])] == []


def test_crisis_messages_carry_the_numbers(crisis: CrisisDetector) -> None:
    for lang in SERVED_LANGUAGES:
        assert "112" in crisis.message("medical", lang)[1]
        assert "110" in crisis.message("violence", lang)[1]
        assert "0800 111 0 111" in crisis.message("suicidal", lang)[1]


def test_unknown_language_gets_the_english_crisis_message(crisis: CrisisDetector) -> None:
    assert crisis.message("medical", "xx")[0] == "en"


def test_requests_for_a_person_are_recognised(human: HumanRequestDetector) -> None:
    assert [e["text"] for e in human.examples["positive"] if not human.check(e["text"])] == []
    assert [e["text"] for e in human.examples.get("negative", []) if human.check(e["text"])] == []
