"""Hand-over fixtures: a settable clock, the service over a fresh SQLite database, invited helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.handover.registry import InviteSpec
from bot.handover.service import HandoverService
from bot.handover.state import HandoverSettings
from bot.handover.teams import Teams
from bot.store import Store
from knowledge.topics import load_topics
from translations.translator import Translator
from translations.ui import ui_catalog

STAFF_CHAT = "-1001234567890"
# Tuesday 24 November 2026, 10:00 in Bautzen: every office is open.
OFFICE_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Saturday 28 November 2026, 15:00 in Bautzen: every office is closed.
WEEKEND = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = OFFICE_HOURS) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


HandoverFactory = Callable[..., HandoverService]


@pytest.fixture
def make_handover(store: Store, clock: Clock) -> HandoverFactory:
    def make(staff_chat: str | None = STAFF_CHAT, translator: Translator | None = None,
             **settings: float) -> HandoverService:
        topics = set(load_topics())
        return HandoverService(
            store, Teams.load(known_topics=topics), ui_catalog(),
            HandoverSettings(staff_chat=staff_chat, **{"sweep_interval_s": 0.2, **settings}),
            translator=translator, clock=clock, known_topics=topics,
        )

    return make


def invite(service: HandoverService, role: str = "mediator", languages: str = "", **kw: object) -> str:
    spec = InviteSpec(role=role, languages=tuple(x for x in languages.split(",") if x), **kw)  # type: ignore[arg-type]
    return service.invite(spec)
