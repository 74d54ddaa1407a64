"""Tables of the hand-over. Everything a conversation needs survives a restart: who helps, which
offers are open, which message went where (so that nothing is lost and nothing is sent twice).

People are stored under pseudonyms. The only raw Telegram ids kept are chat ids needed to deliver
messages: the helper's (they joined by invite) and, for an open conversation, the person's — erased
when the conversation is closed and the person is asked for feedback, or when they send /delete.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class HelperSpec:
    """What an invite promises and a helper then has: role, team, languages, topics, hours, caps."""

    role: Mapped[str] = mapped_column(String(16))  # "mediator" | "staff"
    team: Mapped[str | None] = mapped_column(String(64))
    languages: Mapped[str] = mapped_column(String(200), default="")  # "ar,fa,prs"
    topics: Mapped[str] = mapped_column(Text, default="*")  # "*" or comma-separated topic ids
    availability: Mapped[str] = mapped_column(String(200), default="")  # "mo-fr 09:00-17:00"; "" = any time
    max_open: Mapped[int] = mapped_column(Integer, default=2)
    max_per_week: Mapped[int] = mapped_column(Integer, default=5)
    gender: Mapped[str | None] = mapped_column(String(8))


class Helper(HelperSpec, Base):
    """A staff member or a volunteer language mediator (the district's mediator database)."""

    __tablename__ = "helpers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_key: Mapped[str] = mapped_column(String(64), unique=True)
    chat: Mapped[str] = mapped_column(String(32))
    alias: Mapped[str] = mapped_column(String(64))  # the only name the other side ever sees
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)  # blocked the bot
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invite(HelperSpec, Base):
    """A one-time invite; only the hash of the code is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    alias: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(16), unique=True)  # "#K7QF": the person's pseudonym for helpers
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    person_chat: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # requested | unanswered | always | emergency
    # consent → offering | queued → active → closed
    state: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str | None] = mapped_column(String(16))  # "mediator" | "staff"
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"))
    team: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[int | None] = mapped_column(Integer)
    translated: Mapped[bool] = mapped_column(Boolean, default=False)
    want_gender: Mapped[str | None] = mapped_column(String(8))
    queue_seq: Mapped[int | None] = mapped_column(Integer)  # place in the mediators' queue, first come first
    opening_text: Mapped[str | None] = mapped_column(Text)
    intro_message_id: Mapped[int | None] = mapped_column(Integer)  # in the mediator's chat: copies quote it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    helped: Mapped[bool | None] = mapped_column(Boolean)


class Offer(Base):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted | declined | expired | withdrawn
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RelayMessage(Base):
    """One message passed between the person and their helper: an outbox row first, then its mapping."""

    __tablename__ = "relay_messages"
    __table_args__ = (UniqueConstraint("direction", "source_chat", "source_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # "in" (person → helper) | "out" (helper → person)
    source_chat: Mapped[str] = mapped_column(String(32))
    source_message_id: Mapped[int] = mapped_column(Integer)
    # Kept only while a machine translation is still to be made; cleared once sent.
    text: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sent | failed
    target_chat: Mapped[str | None] = mapped_column(String(32))
    target_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    """Who saw or acted on which conversation (no message text)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "helper:3", "staff-group", "system", "person"
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str | None] = mapped_column(String(200))
