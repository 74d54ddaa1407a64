"""Weekly hours such as ``"mo-th 08:00-16:00; fr 08:00-12:00"`` in the district's time zone.

Used for mediators' availability and for offices' opening hours. An empty schedule means "any time".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.errors import ConfigError

DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
_DAY_ALIASES = {"di": "tu", "mi": "we", "do": "th", "so": "su"}
_PART = re.compile(r"^\s*([a-z]{2}(?:\s*-\s*[a-z]{2})?(?:\s*,\s*[a-z]{2}(?:\s*-\s*[a-z]{2})?)*)\s+"
                   r"(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


def _day(token: str) -> int:
    token = _DAY_ALIASES.get(token.strip(), token.strip())
    if token not in DAYS:
        raise ConfigError(f"unknown weekday {token!r} (use {', '.join(DAYS)})")
    return DAYS.index(token)


def _clock(token: str) -> time:
    hours, minutes = (int(x) for x in token.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ConfigError(f"impossible time {token!r}")
    return time(hours, minutes)


@dataclass(frozen=True)
class WeeklyHours:
    slots: tuple[tuple[int, time, time], ...]  # (weekday 0=Monday, start, end)
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: str = "Europe/Berlin") -> WeeklyHours:
        slots: list[tuple[int, time, time]] = []
        for part in filter(None, (p.strip().lower() for p in (text or "").split(";"))):
            m = _PART.match(part)
            if not m:
                raise ConfigError(f"cannot read hours {part!r} (example: 'mo-fr 09:00-17:00; sa 10:00-12:00')")
            start, end = _clock(m.group(2)), _clock(m.group(3))
            if end <= start:
                raise ConfigError(f"hours end before they start: {part!r}")
            for group in m.group(1).split(","):
                first, _, last = group.partition("-")
                a, b = _day(first), _day(last or first)
                days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
                slots.extend((d, start, end) for d in days)
        return cls(tuple(sorted(slots)), ZoneInfo(tz))

    @property
    def always(self) -> bool:
        return not self.slots

    def is_open(self, when: datetime) -> bool:
        if self.always:
            return True
        local = when.astimezone(self.tz)
        now = local.time()
        return any(d == local.weekday() and start <= now < end for d, start, end in self.slots)

    def next_opening(self, when: datetime) -> datetime | None:
        """The next moment the hours begin (``when`` itself if open now); None if there are no hours."""
        if self.always or self.is_open(when):
            return when
        local = when.astimezone(self.tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for d, start, _ in self.slots:
                if d == day.weekday():
                    candidate = datetime.combine(day, start, self.tz)
                    if candidate > local:
                        return candidate
        return None
