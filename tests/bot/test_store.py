"""The store on a real SQLite file, created by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, update

from bot.store import Pseudonymizer, Store, UnansweredQuestion


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'w.db'}")


def test_migrations_create_the_schema(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"people", "feedback", "unanswered_questions", "alembic_version", "helpers", "invites",
            "conversations", "offers", "relay_messages", "audit_log"} <= tables


def test_the_migrations_match_the_models_exactly(store: Store) -> None:
    """A column added to a model without a migration (or the other way round) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import bot.handover.models  # noqa: F401 - registers the hand-over tables on the metadata
    from bot.store import Base

    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_language_consent_and_feedback_are_kept_under_the_pseudonymous_key(store: Store) -> None:
    store.set_language("k1", "ar")
    store.set_consent("k1")
    store.add_feedback("k1", "entry.a", True)
    state = store.person("k1")
    assert state is not None and state.language == "ar" and state.consented
    assert store.feedback_count("k1") == 1
    assert store.person("k2") is None


def test_delete_erases_everything_linked_to_the_person_only(store: Store) -> None:
    for key in ("k1", "k2"):
        store.set_language(key, "fa")
        store.add_feedback(key, "entry.a", False)
    store.add_unanswered("wo ist das Fundbüro", "de")
    deleted = store.delete_person("k1")
    assert (deleted.person, deleted.feedback) == (1, 1)
    assert store.person("k1") is None and store.feedback_count("k1") == 0
    assert store.person("k2") is not None and store.feedback_count("k2") == 1
    assert store.unanswered() == [("wo ist das Fundbüro", "de")]


def test_unanswered_questions_expire(store: Store) -> None:
    store.add_unanswered("old", "de")
    store.add_unanswered("new", "de")
    with store.engine.begin() as conn:
        conn.execute(update(UnansweredQuestion).where(UnansweredQuestion.text == "old")
                     .values(created_at=datetime.now(UTC) - timedelta(days=40)))
    assert store.purge_unanswered(30) == 1
    assert store.unanswered() == [("new", "de")]


def test_pseudonyms_are_stable_keyed_and_not_the_raw_id(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    a = Pseudonymizer.from_env_or_file(None, key_file)
    b = Pseudonymizer.from_env_or_file(None, key_file)
    assert a.key("telegram", 12345) == b.key("telegram", 12345)
    assert "12345" not in a.key("telegram", 12345)
    assert Pseudonymizer(b"x" * 32).key("telegram", 1) != Pseudonymizer(b"y" * 32).key("telegram", 1)
    assert oct(key_file.stat().st_mode)[-3:] == "600"
