"""Arabic and Persian typed in Latin letters, written back in their own script.

The embedding model learnt Arabic and Persian in their script; "ana 3ndi dag6 3ali w sukkar" means
little to it, "انا عندي ضغط عالي و سكر" a lot. The rules below are deliberately rough (short vowels
are dropped as the script does, long ones kept): retrieval compares both spellings and keeps the
better match, so a poor transliteration costs nothing. German and English words people mix in
(Krankenschein, BAMF, termin) stay in Latin letters, as they would in an Arabic-script message.
"""

from __future__ import annotations

import re

from nlu.language import latin_markers

# Longest first: digraphs before single letters.
_ARABIZI = [
    ("sh", "ش"), ("ch", "ش"), ("kh", "خ"), ("gh", "غ"), ("th", "ث"), ("dh", "ذ"), ("ou", "و"), ("oo", "و"),
    ("ee", "ي"), ("ii", "ي"), ("aa", "ا"), ("ei", "ي"), ("ai", "ي"), ("ay", "ي"),
    ("3", "ع"), ("7", "ح"), ("5", "خ"), ("9", "ق"), ("6", "ط"), ("8", "غ"), ("2", "ء"),
    ("b", "ب"), ("t", "ت"), ("j", "ج"), ("g", "ج"), ("d", "د"), ("r", "ر"), ("z", "ز"), ("s", "س"),
    ("f", "ف"), ("q", "ق"), ("k", "ك"), ("l", "ل"), ("m", "م"), ("n", "ن"), ("h", "ه"), ("w", "و"),
    ("y", "ي"), ("p", "ب"), ("v", "ف"), ("x", "كس"), ("c", "ك"),
    ("u", "و"), ("o", "و"), ("i", "ي"), ("e", ""), ("a", ""),
]
_FINGLISH = [
    ("sh", "ش"), ("ch", "چ"), ("kh", "خ"), ("gh", "ق"), ("zh", "ژ"), ("ou", "و"), ("oo", "و"), ("ee", "ی"),
    ("ei", "ی"), ("ey", "ی"), ("ai", "ای"), ("aa", "ا"),
    ("b", "ب"), ("p", "پ"), ("t", "ت"), ("j", "ج"), ("d", "د"), ("r", "ر"), ("z", "ز"), ("s", "س"),
    ("f", "ف"), ("q", "ق"), ("k", "ک"), ("g", "گ"), ("l", "ل"), ("m", "م"), ("n", "ن"), ("h", "ه"),
    ("v", "و"), ("w", "و"), ("y", "ی"), ("c", "ک"), ("x", "کس"),
    ("u", "و"), ("o", ""), ("i", "ی"), ("e", ""), ("a", "ا"),
]
# Short vowels inside a word, not written in the script (final ones are).
_SHORT = {id(_ARABIZI): ("i", "u", "o"), id(_FINGLISH): ("o",)}
_WORD = re.compile(r"[\w'’]+|[^\w'’]+")
_ASCII_WORD = re.compile(r"^[a-z0-9']+$")
# Words people keep in German or English: written as they are.
_KEEP = frozenset(
    """
    bamf krankenschein behandlungsschein schule kita termin sozialamt jobcenter ausländeramt
    auslaenderamt auslanderamt ausländerbehörde landratsamt bescheid duldung gestattung
    aufenthaltsgestattung anhörung anhorung heim bezahlkarte ausbildung arzt doktor doctor police
    polizei hospital krankenhaus dublin bautzen dresden leipzig berlin hoyerswerda kamenz germany
    deutschland abgelehnt offensichtlich unbegründet widerspruch klage anwalt lawyer card karte station
    bus course kurs integrationskurs weekend school id passport pass ok
    """.split()  # noqa: SIM905 - a word list reads best as text
)


def _convert(word: str, table: list[tuple[str, str]], initial_vowel: str) -> str:
    lower = word.lower().replace("’", "'").replace("'", "")
    # German words with umlauts, Arabic-script words and numbers stay as they are.
    if not lower or lower in _KEEP or lower.isdigit() or not _ASCII_WORD.match(lower):
        return word
    out: list[str] = []
    i = 0
    while i < len(lower):
        if i == 0 and lower[0] in "aeiou":
            # A word-initial vowel is written with alif (ana → انا, ismi → اسمي).
            out.append(initial_vowel)
            if lower[:2] in {"ou", "oo", "ee", "ii", "aa", "ei", "ai"}:
                i += 2
                continue
            if lower[0] == "u":
                out.append("و")
            i += 1
            continue
        for latin, script in table:
            if lower.startswith(latin, i):
                final = i + len(latin) == len(lower)
                if final and latin in {"a", "e"}:
                    # A final short a/e is written (ه/ا), as in "madrase", "binta".
                    script = "ه" if latin == "e" else "ا"
                elif not final and latin in _SHORT.get(id(table), ()):
                    script = ""  # a short vowel inside a word is not written
                if not (out and script and out[-1] == script and len(latin) == 1 and latin.isalpha()):
                    out.append(script)  # doubled consonants are written once
                i += len(latin)
                break
        else:
            out.append(lower[i])
            i += 1
    return "".join(out)


def _transliterate(text: str, table: list[tuple[str, str]]) -> str:
    return "".join(_convert(tok, table, "ا") if tok[0].isalnum() else tok for tok in _WORD.findall(text))


def arabizi_to_arabic(text: str) -> str:
    return _transliterate(text, _ARABIZI)


def finglish_to_persian(text: str) -> str:
    return _transliterate(text, _FINGLISH)


def has_latin_letters(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum("a" <= ch.lower() <= "z" for ch in letters) / len(letters) > 0.6


def to_script(text: str, lang: str | None) -> str | None:
    """The text in Arabic or Persian script when it is Arabic or Persian typed in Latin letters."""
    if lang not in {"ar", "fa", "prs"} or not has_latin_letters(text):
        return None
    # Only text that itself reads as Arabizi or Finglish: a person who picked Arabic may write German.
    if latin_markers(text).get("fa" if lang == "prs" else lang, 0.0) < 1:
        return None
    return arabizi_to_arabic(text) if lang == "ar" else finglish_to_persian(text)
