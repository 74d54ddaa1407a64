"""What the bot remembers, and nothing more: SQLAlchemy 2 (SQLite by default), Alembic migrations.

* ``people``: language and consent under a pseudonymous key (a keyed hash of the Telegram id);
* ``feedback``: helpful / not helpful per entry, under the same key, erased by /delete;
* ``unanswered_questions``: the staff review queue – questions without an answer, clarifications,
  "none of these" and answers that got 👎 – text, language and date only, no identity; deleted
  after a configurable number of days;
* ``question_events``: one row per question for the console's counts (language, topic, outcome;
  no text, no identity).
Synchronous on purpose: the dialogue calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Boolean, DateTime, Integer, String, Text, create_engine, delete, func, select
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"

    user_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    inactive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    entry_id: Mapped[str] = mapped_column(String(200))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# Why a question is in the staff review queue.
REVIEW_KINDS = ("unanswered", "clarify", "none_of_these", "not_helpful")


class UnansweredQuestion(Base):
    """A question for staff to review (the queue); never linked to a person."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="unanswered")
    entry_id: Mapped[str | None] = mapped_column(String(200))  # the answer that got 👎, the clarify's best guess
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open | added | dismissed


class QuestionEvent(Base):
    """Counts for the console: when, in which language, about which topic, with which outcome."""

    __tablename__ = "question_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    lang: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # answered | clarify | escalate | emergency | handover


@dataclass(frozen=True)
class PersonState:
    language: str | None
    consented: bool
    inactive: bool


@dataclass(frozen=True)
class Deleted:
    person: int
    feedback: int


class Pseudonymizer:
    """Keyed hash of a channel's user id: stable across restarts, useless without the key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must have at least 16 bytes")
        self._key = key

    @classmethod
    def from_env_or_file(cls, env_value: str | None, key_file: Path) -> Pseudonymizer:
        if env_value:
            return cls(env_value.encode())
        # Local use without configuration: a random key kept next to the database, readable by us only.
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_bytes(secrets.token_bytes(32))
            key_file.chmod(0o600)
        return cls(key_file.read_bytes())

    def key(self, channel: str, user_id: int | str) -> str:
        return hmac.new(self._key, f"{channel}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def upgrade_database(url: str) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


def _rowcount(result: object) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


class Store:
    def __init__(self, url: str, migrate: bool = True) -> None:
        if migrate:
            upgrade_database(url)
        self.engine: Engine = create_engine(url, future=True)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.sessions = self._session  # shared with the hand-over's tables (same database, same migrations)

    def person(self, user_key: str) -> PersonState | None:
        with self._session() as s:
            p = s.get(Person, user_key)
            return PersonState(p.language, p.consent_at is not None, p.inactive) if p else None

    def _upsert(self, s: Session, user_key: str) -> Person:
        p = s.get(Person, user_key)
        if p is None:
            p = Person(user_key=user_key)
            s.add(p)
        return p

    def set_language(self, user_key: str, language: str) -> None:
        with self._session.begin() as s:
            p = self._upsert(s, user_key)
            p.language = language
            p.inactive = False

    def set_consent(self, user_key: str) -> None:
        with self._session.begin() as s:
            self._upsert(s, user_key).consent_at = _now()

    def mark_inactive(self, user_key: str) -> None:
        with self._session.begin() as s:
            p = s.get(Person, user_key)
            if p is not None:
                p.inactive = True

    def add_feedback(self, user_key: str, entry_id: str, helpful: bool) -> None:
        with self._session.begin() as s:
            s.add(Feedback(user_key=user_key, entry_id=entry_id, helpful=helpful))

    def add_unanswered(self, text: str, lang: str | None, kind: str = "unanswered",
                       entry_id: str | None = None) -> int:
        # The day only: a 👎 row must not be matched to the person's feedback row by its exact time.
        day = _now().replace(hour=0, minute=0, second=0, microsecond=0)
        with self._session.begin() as s:
            row = UnansweredQuestion(text=text, lang=lang, kind=kind, entry_id=entry_id, created_at=day)
            s.add(row)
            s.flush()
            return int(row.id)

    def set_review_kind(self, row_id: int, kind: str) -> None:
        """A clarification the person answered with "none of these" becomes that kind of item."""
        with self._session.begin() as s:
            row = s.get(UnansweredQuestion, row_id)
            if row is not None:
                row.kind = kind

    def add_event(self, lang: str | None, topic: str | None, status: str) -> None:
        with self._session.begin() as s:
            s.add(QuestionEvent(lang=lang, topic=topic, status=status))

    def unanswered(self, kind: str = "unanswered") -> list[tuple[str, str | None]]:
        with self._session() as s:
            rows = s.scalars(select(UnansweredQuestion).where(UnansweredQuestion.kind == kind)
                             .order_by(UnansweredQuestion.id))
            return [(q.text, q.lang) for q in rows]

    def feedback_count(self, user_key: str) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(Feedback).where(Feedback.user_key == user_key)) or 0)

    def delete_person(self, user_key: str) -> Deleted:
        """Erase everything linked to the person; unanswered questions carry no link to anyone."""
        with self._session.begin() as s:
            feedback = _rowcount(s.execute(delete(Feedback).where(Feedback.user_key == user_key)))
            person = _rowcount(s.execute(delete(Person).where(Person.user_key == user_key)))
        return Deleted(person=person, feedback=feedback)

    def purge_unanswered(self, older_than_days: int) -> int:
        cutoff = _now() - timedelta(days=older_than_days)
        with self._session.begin() as s:
            return _rowcount(s.execute(delete(UnansweredQuestion).where(UnansweredQuestion.created_at < cutoff)))
