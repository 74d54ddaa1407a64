"""Engine-level texts (no answer, hand-over, clarify) per language, with a fallback chain."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from core.languages import fallback_chain

MESSAGES_FILE = Path(__file__).with_name("engine_messages.yaml")


@dataclass(frozen=True)
class Message:
    lang: str
    text: str
    reviewed: bool


class EngineMessages:
    def __init__(self, path: Path = MESSAGES_FILE) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self._messages: dict[str, dict[str, str]] = data["messages"]
        self._status: dict[str, str] = data["status"]
        self.language_names: dict[str, str] = data["language_names"]

    def get(self, key: str, lang: str | None, **values: str) -> Message:
        texts = self._messages[key]
        for candidate in fallback_chain(lang):
            if candidate in texts:
                status = self._status.get(candidate, self._status["default"])
                return Message(candidate, texts[candidate].format(**values), status == "reviewed")
        raise KeyError(key)

    def languages(self, key: str) -> set[str]:
        return set(self._messages[key])


@cache
def engine_messages() -> EngineMessages:
    return EngineMessages()
