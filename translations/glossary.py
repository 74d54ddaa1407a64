"""Protected German terms: masked before machine translation, restored verbatim after it.

A person will meet "Aufenthaltsgestattung" or "Behandlungsschein" on paper and at office doors, so a
translation must never turn them into a paraphrase. Before a text goes to a model every protected term
(with its inflected, hyphen-compound and abbreviated forms) is replaced by a placeholder ``ZQ<n>``;
after translation the placeholder is replaced by the exact German surface form again.

Why ``ZQ<n>``: ASCII capitals and digits are in every Argos SentencePiece vocabulary (no ``<unk>``),
NFKC normalisation leaves them unchanged, Argos' decoder turns ``_`` into spaces (so no underscores),
and the letter pair occurs in no word of our languages. Models copy such tokens like names and
numbers; when one is nevertheless lost, :meth:`Glossary.unmask` appends the German term rather than
silently dropping it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from core.errors import ContentError

GLOSSARY_FILE = Path(__file__).with_name("glossary.yaml")
PLACEHOLDER_PREFIX = "ZQ"
EXTRA_PLACEHOLDERS = 900
# Regular German noun endings: Duldung-en, Bescheid-e/-es/-s, Behandlungsschein-s, Klage-n …
_ENDINGS = r"(?:e|n|en|s|es|er|ern)?"
# A model may add a space inside a placeholder or change its case; it must not run into a letter.
_PLACEHOLDER = re.compile(r"(?<![A-Za-z])Z\s?Q\s?(\d{1,3})(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Term:
    term: str
    forms: tuple[str, ...] = ()
    case_sensitive: bool = False
    explanations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    term: str
    lang: str
    text: str
    reviewed: bool


@dataclass(frozen=True)
class Masked:
    """A text with its protected terms replaced; ``surfaces`` maps each placeholder to what it hides."""

    text: str
    surfaces: dict[str, str]
    terms: tuple[str, ...]  # canonical terms, in order of first appearance
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Unmasked:
    text: str
    lost: tuple[str, ...] = ()  # surfaces whose placeholder the model dropped (appended at the end)


class Glossary:
    def __init__(self, terms: list[Term], reviewed_languages: tuple[str, ...] = ("de", "en"),
                 version: str = "") -> None:
        if not terms:
            raise ContentError("the glossary has no terms")
        self.terms = terms
        self.reviewed_languages = reviewed_languages
        self.version = version or hashlib.sha256(repr(terms).encode()).hexdigest()[:12]
        self._by_name = {t.term: t for t in terms}
        self._number = {t.term: i for i, t in enumerate(terms, start=1)}
        if len(terms) >= EXTRA_PLACEHOLDERS:
            raise ContentError(f"the glossary may hold at most {EXTRA_PLACEHOLDERS - 1} terms")
        parts = []
        for i, term in enumerate(terms):
            # Longest alternative first, so "Ausländerbehörde" wins over any shorter form.
            alternatives = sorted({term.term, *term.forms}, key=len, reverse=True)
            core = "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in alternatives)
            scope = "?:" if term.case_sensitive else "?i:"
            parts.append(f"(?P<t{i}>({scope}(?:{core}){_ENDINGS}))")
        # A hyphen compound ("BAMF-Bescheid", "Jobcenter-Termin") is protected as one unit.
        self._pattern = re.compile(
            r"(?<![\w-])(?:\w+-)*(?:" + "|".join(parts) + r")(?:-\w+)*(?![\w-])"
        )

    @classmethod
    def load(cls, path: Path = GLOSSARY_FILE) -> Glossary:
        raw = path.read_bytes()
        try:
            data = yaml.safe_load(raw)
            terms = [
                Term(
                    term=str(item["term"]),
                    forms=tuple(str(f) for f in item.get("forms") or ()),
                    case_sensitive=bool(item.get("case_sensitive", False)),
                    explanations={str(k): str(v) for k, v in item["explanations"].items()},
                )
                for item in data["terms"]
            ]
        except (yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
            raise ContentError(f"{path}: malformed glossary: {e}") from e
        return cls(terms, tuple(data.get("reviewed") or ("de", "en")), hashlib.sha256(raw).hexdigest()[:12])

    # ------------------------------------------------------------------ finding terms
    def _term_of(self, m: re.Match[str]) -> str:
        name = next(k for k, v in m.groupdict().items() if v is not None)
        return self.terms[int(name[1:])].term

    def _matches(self, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """(start, end, canonical terms) of every protected span, left to right; a hyphen compound
        such as "BAMF-Bescheid" is one span with two terms."""
        found = []
        for m in self._pattern.finditer(text):
            parts = m.group(0).split("-")
            inner = [self._term_of(p) for p in map(self._pattern.fullmatch, parts) if p] if len(parts) > 1 else []
            found.append((m.start(), m.end(), tuple(dict.fromkeys(inner or [self._term_of(m)]))))
        return found

    def terms_in(self, text: str) -> tuple[str, ...]:
        """Canonical terms that occur in ``text`` (each once, in order of first appearance)."""
        return tuple(dict.fromkeys(term for _, _, terms in self._matches(text) for term in terms))

    # ------------------------------------------------------------------ masking
    def mask(self, text: str) -> Masked:
        """Replace protected spans by placeholders. A term's placeholder number is its place in the
        glossary, so a sentence masks the same way alone or inside a longer answer (models see stable
        input, and the cache stays valid); a second surface form of a term in the same text
        ("Duldung" … "Duldungen") gets a number from ``EXTRA_PLACEHOLDERS`` on."""
        by_surface: dict[str, str] = {}
        used: set[int] = set()
        extra = EXTRA_PLACEHOLDERS
        out: list[str] = []
        surfaces: dict[str, str] = {}
        counts: dict[str, int] = {}
        terms: list[str] = []
        last = 0
        for start, end, span_terms in self._matches(text):
            surface = text[start:end]
            if surface not in by_surface:
                n = self._number[span_terms[0]]
                if n in used:
                    n, extra = extra, extra + 1
                used.add(n)
                by_surface[surface] = f"{PLACEHOLDER_PREFIX}{n}"
            placeholder = by_surface[surface]
            surfaces[placeholder] = surface
            counts[placeholder] = counts.get(placeholder, 0) + 1
            terms.extend(span_terms)
            out.append(text[last:start])
            out.append(placeholder)
            last = end
        out.append(text[last:])
        return Masked("".join(out), surfaces, tuple(dict.fromkeys(terms)), counts)

    def unmask(self, translated: str, masked: Masked) -> Unmasked:
        """Put the German surface forms back. A placeholder the model invented is dropped; one it lost is
        appended in parentheses, so the reader still sees every protected term of the original."""
        seen: set[str] = set()

        def restore(m: re.Match[str]) -> str:
            placeholder = f"{PLACEHOLDER_PREFIX}{int(m.group(1))}"
            if placeholder not in masked.surfaces:
                return ""
            seen.add(placeholder)
            return masked.surfaces[placeholder]

        text = _PLACEHOLDER.sub(restore, translated)
        if len(seen) < len(masked.surfaces):
            text = re.sub(r"[ \t]{2,}", " ", text)
        lost = tuple(s for p, s in masked.surfaces.items() if p not in seen)
        if lost:
            text = f"{text.rstrip()} ({', '.join(lost)})"
        return Unmasked(text, lost)

    # ------------------------------------------------------------------ explanations
    def explain(self, term: str, lang: str | None) -> Explanation:
        """The explanation in ``lang``, else English, else German."""
        entry = self._by_name[term]
        for candidate in (lang, "en", "de"):
            if candidate and candidate in entry.explanations:
                return Explanation(term, candidate, entry.explanations[candidate],
                                   candidate in self.reviewed_languages)
        raise KeyError(term)


@cache
def default_glossary() -> Glossary:
    return Glossary.load()
