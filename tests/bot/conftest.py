from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue import DialogueService, DialogueSettings
from bot.store import Store
from nlu.intents import NluService, create_nlu
from retrieval.embedder import E5SmallEmbedder
from retrieval.engine import AnswerEngine


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'bot.db'}")


@pytest.fixture(scope="session")
def nlu(e5: E5SmallEmbedder, tmp_path_factory: pytest.TempPathFactory) -> NluService:
    return create_nlu("builtin", tmp_path_factory.mktemp("nlu"), e5)


@pytest.fixture
def dialogue(engine: AnswerEngine, store: Store, nlu: NluService) -> DialogueService:
    return DialogueService(engine, store, DialogueSettings(flood_messages=5, flood_window_s=60), nlu=nlu)
