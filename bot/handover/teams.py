"""Staff teams, the topics each covers, and their office hours (from ``teams.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.handover.schedule import WeeklyHours
from core.errors import ConfigError

TEAMS_FILE = Path(__file__).with_name("teams.yaml")


@dataclass(frozen=True)
class Team:
    id: str
    names: dict[str, str]
    hours: WeeklyHours
    topics: frozenset[str]

    def name(self, lang: str | None) -> str:
        return self.names.get(lang or "", self.names.get("en") or self.names.get("de") or self.id)


@dataclass(frozen=True)
class Teams:
    teams: dict[str, Team]
    default_team: str
    staff_language: str
    timezone: str

    @classmethod
    def load(cls, path: Path = TEAMS_FILE, known_topics: set[str] | None = None) -> Teams:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            tz = str(data.get("timezone") or "Europe/Berlin")
            teams = {
                tid: Team(tid, dict(t.get("name") or {}), WeeklyHours.parse(str(t.get("hours") or ""), tz),
                          frozenset(t.get("topics") or ()))
                for tid, t in (data.get("teams") or {}).items()
            }
            default = str(data["default_team"])
        except (OSError, yaml.YAMLError, KeyError, AttributeError, TypeError) as e:
            raise ConfigError(f"cannot read teams file {path}: {e}") from e
        if default not in teams:
            raise ConfigError(f"{path}: default_team {default!r} is not a team")
        if known_topics is not None:
            unknown = {t for team in teams.values() for t in team.topics} - known_topics
            if unknown:
                raise ConfigError(f"{path}: unknown topic ids {sorted(unknown)}")
        return cls(teams, default, str(data.get("staff_language") or "de"), tz)

    def for_topic(self, topic: str | None) -> Team:
        for team in self.teams.values():
            if topic in team.topics:
                return team
        return self.teams[self.default_team]

    def get(self, team_id: str | None) -> Team | None:
        return self.teams.get(team_id or "")
