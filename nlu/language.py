"""Language identification tuned for short messages in the languages Wegweiser serves.

The script decides the candidate set first (Ge'ez → Tigrinya, Cyrillic → uk/ru, Arabic script →
ar/fa/ps, Latin → de/en/tr/fr/so/ku), then py3langid restricted to those candidates decides within
it. Letters unique to one language settle it outright. A person's own choice always wins over this
guess; Telegram's ``language_code`` is used as a prior when the text gives little evidence.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE
from py3langid.langid import LanguageIdentifier as _Py3LangId

SERVED_LANGUAGES: tuple[str, ...] = ("de", "en", "ar", "fa", "uk", "ru", "tr", "fr", "ps", "so", "ku", "ti")
# Dari speakers are served by the Farsi content; Telegram reports "prs" rarely, "fa" mostly.
ALIASES = {"prs": "fa", "ckb": "ku", "kmr": "ku", "am": "ti"}

_CANDIDATES = {
    "latin": ("de", "en", "tr", "fr", "so", "ku"),
    "cyrillic": ("uk", "ru"),
    "arabic": ("ar", "fa", "ps"),
}
_DECISIVE_LETTERS = {
    "uk": set("іїєґ"),
    "ru": set("ыэъё"),
    "ps": set("ټډړښږځڅۍېګڼ"),
    "tr": set("ığ"),
    "de": set("ßä"),
    "ku": set("êîû"),
    "fa": set("پچژگ"),
}


def _script(ch: str) -> str | None:
    code = ord(ch)
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if 0x1200 <= code <= 0x139F or 0x2D80 <= code <= 0x2DDF:
        return "ethiopic"
    if ch.isalpha() and (code < 0x0250 or 0x1E00 <= code <= 0x1EFF):
        return "latin"
    return None


@dataclass(frozen=True)
class LanguageGuess:
    lang: str | None
    confidence: float


def canonical_language(code: str | None) -> str | None:
    """Map a Telegram/BCP-47 code such as ``pt-br`` or ``prs`` to a served language, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    base = ALIASES.get(base, base)
    return base if base in SERVED_LANGUAGES else None


class LanguageIdentifier:
    """Thread-safe: py3langid's candidate restriction is state, so each script gets its own model."""

    def __init__(self) -> None:
        self._models: dict[str, _Py3LangId] = {}
        for script, langs in _CANDIDATES.items():
            model = _Py3LangId.from_model_file(MODEL_FILE, norm_probs=True)
            model.set_languages(list(langs))
            self._models[script] = model
        self._lock = threading.Lock()

    def identify(self, text: str, hint: str | None = None) -> LanguageGuess:
        counts: dict[str, int] = {}
        letters: set[str] = set()
        for ch in text.lower():
            script = _script(ch)
            if script:
                counts[script] = counts.get(script, 0) + 1
                letters.add(ch)
        prior = canonical_language(hint)
        if not counts:
            return LanguageGuess(prior, 0.0)
        # German office words ("Krankenschein") sit inside Arabic or Cyrillic sentences: a few
        # letters of a non-Latin script outweigh any amount of Latin.
        non_latin = {s: n for s, n in counts.items() if s != "latin" and n >= 3}
        pool = non_latin or counts
        script = max(pool, key=lambda s: pool[s])
        if script == "ethiopic":
            return LanguageGuess("ti", 1.0)
        candidates = _CANDIDATES[script]
        for lang, marks in _DECISIVE_LETTERS.items():
            if lang in candidates and letters & marks:
                # Persian letters also occur in Pashto; Pashto's own letters were checked first.
                return LanguageGuess(lang, 0.99)
        with self._lock:
            ranked = self._models[script].rank(text)
        best, confidence = ranked[0]
        # Little evidence (one or two words): trust the client's language if it fits the script.
        if prior in candidates and prior != best and confidence < 0.9:
            return LanguageGuess(prior, confidence)
        return LanguageGuess(str(best), float(confidence))
