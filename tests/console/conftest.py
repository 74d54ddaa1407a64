"""A console on a copy of the real pack, the session's engine and a fresh SQLite database."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from bot.handover.registry import Registry
from bot.handover.teams import TEAMS_FILE, Teams
from bot.store import Store
from console.auth import StaffAuth
from console.publish import ContentService, LiveContent, RegressionGate
from console.queue import ReviewQueue
from console.web import ConsoleContext
from core.config import Settings
from knowledge.topics import load_topics
from retrieval.engine import AnswerEngine
from retrieval.index import IndexStore

PASSWORD = "ein-langes-passwort"
ENTRY = "bautzen.dentist.toothache-dental-voucher"


def make_context(engine: AnswerEngine, folder: Path, gate: RegressionGate) -> tuple[ConsoleContext, Store]:
    """A copy of the real pack, a fresh database, and the session's engine writing its index here."""
    content = folder / "bautzen"
    shutil.copytree(Settings().content_dir, content)
    store = Store(f"sqlite:///{folder / 'console.db'}")
    live_engine = copy.copy(engine)
    live_engine.index_store = IndexStore(folder / "index")
    live = LiveContent(live_engine)
    topics = set(load_topics())
    teams = Teams.load(TEAMS_FILE, topics)
    return ConsoleContext(StaffAuth(store.sessions, b"k" * 32), ContentService(content, store.sessions, live, gate),
                          ReviewQueue(store.sessions, engine.ranker.embedder), live,
                          Registry(store, teams.timezone, topics, set(teams.teams))), store


@pytest.fixture
def ctx(engine: AnswerEngine, tmp_path: Path) -> ConsoleContext:
    # A small gate keeps these tests quick; the browser tests run the full evaluation set.
    return make_context(engine, tmp_path, RegressionGate(RegressionGate().items[:40]))[0]
