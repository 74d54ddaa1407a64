"""The answer engine end to end on the real pack, the real model and the real index."""

from __future__ import annotations

import pytest

from core.errors import InputError
from retrieval.engine import AnswerEngine

JSON_FIELDS = {"status", "topic", "entry_id", "score", "lang", "answer_lang", "answer", "machine_translated",
               "candidates", "latency_ms"}


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Wo bekomme ich einen Krankenschein?", "de"),
        ("من أين أحصل على Krankenschein؟", "ar"),
        ("از کجا Krankenschein بگیرم؟", "fa"),
        ("where do i get the paper for the doctor, krankenschein", "en"),
    ],
)
def test_treatment_voucher_question_is_answered_in_the_persons_language(
    engine: AnswerEngine, text: str, lang: str
) -> None:
    result = engine.ask(text)
    assert result.status == "answered", result.to_dict()
    assert result.topic == "treatment_voucher_behandlungsschein"
    assert result.lang == lang and result.answer_lang == lang
    assert result.answer and result.facts_as_of and result.sources
    assert result.machine_translated is False
    assert result.answer_reviewed is (lang in {"de", "en"})


def test_json_has_every_documented_field(engine: AnswerEngine) -> None:
    payload = engine.ask("Krankenschein").to_dict()
    assert set(payload) >= JSON_FIELDS
    assert all({"topic", "entry_id", "score"} <= set(c) for c in payload["candidates"])


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("mein kind atmet nicht mehr", "medical"),
        ("ابني لا يتنفس", "medical"),
        ("I want to kill myself", "suicidal"),
        ("не хочу больше жить", "suicidal"),
        ("mein mann schlägt mich gerade", "violence"),
    ],
)
def test_crisis_comes_first_with_the_numbers_in_the_persons_language(
    engine: AnswerEngine, text: str, category: str
) -> None:
    result = engine.ask(text)
    assert result.status == "emergency"
    assert result.reason == f"crisis:{category}"
    assert result.answer and ("112" in result.answer or "110" in result.answer)
    assert result.answer_lang == result.lang


def test_crisis_wins_even_after_a_long_story(engine: AnswerEngine) -> None:
    text = "Ich wohne im Heim und habe viele Fragen zur Bezahlkarte. " * 100 + "Ich will mich umbringen."
    result = engine.ask(text, lang="de")
    assert result.status == "emergency" and result.truncated


def test_explicit_request_for_a_person_is_escalated(engine: AnswerEngine) -> None:
    for text in ("Ich möchte mit einem Menschen sprechen", "I need an interpreter", "أريد التحدث مع شخص"):
        result = engine.ask(text)
        assert (result.status, result.reason) == ("escalate", "requested"), text


def test_out_of_scope_question_is_not_answered(engine: AnswerEngine) -> None:
    result = engine.ask("Wer hat gestern das Fußballspiel gewonnen?")
    assert result.status != "answered"


def test_emoji_only_and_empty_messages_ask_for_words(engine: AnswerEngine) -> None:
    for text in ("🙏🙏", "   ", ""):
        result = engine.ask(text, hint="ar")
        assert (result.status, result.reason) == ("clarify", "empty")
        assert result.answer_lang == "ar"


def test_non_text_input_is_an_input_error(engine: AnswerEngine) -> None:
    with pytest.raises(InputError):
        engine.ask(None)  # type: ignore[arg-type]


def test_person_choice_wins_over_detection(engine: AnswerEngine) -> None:
    result = engine.ask("Krankenschein", lang="uk")
    assert result.lang == "uk" and result.answer_lang == "uk"


def test_language_without_curated_answer_falls_back_with_a_notice(engine: AnswerEngine) -> None:
    result = engine.ask("Krankenschein", lang="ps")
    assert result.status == "answered"
    assert result.answer_lang == "en" and result.language_fallback
    assert result.answer and result.answer.startswith("دا ځواب")


def test_entries_marked_always_tell_the_caller_to_hand_over(engine: AnswerEngine) -> None:
    result = engine.ask("Mein Asylantrag wurde abgelehnt, was kann ich gegen den Bescheid tun?")
    assert result.topic == "negative_decision_and_deadlines"
    assert result.escalation == "always"
