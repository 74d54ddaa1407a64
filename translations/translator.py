"""The machine-translation port: what the answer path and the hand-over need from a translator.

The argostranslate implementation lives in ``translations.machine``; callers depend only on this
protocol, so a district without any packages runs with :class:`NoTranslator` and nothing fails.
Every method is synchronous and may load a model: async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import TranslationUnavailable


@dataclass(frozen=True)
class Translation:
    text: str
    source: str  # ISO 639-1 code of the input
    target: str
    path: tuple[str, ...]  # languages passed through, e.g. ("ps", "en", "de") for a pivot
    cached: bool = False
    machine: bool = True  # always labelled as machine-translated to the reader
    terms: tuple[str, ...] = ()  # protected glossary terms kept verbatim (canonical form)
    lost_terms: tuple[str, ...] = ()  # protected terms the model dropped; appended to ``text``


class Translator(Protocol):
    def can_translate(self, source: str, target: str) -> bool: ...

    def translate(self, text: str, source: str, target: str) -> Translation:
        """Raises :class:`TranslationUnavailable` when no package covers the pair."""
        ...


class NoTranslator:
    """No packages installed: every pair is unavailable (the caller falls back, nothing fails)."""

    def can_translate(self, source: str, target: str) -> bool:
        return source == target

    def translate(self, text: str, source: str, target: str) -> Translation:
        if source == target:
            return Translation(text, source, target, (source,), machine=False)
        raise TranslationUnavailable(f"no translation package for {source}→{target}")
