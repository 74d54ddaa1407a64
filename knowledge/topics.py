"""The topic ids every entry must use, from the bundled copy of the district's topic list."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TOPICS_FILE = Path(__file__).with_name("topics.yaml")


@dataclass(frozen=True)
class Topic:
    id: str
    guide: str
    covers: str


@cache
def load_topics(path: Path = TOPICS_FILE) -> dict[str, Topic]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {t["id"]: Topic(t["id"], t["guide"], t["covers"]) for t in raw["topics"]}
