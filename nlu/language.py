"""Language identification tuned for short messages in the languages Wegweiser serves.

The script decides the candidate set first (Ge'ez → Tigrinya, Cyrillic → uk/ru, Arabic script →
ar/fa/ps, Latin → de/en/tr/fr/so/ku), then py3langid restricted to those candidates decides within
it. Letters unique to one language settle it outright. A person's own choice always wins over this
guess; Telegram's ``language_code`` is used as a prior when the text gives little evidence.

py3langid knows standard written languages. People type otherwise: Arabic in Latin letters with
digits for the sounds Latin lacks ("Arabizi": 3 = ع, 7 = ح), Persian in Latin letters ("Finglish"),
Turkish without its diacritics, Iraqi and Gulf Arabic with گ and چ from a Persian layout. Marker
words and keyboard letters catch those before the statistical model is asked.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml
from py3langid.langid import MODEL_FILE
from py3langid.langid import LanguageIdentifier as _Py3LangId

from core.text import normalise

# "prs" (Dari) is served when a person picks it; text is identified as "fa" (one written language).
SERVED_LANGUAGES: tuple[str, ...] = (
    "de", "en", "ar", "fa", "uk", "ru", "tr", "fr", "ps", "so", "ku", "ti", "prs",
)
ALIASES = {"ckb": "ku", "kmr": "ku", "am": "ti"}

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
    # چ and گ are not decisive: Iraqi and Gulf Arabic write them too (چان، گال).
    "fa": set("پژ"),
}
# Arabic and Persian keyboards type different code points for ی/ي and ک/ك; ة and ى are Arabic only.
_ARABIC_KEYBOARD = set("يكةى")
_PERSIAN_KEYBOARD = set("یکپژچگ")

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# A digit standing for a letter inside a Latin word: "3andi", "ma7al", "2a5od", "mas2ale".
_ARABIZI_DIGIT = re.compile(r"^(?=(?:.*[a-z]){2})(?=.*[2356789])[a-z2356789']{3,}$")
_NOT_ARABIZI = re.compile(r"^\d+(st|nd|rd|th|e|er|eme|ème|te|ten|x|h|km|kg|min|am|pm)$")

# Marker words per language (see the file's header); Arabic-script ones compared after normalise().
MARKERS_FILE = Path(__file__).with_name("lexicons") / "language_markers.yaml"


def _load_markers(path: Path = MARKERS_FILE) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    latin = {lang: frozenset(str(words).lower().split()) for lang, words in data["latin"].items()}
    arabic = {lang: frozenset(normalise(w) for w in str(words).split())
              for lang, words in data["arabic_script"].items()}
    return latin, arabic


_LATIN_MARKERS, _ARABIC_SCRIPT_MARKERS = _load_markers()


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
    """Map a Telegram/BCP-47 code such as ``pt-br`` or ``fa-AF`` to a served language, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    base = ALIASES.get(base, base)
    return base if base in SERVED_LANGUAGES else None


def latin_markers(text: str) -> dict[str, float]:
    """Evidence for languages typed in Latin letters that py3langid does not model (Arabizi,
    Finglish) or models only with their diacritics (Turkish typed on a German keyboard)."""
    words = [w.replace("’", "'") for w in _WORD.findall(text.lower())]
    scores: dict[str, float] = {}
    for lang, markers in _LATIN_MARKERS.items():
        hits = sum(1 for w in words if w in markers)
        if hits:
            scores[lang] = float(hits)
    digits = sum(1 for w in words if _ARABIZI_DIGIT.match(w) and not _NOT_ARABIZI.match(w))
    if digits:
        scores["ar"] = scores.get("ar", 0.0) + 1.5 * digits
    return scores


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
        letters: dict[str, int] = {}
        for ch in text.lower():
            script = _script(ch)
            if script:
                counts[script] = counts.get(script, 0) + 1
                letters[ch] = letters.get(ch, 0) + 1
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
        # Marker words first: a German office word's umlaut must not make Arabizi German.
        if script == "latin" and (guess := self._latin_by_markers(text, letters, prior)) is not None:
            return guess
        for lang, marks in _DECISIVE_LETTERS.items():
            if lang in candidates and marks.intersection(letters):
                # Persian letters also occur in Pashto; Pashto's own letters were checked first.
                return LanguageGuess(lang, 0.99)
        if script == "arabic" and (guess := self._arabic_by_evidence(text, letters)) is not None:
            return guess
        with self._lock:
            ranked = self._models[script].rank(text)
        best, confidence = ranked[0]
        # Little evidence (one or two words): trust the client's language if it fits the script.
        if prior in candidates and prior != best and confidence < 0.9:
            return LanguageGuess(prior, confidence)
        return LanguageGuess(str(best), float(confidence))

    @staticmethod
    def _latin_by_markers(text: str, letters: dict[str, int], prior: str | None) -> LanguageGuess | None:
        # Letters of Kurmanji, Turkish and French settle those languages before any marker word
        # (German umlauts do not: they come with office words inside Arabizi and Finglish).
        if set("çşğıêîûéèàâœ").intersection(letters):
            return None
        scores = latin_markers(text)
        if not scores:
            return None
        best = max(scores, key=lambda k: scores[k])
        others = sum(v for k, v in scores.items() if k != best)
        words = max(1, len(_WORD.findall(text)))
        # Two marker words, or one in a message of at most three words, and a clear lead; against a
        # Latin-script client language (Somali, French, German …) three.
        needed = 3.0 if prior in _CANDIDATES["latin"] and prior != best else 2.0
        if scores[best] - others >= 1 and (scores[best] >= needed or (words <= 3 and needed == 2.0)):
            return LanguageGuess(best, min(0.98, 0.6 + 0.1 * scores[best]))
        return None

    @staticmethod
    def _arabic_by_evidence(text: str, letters: dict[str, int]) -> LanguageGuess | None:
        """Dialect words and the keyboard's letters; None leaves the decision to py3langid."""
        words = normalise(text).split()
        scores = {lang: float(sum(1 for w in words if w in markers))
                  for lang, markers in _ARABIC_SCRIPT_MARKERS.items()}
        arabic_keys = sum(n for ch, n in letters.items() if ch in _ARABIC_KEYBOARD)
        persian_keys = sum(n for ch, n in letters.items() if ch in _PERSIAN_KEYBOARD)
        # A one-sided keyboard counts as one marker word: Persian typed on an Arabic layout exists.
        if arabic_keys >= 2 and persian_keys == 0:
            scores["ar"] += 1
        elif persian_keys >= 2 and arabic_keys == 0:
            scores["fa"] += 1
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        (best, top), (_, second) = ranked[0], ranked[1]
        if top >= 2 and top - second >= 1.5:
            return LanguageGuess(best, min(0.97, 0.6 + 0.1 * (top - second)))
        return None
