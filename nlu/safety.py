"""Deterministic checks that run before any model: acute crises and explicit requests for a person.

Both read curated lexicons (``nlu/lexicons/*.yaml``) of regular expressions per language. Every
language's patterns are tried on every message, because people mix languages and the language
guess on a panicked three-word message is unreliable. No classifier can override a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import ContentError
from core.languages import fallback_chain
from core.text import normalise, normalise_pattern

LEXICON_DIR = Path(__file__).with_name("lexicons")
# Crisis categories in order of precedence when several match: life first.
CRISIS_ORDER = ("suicidal", "medical", "violence")


@dataclass(frozen=True)
class CrisisMatch:
    category: str
    topic: str
    pattern_lang: str


def _compile(patterns: dict[str, list[str]], where: str) -> list[tuple[str, re.Pattern[str]]]:
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for lang, items in patterns.items():
        for raw in items or []:
            try:
                compiled.append((lang, re.compile(normalise_pattern(raw), re.IGNORECASE)))
            except re.error as e:
                raise ContentError(f"{where}: bad pattern for {lang}: {raw!r}: {e}") from e
    return compiled


def read_lexicon(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ContentError(f"cannot read lexicon {path}: {e}") from e
    if not isinstance(data, dict):
        raise ContentError(f"lexicon {path} is not a mapping")
    return data


class CrisisDetector:
    def __init__(self, path: Path = LEXICON_DIR / "crisis.yaml") -> None:
        data = read_lexicon(path)
        self._categories: dict[str, tuple[str, list[tuple[str, re.Pattern[str]]]]] = {}
        for name in CRISIS_ORDER:
            cat = data["categories"][name]
            self._categories[name] = (cat["topic"], _compile(cat["patterns"], f"{path}:{name}"))
        self.messages: dict[str, dict[str, str]] = {
            name: {lang: str(text).strip() for lang, text in msgs.items()}
            for name, msgs in data["messages"].items()
        }
        self.examples: dict[str, list[dict[str, str]]] = data.get("examples", {})

    def check(self, text: str) -> CrisisMatch | None:
        norm = normalise(text)
        for name in CRISIS_ORDER:
            topic, patterns = self._categories[name]
            for lang, pattern in patterns:
                if pattern.search(norm):
                    return CrisisMatch(name, topic, lang)
        return None

    def message(self, category: str, lang: str) -> tuple[str, str]:
        """The crisis reply in ``lang`` or its fallback chain; returns (language, text)."""
        msgs = self.messages[category]
        for candidate in fallback_chain(lang):
            if candidate in msgs:
                return candidate, msgs[candidate]
        raise ContentError(f"no crisis message for {category}")


class HumanRequestDetector:
    def __init__(self, path: Path = LEXICON_DIR / "human_request.yaml") -> None:
        data = read_lexicon(path)
        self._patterns = _compile(data["patterns"], str(path))
        self.examples: dict[str, list[dict[str, str]]] = data.get("examples", {})

    def check(self, text: str) -> bool:
        norm = normalise(text)
        return any(p.search(norm) for _, p in self._patterns)
