"""Curated answers in the person's language: curated text first, else a labelled machine translation.

Which curated text to machine-translate: German and English are both authored originals. Argos'
packages are English-centred (en↔X for nearly every language, de↔X mostly through English), so we
take the original with the shorter route and, on a tie, the German one, which is the authoritative
text staff wrote against the sources.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import TranslationUnavailable
from knowledge.schema import Entry
from translations.glossary import Explanation, Glossary, default_glossary
from translations.translator import Translator
from translations.ui import UiCatalog

log = logging.getLogger(__name__)
MT_SOURCES = ("de", "en")


@dataclass(frozen=True)
class MachineAnswer:
    text: str
    lang: str
    source_lang: str
    terms: tuple[str, ...]
    cached: bool


def _hops(translator: Translator, source: str, target: str) -> int:
    route = getattr(translator, "route", None)
    return len(route(source, target)) if callable(route) else 1


def machine_source(entry: Entry, target: str, translator: Translator) -> str | None:
    """The curated original to translate into ``target``, or None when no package reaches it."""
    usable = [lang for lang in MT_SOURCES if lang in entry.answers and translator.can_translate(lang, target)]
    if not usable:
        return None
    return min(usable, key=lambda lang: (_hops(translator, lang, target), MT_SOURCES.index(lang)))


def machine_answer(entry: Entry, target: str, translator: Translator) -> MachineAnswer | None:
    """The entry's answer machine-translated into ``target`` (from the cache when pre-translated by
    ``wegweiser translations build``), or None when no package covers the language. Synchronous and
    possibly slow on a cache miss: call it from a worker thread."""
    source = machine_source(entry, target, translator)
    if source is None:
        return None
    try:
        result = translator.translate(entry.answers[source].text, source, target)
    except TranslationUnavailable:
        return None
    return MachineAnswer(result.text, target, source, result.terms, result.cached)


def term_explanations(terms: tuple[str, ...] | list[str], lang: str | None,
                      glossary: Glossary | None = None) -> list[Explanation]:
    glossary = glossary or default_glossary()
    return [glossary.explain(term, lang) for term in terms]


def answer_notes(ui: UiCatalog, lang: str | None, terms: list[str] | tuple[str, ...],
                 glossary: Glossary | None = None) -> list[str]:
    """What follows a machine-translated answer: the label, then each protected German term with its
    explanation in the person's language (English where we have none yet)."""
    notes = ["ⓘ " + ui.get(lang, "answer.label.machine_translated")]
    if terms:
        lines = [ui.get(lang, "answer.terms_heading")]
        lines += [f"• {e.term}: {e.text}" for e in term_explanations(terms, lang, glossary)]
        notes.append("\n".join(lines))
    return notes
