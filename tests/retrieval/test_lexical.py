from __future__ import annotations

from retrieval.lexical import LexicalRanker


def test_misspelt_office_word_still_matches_its_variant() -> None:
    ranker = LexicalRanker(["Krankenschein beantragen", "Bezahlkarte Bargeld", "Duldung verlängern"])
    scores = ranker.scores("wo krankenschain bekomen")
    assert int(scores.argmax()) == 0


def test_arabic_spelling_variants_are_unified() -> None:
    ranker = LexicalRanker(["أين أجد طبيب أسنان", "كم المبلغ على البطاقة"])
    assert int(ranker.scores("اين اجد طبيب اسنان").argmax()) == 0
