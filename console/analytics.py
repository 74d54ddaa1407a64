"""Counts for the console's statistics page: questions, feedback, hand-overs.

Counts only: no message text and no identity is read (only the columns named in the SELECTs), so
nothing here can leak either. The volumes are small, so rows of the window are fetched with plain
date-filtered SELECTs and counted in Python – the same code on SQLite and PostgreSQL.
Days are calendar days in the office's time zone (Europe/Berlin by default), not UTC days.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handover.models import Conversation, RelayMessage, as_utc
from bot.store import Feedback, QuestionEvent
from console import charts

STATUSES = ("answered", "clarify", "escalate", "emergency")
STATUS_LABELS = {"answered": "beantwortet", "clarify": "Rückfrage", "escalate": "weitergeleitet",
                 "emergency": "Notfall"}
STATUS_COLOURS = dict(zip(STATUSES, charts.PALETTE, strict=False))
MODE_LABELS = {"mediator": "Sprachmittlung", "staff": "Mitarbeitende"}
NO_MODE = "(nicht zugeteilt)"
NO_TOPIC = "(ohne Thema)"
NO_LANGUAGE = "(unbekannt)"
OTHER_TOPICS = "(weitere Themen)"
TOP_TOPICS = 15
DEFAULT_TZ = "Europe/Berlin"


@dataclass(frozen=True)
class DayStatus:
    day: date
    counts: Mapping[str, int]  # every status of Analytics.statuses, zeros included
    total: int


@dataclass(frozen=True)
class WeekTotal:
    week: str  # ISO week, "2024-W07"
    monday: date
    days: int  # days of this week inside the window: the first and the last week may be partial
    total: int


@dataclass(frozen=True)
class FeedbackCount:
    entry_id: str
    up: int
    down: int


@dataclass(frozen=True)
class HandoverDay:
    day: date
    total: int
    by_mode: Mapping[str, int]  # German labels of Handovers.modes, zeros included
    replied: int  # conversations of this day with a first human reply
    median_reply_minutes: float | None
    p90_reply_minutes: float | None


@dataclass(frozen=True)
class Handovers:
    total: int
    modes: tuple[str, ...]  # German labels, in a fixed order
    by_mode: tuple[tuple[str, int], ...]
    per_day: tuple[HandoverDay, ...]
    replied: int
    median_reply_minutes: float | None
    p90_reply_minutes: float | None


@dataclass(frozen=True)
class Analytics:
    start: date  # first day of the window (inclusive)
    end: date  # last day of the window (inclusive): today
    timezone: str
    statuses: tuple[str, ...]  # STATUSES, then any other status found in the data
    questions: int
    per_day: tuple[DayStatus, ...]
    per_week: tuple[WeekTotal, ...]
    by_language: tuple[tuple[str, int], ...]  # language code (NO_LANGUAGE for none), most first
    by_topic: tuple[tuple[str, int], ...]  # the TOP_TOPICS most asked topics (NO_TOPIC for none)
    other_topics: int  # questions about the topics beyond the top ones
    feedback: tuple[FeedbackCount, ...]  # per entry, most "not helpful" first
    handovers: Handovers


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (as numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def report(session: Session, days: int = 28, now: datetime | None = None, tz: str = DEFAULT_TZ) -> Analytics:
    """The counts of the last ``days`` calendar days up to and including today (in ``tz``)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    zone = ZoneInfo(tz)
    end = as_utc(now or datetime.now(UTC)).astimezone(zone).date()
    start = end - timedelta(days=days - 1)
    calendar = _days(start, end)
    # Bounds in UTC: SQLite stores the UTC wall time without an offset and compares it as text.
    lower = datetime.combine(start, time(0), zone).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)

    def local_day(moment: datetime) -> date | None:
        day = as_utc(moment).astimezone(zone).date()
        return day if start <= day <= end else None

    # ---------------------------------------------------------------- questions
    per_status: dict[date, Counter[str]] = defaultdict(Counter)
    languages: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    questions = 0
    for at, lang, topic, status in session.execute(
            select(QuestionEvent.at, QuestionEvent.lang, QuestionEvent.topic, QuestionEvent.status)
            .where(QuestionEvent.at >= lower, QuestionEvent.at < upper)):
        day = local_day(at)
        if day is None:
            continue
        questions += 1
        per_status[day][status] += 1
        languages[lang or NO_LANGUAGE] += 1
        topics[topic or NO_TOPIC] += 1
    seen = {status for counter in per_status.values() for status in counter}
    statuses = STATUSES + tuple(sorted(seen - set(STATUSES)))
    per_day = tuple(DayStatus(day, {s: per_status[day][s] for s in statuses}, sum(per_status[day].values()))
                    for day in calendar)

    weeks: dict[tuple[int, int], list[DayStatus]] = defaultdict(list)
    for d in per_day:
        iso = d.day.isocalendar()
        weeks[(iso.year, iso.week)].append(d)
    per_week = tuple(WeekTotal(f"{year}-W{week:02d}", date.fromisocalendar(year, week, 1), len(ds),
                               sum(d.total for d in ds))
                     for (year, week), ds in weeks.items())

    ranked_topics = _ranked(topics)

    # ---------------------------------------------------------------- feedback
    votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry_id, helpful, created_at in session.execute(
            select(Feedback.entry_id, Feedback.helpful, Feedback.created_at)
            .where(Feedback.created_at >= lower, Feedback.created_at < upper)):
        if local_day(created_at) is not None:
            votes[entry_id][0 if helpful else 1] += 1
    feedback = tuple(sorted((FeedbackCount(entry, up, down) for entry, (up, down) in votes.items()),
                            key=lambda f: (-f.down, f.up, f.entry_id)))

    return Analytics(
        start=start, end=end, timezone=tz, statuses=statuses, questions=questions, per_day=per_day,
        per_week=per_week, by_language=tuple(_ranked(languages)), by_topic=tuple(ranked_topics[:TOP_TOPICS]),
        other_topics=sum(n for _, n in ranked_topics[TOP_TOPICS:]), feedback=feedback,
        handovers=_handovers(session, calendar, lower, upper, local_day),
    )


def _handovers(session: Session, calendar: list[date], lower: datetime, upper: datetime,
               local_day: Callable[[datetime], date | None]) -> Handovers:
    # A conversation still in "consent" is only the question whether the person wants a human: not
    # (yet) a hand-over. Declined prompts are deleted anyway.
    in_window = (Conversation.created_at >= lower, Conversation.created_at < upper, Conversation.state != "consent")
    rows = session.execute(select(Conversation.id, Conversation.created_at, Conversation.requested_at,
                                  Conversation.mode).where(*in_window)).all()
    first_reply: dict[int, datetime] = {}
    for conversation_id, created_at in session.execute(
            select(RelayMessage.conversation_id, RelayMessage.created_at)
            .join(Conversation, Conversation.id == RelayMessage.conversation_id)
            .where(RelayMessage.direction == "out", *in_window)):
        moment = as_utc(created_at)
        if conversation_id not in first_reply or moment < first_reply[conversation_id]:
            first_reply[conversation_id] = moment

    modes = (*MODE_LABELS.values(), NO_MODE)
    per_mode: dict[date, Counter[str]] = defaultdict(Counter)
    waits: dict[date, list[float]] = defaultdict(list)
    for conversation_id, created_at, requested_at, mode in rows:
        day = local_day(created_at)
        if day is None:
            continue
        per_mode[day][MODE_LABELS.get(mode or "", NO_MODE)] += 1
        if conversation_id in first_reply:
            asked = as_utc(requested_at or created_at)
            # Never below zero: a conversation handed back to the mediators gets a new requested_at,
            # after the reply the team may already have sent.
            minutes = (first_reply[conversation_id] - asked).total_seconds() / 60
            waits[day].append(max(minutes, 0.0))

    def wait_stats(values: Sequence[float]) -> tuple[int, float | None, float | None]:
        return len(values), percentile(values, 0.5), percentile(values, 0.9)

    per_day = tuple(HandoverDay(day, sum(per_mode[day].values()), {m: per_mode[day][m] for m in modes},
                                *wait_stats(waits[day]))
                    for day in calendar)
    totals: Counter[str] = Counter()
    for counter in per_mode.values():
        totals.update(counter)
    # The "not assigned" row only when there is one: it is the exception.
    by_mode = tuple((m, totals[m]) for m in modes if m != NO_MODE or totals[m])
    replied, median, p90 = wait_stats([w for ws in waits.values() for w in ws])
    return Handovers(sum(totals.values()), modes, by_mode, per_day, replied, median, p90)


def _minutes(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _csv(header: list[str], rows: Iterable[list[object]], first_count: int = 1) -> str:
    """Every column from ``first_count`` on is a count."""
    return charts.to_csv(header, list(rows), set(range(first_count, len(header))))


def csv_exports(a: Analytics) -> dict[str, str]:
    """The CSV texts of the statistics page, by name; every count through ``charts.small``."""
    status_names = [STATUS_LABELS.get(s, s) for s in a.statuses]
    topic_rows: list[list[object]] = [[topic, n] for topic, n in a.by_topic]
    if a.other_topics:
        topic_rows.append([OTHER_TOPICS, a.other_topics])
    h = a.handovers
    handover_header = ["Datum", "Übergaben", *h.modes, "mit Antwort", "Median Minuten bis Antwort",
                       "90-%-Wert Minuten bis Antwort"]
    handover_rows: list[list[object]] = [
        [d.day.isoformat(), d.total, *(d.by_mode[m] for m in h.modes), d.replied,
         _minutes(d.median_reply_minutes), _minutes(d.p90_reply_minutes)] for d in h.per_day]
    handover_rows.append(["gesamt", h.total, *(dict(h.by_mode).get(m, 0) for m in h.modes), h.replied,
                          _minutes(h.median_reply_minutes), _minutes(h.p90_reply_minutes)])
    return {
        "per_day": _csv(["Datum", *status_names, "gesamt"],
                        ([d.day.isoformat(), *(d.counts[s] for s in a.statuses), d.total] for d in a.per_day)),
        "per_week": charts.to_csv(["Kalenderwoche", "Montag", "Tage im Zeitraum", "Fragen"],
                                  [[w.week, w.monday.isoformat(), w.days, w.total] for w in a.per_week], {3}),
        "by_language": _csv(["Sprache", "Fragen"], ([lang, n] for lang, n in a.by_language)),
        "by_topic": _csv(["Thema", "Fragen"], topic_rows),
        "feedback": _csv(["Eintrag", "hilfreich", "nicht hilfreich"],
                         ([f.entry_id, f.up, f.down] for f in a.feedback)),
        # Minutes are floats, so small() (for ints) leaves them alone.
        "handovers": charts.to_csv(handover_header, handover_rows, set(range(1, len(handover_header) - 2))),
    }


def _day_label(day: date) -> str:
    return day.strftime("%d.%m.")


def svg_charts(a: Analytics) -> dict[str, str]:
    """The page's charts as inline SVG, named like the CSV exports."""
    return {
        "per_day": charts.stacked_bar_chart(
            f"Fragen pro Tag ({_day_label(a.start)}–{_day_label(a.end)})", [_day_label(d.day) for d in a.per_day],
            {STATUS_LABELS.get(s, s): [d.counts[s] for d in a.per_day] for s in a.statuses},
            colours={STATUS_LABELS[s]: c for s, c in STATUS_COLOURS.items()}),
        "per_week": charts.bar_chart("Fragen pro Kalenderwoche", [(w.week, w.total) for w in a.per_week]),
        "by_language": charts.horizontal_bars("Fragen nach Sprache", list(a.by_language)),
        "by_topic": charts.horizontal_bars(f"Fragen nach Thema (die {TOP_TOPICS} häufigsten)", list(a.by_topic)),
        "feedback": charts.horizontal_bars("„Nicht hilfreich“ nach Eintrag",
                                           [(f.entry_id, f.down) for f in a.feedback if f.down][:TOP_TOPICS]),
        "handovers": charts.bar_chart("Übergaben an Menschen pro Tag",
                                      [(_day_label(d.day), d.total) for d in a.handovers.per_day]),
    }
