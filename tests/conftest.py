"""Session-wide fixtures: the real models and the real index are loaded once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from core.config import Settings
from retrieval.embedder import E5SmallEmbedder
from retrieval.engine import AnswerEngine
from translations.translator import NoTranslator

# Tiny real argostranslate packages (built once per session) and translators over them.
pytest_plugins = ["tests.translations.argos_fixture"]

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The shipped defaults; the index cache is the one `scripts/setup.sh` built (or built here once).
    return Settings.from_env()


@pytest.fixture(scope="session")
def e5() -> E5SmallEmbedder:
    return E5SmallEmbedder()


@pytest.fixture(scope="session")
def engine(settings: Settings, e5: E5SmallEmbedder) -> AnswerEngine:
    # No machine translation unless a test asks for it (a developer's installed packages must not
    # change what the engine tests see).
    return AnswerEngine.build(settings, embedder=e5, translator=NoTranslator())
