from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.handover.schedule import WeeklyHours
from bot.handover.teams import Teams
from core.errors import ConfigError
from knowledge.topics import load_topics

BERLIN_TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Bautzen (CET)


def test_hours_open_and_closed_in_the_district_time_zone() -> None:
    hours = WeeklyHours.parse("mo-th 08:00-16:00; fr 08:00-12:00")
    assert hours.is_open(BERLIN_TUESDAY_10)
    assert not hours.is_open(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))  # 16:30 local
    assert hours.is_open(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # Friday 11:00 local
    assert not hours.is_open(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # Saturday


def test_next_opening_after_a_weekend_and_daylight_saving() -> None:
    hours = WeeklyHours.parse("mo-fr 09:00-17:00")
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # clocks go forward on Sunday 29 March
    opening = hours.next_opening(saturday)
    assert opening is not None and opening.isoformat() == "2026-03-30T09:00:00+02:00"
    assert hours.next_opening(BERLIN_TUESDAY_10) == BERLIN_TUESDAY_10


def test_empty_hours_mean_any_time_and_wrapping_day_ranges_work() -> None:
    assert WeeklyHours.parse("").is_open(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    weekend = WeeklyHours.parse("sa-mo 10:00-12:00")
    assert [d for d, _, _ in weekend.slots] == [0, 5, 6]


@pytest.mark.parametrize("bad", ["mo 17:00-09:00", "xx 09:00-10:00", "mo 25:00-26:00", "monday all day"])
def test_unreadable_hours_are_refused_with_a_clear_error(bad: str) -> None:
    with pytest.raises(ConfigError):
        WeeklyHours.parse(bad)


def test_shipped_teams_cover_every_topic_exactly_once() -> None:
    topics = set(load_topics())
    teams = Teams.load(known_topics=topics)
    covered = [t for team in teams.teams.values() for t in team.topics]
    assert sorted(covered) == sorted(topics)
    assert teams.for_topic("dublin_procedure").id == "foreigners_office"
    assert teams.for_topic(None).id == teams.default_team
