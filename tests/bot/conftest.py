from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue import DialogueService, DialogueSettings
from bot.store import Store
from retrieval.engine import AnswerEngine


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'bot.db'}")


@pytest.fixture
def dialogue(engine: AnswerEngine, store: Store) -> DialogueService:
    return DialogueService(engine, store, DialogueSettings(flood_messages=5, flood_window_s=60))
