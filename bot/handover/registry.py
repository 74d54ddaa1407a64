"""The district's database of staff and language mediators: invites, roles, search.

Only an administrator with access to the server creates invites (``wegweiser people invite``); the
code is shown once and stored as a hash. A helper joins with ``/join CODE`` in a private chat.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.handover.models import Conversation, Helper, Invite, Offer, as_utc, utcnow
from bot.handover.schedule import WeeklyHours
from bot.store import Store
from core.errors import ConfigError

ROLES = ("mediator", "staff")
# Dari is written like Persian; a mediator listing one serves people writing the other.
LANGUAGE_ALIASES = {"prs": "fa", "fa-af": "fa", "dari": "fa"}
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from paper


def base_language(code: str) -> str:
    code = code.strip().lower()
    return LANGUAGE_ALIASES.get(code, code)


def split_list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").replace(" ", ",").split(",") if p.strip()]


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


@dataclass(frozen=True)
class HelperView:
    id: int
    role: str
    alias: str
    chat: str
    team: str | None
    languages: tuple[str, ...]
    topics: tuple[str, ...]  # ("*",) = every topic
    availability: str
    max_open: int
    max_per_week: int
    gender: str | None
    paused: bool
    unreachable: bool
    open_now: int = 0
    this_week: int = 0

    @classmethod
    def of(cls, h: Helper, open_now: int = 0, this_week: int = 0) -> HelperView:
        return cls(h.id, h.role, h.alias, h.chat, h.team, tuple(split_list(h.languages)),
                   tuple(split_list(h.topics)) or ("*",), h.availability, h.max_open, h.max_per_week, h.gender,
                   h.paused, h.unreachable, open_now, this_week)

    def speaks(self, lang: str) -> bool:
        return base_language(lang) in {base_language(x) for x in self.languages}

    def cleared_for(self, topic: str | None) -> bool:
        return "*" in self.topics or topic is None or topic in self.topics


@dataclass(frozen=True)
class InviteSpec:
    role: str
    languages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ("*",)
    team: str | None = None
    alias: str | None = None
    availability: str = ""
    max_open: int = 2
    max_per_week: int = 5
    gender: str | None = None
    valid_days: int = 7


class Registry:
    def __init__(self, store: Store, timezone: str = "Europe/Berlin", known_topics: set[str] | None = None,
                 known_teams: set[str] | None = None) -> None:
        self._session = store._session
        self.timezone = timezone
        self._topics = known_topics
        self._teams = known_teams

    # ---------------------------------------------------------------- invites
    def invite(self, spec: InviteSpec, now: datetime | None = None) -> str:
        """Create a one-time code (shown once, stored hashed)."""
        self._check(spec)
        code = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
        with self._session.begin() as s:
            s.add(Invite(code_hash=_hash(code), role=spec.role, alias=spec.alias, team=spec.team,
                         languages=",".join(base_language(x) for x in spec.languages), topics=",".join(spec.topics),
                         availability=spec.availability, max_open=spec.max_open, max_per_week=spec.max_per_week,
                         gender=spec.gender, expires_at=(now or utcnow()) + timedelta(days=spec.valid_days)))
        return code

    def _check(self, spec: InviteSpec) -> None:
        if spec.role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}")
        if spec.role == "mediator" and not spec.languages:
            raise ConfigError("a mediator needs --languages (e.g. ar,fa)")
        if spec.role == "staff" and self._teams is not None and spec.team not in self._teams:
            raise ConfigError(f"staff need --team, one of {', '.join(sorted(self._teams))}")
        if self._topics is not None and (unknown := set(spec.topics) - self._topics - {"*"}):
            raise ConfigError(f"unknown topic ids: {', '.join(sorted(unknown))}")
        if spec.max_open < 1 or spec.max_per_week < 1:
            raise ConfigError("caps must be at least 1")
        if spec.gender not in (None, "f", "m", "d"):
            raise ConfigError("gender must be f, m or d")
        WeeklyHours.parse(spec.availability, self.timezone)

    def redeem(self, code: str, user_key: str, chat: str, now: datetime | None = None) -> HelperView | None:
        """The new helper, or None for an unknown, used or expired code (the caller says the same for all)."""
        now = now or utcnow()
        with self._session.begin() as s:
            invite = s.scalar(select(Invite).where(Invite.code_hash == _hash(code)))
            if invite is None or invite.used_at is not None or as_utc(invite.expires_at) < now:
                return None
            if s.scalar(select(Helper).where(Helper.user_key == user_key)) is not None:
                return None
            # Claim the code atomically: of two accounts redeeming it at the same moment, one wins.
            claimed = s.execute(update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None))
                                .values(used_at=now))
            if not getattr(claimed, "rowcount", 0):
                return None
            count = int(s.scalar(select(func.count()).select_from(Helper)) or 0)
            default_alias = ("Sprachmittlung" if invite.role == "mediator" else "Team") + f" {count + 1:02d}"
            helper = Helper(user_key=user_key, chat=chat, role=invite.role, alias=invite.alias or default_alias,
                            team=invite.team, languages=invite.languages, topics=invite.topics,
                            availability=invite.availability, max_open=invite.max_open,
                            max_per_week=invite.max_per_week, gender=invite.gender, paused=False,
                            unreachable=False)
            s.add(helper)
            s.flush()
            return HelperView.of(helper)

    # ---------------------------------------------------------------- lookup
    def by_key(self, user_key: str) -> HelperView | None:
        with self._session() as s:
            h = s.scalar(select(Helper).where(Helper.user_key == user_key))
            return HelperView.of(h) if h else None

    def get(self, helper_id: int) -> HelperView | None:
        with self._session() as s:
            h = s.get(Helper, helper_id)
            return HelperView.of(h) if h else None

    def load(self, s: Session, helper: Helper, now: datetime) -> tuple[int, int]:
        """(open conversations + pending offers, assignments in the last 7 days + pending offers)."""
        pending = int(s.scalar(select(func.count()).select_from(Offer).where(
            Offer.helper_id == helper.id, Offer.state == "pending")) or 0)
        open_now = int(s.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.helper_id == helper.id, Conversation.state == "active")) or 0)
        week = int(s.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.helper_id == helper.id, Conversation.assigned_at >= now - timedelta(days=7))) or 0)
        return open_now + pending, week + pending

    def search(self, role: str | None = None, language: str | None = None, available_at: datetime | None = None,
               now: datetime | None = None) -> list[HelperView]:
        now = now or utcnow()
        with self._session() as s:
            query = select(Helper).order_by(Helper.id)
            if role:
                query = query.where(Helper.role == role)
            out = []
            for h in s.scalars(query):
                view = HelperView.of(h, *self.load(s, h, now))
                if language and not view.speaks(language):
                    continue
                if available_at and (h.paused or h.unreachable or not self.hours(h.availability).is_open(available_at)):
                    continue
                out.append(view)
            return out

    def hours(self, availability: str) -> WeeklyHours:
        return WeeklyHours.parse(availability, self.timezone)

    # ---------------------------------------------------------------- changes
    def set_paused(self, helper_id: int, paused: bool) -> bool:
        with self._session.begin() as s:
            h = s.get(Helper, helper_id)
            if h is None or h.user_key.startswith("removed:"):
                return False  # a removed helper stays removed: invite them again instead
            h.paused = paused
            if not paused:
                h.unreachable = False
            return True

    def remove(self, helper_id: int) -> bool:
        """Forget the helper's Telegram identity; the row stays (paused) so the audit log keeps its meaning.
        Open conversations are handed to staff by the running bot."""
        with self._session.begin() as s:
            h = s.get(Helper, helper_id)
            if h is None or h.user_key.startswith("removed:"):
                return False
            h.user_key, h.chat = f"removed:{h.id}", ""
            h.paused = h.unreachable = True
            return True

