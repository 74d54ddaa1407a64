from __future__ import annotations

import pytest

from nlu.language import LanguageIdentifier, canonical_language


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("wo bekomme ich einen krankenschein", "de"),
        ("where can i get a health voucher", "en"),
        ("كيف أحصل على Krankenschein", "ar"),
        ("چطور می‌توانم کارت پرداخت بگیرم", "fa"),
        ("скільки грошей на Bezahlkarte", "uk"),
        ("сколько денег на карте", "ru"),
        ("çalışma izni nasıl alırım", "tr"),
        ("comment avoir un rendez-vous chez le médecin", "fr"),
        ("زه ډاکټر ته اړتیا لرم", "ps"),
        ("ሓገዝ ይደሊ ኣለኹ", "ti"),
        ("ez dixwazim biçim cem doktor", "ku"),
    ],
)
def test_short_messages_are_identified(identifier: LanguageIdentifier, text: str, lang: str) -> None:
    assert identifier.identify(text).lang == lang


def test_german_office_word_inside_arabic_does_not_make_it_german(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("متى احصل على Aufenthaltsgestattung").lang == "ar"


def test_emoji_only_has_no_language_but_keeps_the_client_hint(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("🙏🙏").lang is None
    assert identifier.identify("🙏🙏", hint="uk").lang == "uk"


def test_client_language_settles_a_one_word_message(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("hilfe", hint="de-DE").lang == "de"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # Arabizi: Arabic in Latin letters, digits for ع ح ء خ; German office words inside.
        ("ana 3ndi mushkila ma3 el Sozialamt", "ar"),
        ("shlonak akhi wein el Ausländeramt", "ar"),
        ("kif fini jib Krankenschein la ibni?", "ar"),
        ("chno ndir ila jatni lettre mn BAMF", "ar"),
        # Colloquial Arabic in Arabic script: Iraqi with گ, Levantine, Egyptian.
        ("شلون اگدر اسوي موعد بالAusländeramt", "ar"),
        ("شو لازم اعمل اذا اجاني رفض", "ar"),
        ("انا عايز اشتغل ازاي", "ar"),
        ("ابني مريض وين اروح", "ar"),
        # Finglish and spoken Persian.
        ("man nameye rad gereftam che konam", "fa"),
        ("salam man az afghanistan hastam komak mikham", "fa"),
        ("چطوری میتونم Krankenschein بگیرم", "fa"),
        # Turkish typed without its letters.
        ("krankenschein nereden alinir", "tr"),
    ],
)
def test_languages_as_people_type_them(identifier: LanguageIdentifier, text: str, lang: str) -> None:
    assert identifier.identify(text).lang == lang


@pytest.mark.parametrize(
    "text",
    ["mein sohn atmet nicht", "where can i get the card", "la voiture est en panne", "waxaan u baahanahay dhakhtar",
     "I have 3 kids and 2 bags", "termin am 3.5. um 9 uhr"],
)
def test_marker_words_do_not_take_over_other_latin_languages(identifier: LanguageIdentifier, text: str) -> None:
    assert identifier.identify(text).lang not in {"ar", "fa"}


@pytest.mark.parametrize(("code", "expected"), [("de-DE", "de"), ("prs", "prs"), ("fa-AF", "fa"), ("pt-br", None),
                                                (None, None)])
def test_client_codes_map_to_served_languages(code: str | None, expected: str | None) -> None:
    assert canonical_language(code) == expected
