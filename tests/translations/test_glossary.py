"""Masking and unmasking of protected terms, without any model."""

from __future__ import annotations

import pytest

from translations.glossary import Glossary, default_glossary

REQUIRED_TERMS = (
    "Aufenthaltsgestattung", "Duldung", "Behandlungsschein", "Krankenschein", "Ausländerbehörde", "Bezahlkarte",
    "BAMF", "Jobcenter", "Sozialamt", "Erstaufnahmeeinrichtung", "Asylbewerberleistungsgesetz", "Anhörung",
    "Bescheid", "Widerspruch", "Klage", "Aufenthaltserlaubnis", "Fiktionsbescheinigung", "Gemeinschaftsunterkunft",
    "Landratsamt", "Wohnsitzauflage",
)


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return default_glossary()


def test_glossary_has_the_required_terms_with_reviewed_de_and_en(glossary: Glossary) -> None:
    names = {t.term for t in glossary.terms}
    assert set(REQUIRED_TERMS) <= names
    for term in glossary.terms:
        for lang in ("de", "en"):
            explanation = glossary.explain(term.term, lang)
            assert explanation.lang == lang and explanation.reviewed and explanation.text
        for lang in ("ar", "fa", "uk", "ru", "tr"):
            explanation = glossary.explain(term.term, lang)
            assert explanation.lang == lang and not explanation.reviewed, (term.term, lang)


def test_explanation_falls_back_to_english(glossary: Glossary) -> None:
    assert glossary.explain("Duldung", "ps") == glossary.explain("Duldung", "en")


@pytest.mark.parametrize(
    ("text", "surfaces"),
    [
        ("Bitte bringen Sie Ihre Aufenthaltsgestattung mit.", ["Aufenthaltsgestattung"]),
        ("Zwei Duldungen liegen vor.", ["Duldungen"]),  # plural
        ("Die Kosten des Behandlungsscheins.", ["Behandlungsscheins"]),  # genitive
        ("Haben Sie den BAMF-Bescheid?", ["BAMF-Bescheid"]),  # hyphen compound is one unit
        ("Fragen Sie die ausländerbehörde!", ["ausländerbehörde"]),  # case-insensitive, punctuation after
        ("„Krankenschein“, (Jobcenter); Sozialamt: AsylbLG…", ["Krankenschein", "Jobcenter", "Sozialamt", "AsylbLG"]),
        ("Zwei Widersprüche gegen die Bescheide.", ["Widersprüche", "Bescheide"]),  # umlaut plural form
        ("ما خپل Bezahlkarte ورک کړی؟", ["Bezahlkarte"]),  # inside Pashto, before a Pashto question mark
        ("Das Bundesamt für Migration und Flüchtlinge entscheidet.", ["Bundesamt für Migration und Flüchtlinge"]),
    ],
)
def test_mask_replaces_every_protected_form_and_unmask_restores_it(
    glossary: Glossary, text: str, surfaces: list[str]
) -> None:
    masked = glossary.mask(text)
    assert sorted(masked.surfaces.values()) == sorted(surfaces)
    for surface in surfaces:
        assert surface not in masked.text
    assert glossary.unmask(masked.text, masked).text == text


@pytest.mark.parametrize(
    "text",
    [
        "Sie sind sehr bescheiden.",  # the adjective, not the official letter
        "Ich möchte nicht klagen.",  # the verb
        "Die Duldungsfrage ist offen.",  # a closed compound is not the term
        "Das Jobcentrum ist neu.",
    ],
)
def test_ordinary_words_are_not_masked(glossary: Glossary, text: str) -> None:
    masked = glossary.mask(text)
    assert masked.text == text and not masked.surfaces


def test_repeated_terms_share_a_placeholder_and_other_forms_get_their_own(glossary: Glossary) -> None:
    masked = glossary.mask("Duldung, Duldungen und wieder Duldung.")
    placeholders = {s: p for p, s in masked.surfaces.items()}
    one, other = placeholders["Duldung"], placeholders["Duldungen"]
    assert masked.text == f"{one}, {other} und wieder {one}."
    assert masked.counts[placeholders["Duldung"]] == 2
    assert masked.terms == ("Duldung",)
    translated = masked.text.replace("und wieder", "and again")
    assert glossary.unmask(translated, masked).text == "Duldung, Duldungen and again Duldung."


def test_placeholder_numbers_are_stable_per_term(glossary: Glossary) -> None:
    # A sentence masks the same alone and inside a longer text, so a model trained or cached on
    # sentences sees the same input either way.
    alone = glossary.mask("Fragen Sie das Ausländeramt.").text
    inside = glossary.mask("Die Bezahlkarte gilt. Fragen Sie das Ausländeramt.").text
    assert inside.endswith(alone)


def test_unmask_tolerates_spacing_and_case_a_model_may_introduce(glossary: Glossary) -> None:
    masked = glossary.mask("Bringen Sie die Duldung mit.")
    placeholder = next(iter(masked.surfaces))
    spaced = placeholder[0] + " " + placeholder[1:].lower()
    assert glossary.unmask(f"Bring the {spaced}.", masked).text == "Bring the Duldung."


def test_lost_placeholder_is_appended_and_invented_one_dropped(glossary: Glossary) -> None:
    masked = glossary.mask("Die Duldung und der Bescheid.")
    kept = next(p for p, s in masked.surfaces.items() if s == "Duldung")
    result = glossary.unmask(f"The {kept} and ZQ777.", masked)
    assert result.text == "The Duldung and . (Bescheid)"
    assert result.lost == ("Bescheid",)


def test_terms_in_lists_canonical_terms_once(glossary: Glossary) -> None:
    text = "Der BAMF-Bescheid, zwei Duldungen und eine Duldung; Krankenschein."
    assert glossary.terms_in(text) == ("BAMF", "Bescheid", "Duldung", "Krankenschein")
