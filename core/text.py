"""Text normalisation shared by the lexicons, the lexical ranker and the language identifier."""

from __future__ import annotations

import re
import unicodedata

# Arabic-script diacritics (tashkeel), Quranic marks and the tatweel carry no meaning for matching.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
# Arabic and Persian keyboards produce different code points for the same letter.
_LETTER_VARIANTS = str.maketrans(
    {
        "ی": "ي",
        "ى": "ي",
        "ئ": "ي",
        "ک": "ك",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ۀ": "ه",
        "ؤ": "و",
        "\u200c": " ",  # zero-width non-joiner (Persian half-space)
        "\u200d": "",
        "\u200f": "",
        "\u200e": "",
    }
)
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower-case, NFKC, unify Arabic-script letters and drop their diacritics, collapse spaces.

    Latin diacritics are kept: "schön" and "schon" are different German words.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_MARKS.sub("", text).translate(_LETTER_VARIANTS)
    return _SPACE.sub(" ", text).strip()


def has_letters(text: str) -> bool:
    """True when the text has at least one letter or digit (emoji-only messages have none)."""
    return any(ch.isalnum() for ch in text)


def normalise_pattern(pattern: str) -> str:
    """Bring a regular expression into the same letter space as :func:`normalise`.

    Only letter variants and diacritics are mapped: case-folding a pattern would turn ``\\W``
    into ``\\w``. Patterns are compiled case-insensitively instead.
    """
    return _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", pattern)).translate(_LETTER_VARIANTS)
