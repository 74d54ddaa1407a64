"""The curated knowledge model: entries with question variants and answers per language."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Literal

# Languages the content pack may carry. "prs" is Dari where it differs from Farsi.
LANGUAGES: tuple[str, ...] = ("de", "en", "ar", "fa", "prs", "uk", "ru", "tr", "ps", "ti", "ku", "so", "fr")
# Languages with curated answers in the Bautzen pack (issue: de+en authored, the rest translated).
CURATED_ANSWER_LANGUAGES: tuple[str, ...] = ("de", "en", "ar", "fa", "uk", "ru", "tr")
GUIDES: tuple[str, ...] = ("welcome", "health")
ESCALATION_LEVELS: tuple[str, ...] = ("none", "offer", "always")
REVIEW_STATUSES: tuple[str, ...] = ("reviewed", "unreviewed")
CONTACT_ROLES: frozenset[str] = frozenset(
    {
        "auslaenderamt", "benefits_office", "quartierbuero", "asylum_counselling", "lawyer",
        "reception_centre_staff", "accommodation_staff", "doctor", "emergency_services",
        "health_office", "school_office", "youth_office", "town_hall", "volunteers", "helpline",
        "psychosocial_centre", "jobcenter", "employment_agency", "course_provider", "steinhaus",
        "integration_office", "victim_support", "pharmacy", "medinetz",
    }
)
# Telegram allows 4,096 characters per message; the bot adds labels, source and date around it.
MAX_ANSWER_CHARS = 3500
MIN_QUESTION_VARIANTS = 4

Escalation = Literal["none", "offer", "always"]


@dataclass(frozen=True)
class Source:
    url: str
    title: str
    date: str


def source_sha(text: str) -> str:
    """A short fingerprint of a German answer: a review records the German it was checked against."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Answer:
    text: str
    status: Literal["reviewed", "unreviewed"]
    # Set when staff review a translation in the console: who, when, and which German it matched.
    reviewed_by: str | None = None
    reviewed_on: str | None = None
    source_sha: str | None = None


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    guide: str
    facts_as_of: date
    escalation: Escalation
    contact: str
    sources: tuple[Source, ...]
    questions: dict[str, tuple[str, ...]]
    answers: dict[str, Answer]
    file: str = field(default="", compare=False)

    def variants(self) -> list[tuple[str, str]]:
        """All question variants as (language, text) pairs."""
        return [(lang, q) for lang, qs in self.questions.items() for q in qs]

    def outdated(self, lang: str) -> bool:
        """A translation reviewed against a German text that has changed since."""
        answer = self.answers.get(lang)
        return (lang != "de" and answer is not None and answer.source_sha is not None
                and "de" in self.answers and answer.source_sha != source_sha(self.answers["de"].text))

    def checked(self, lang: str) -> bool:
        """Reviewed and still matching the German: only then does the bot drop the "not yet checked" label."""
        answer = self.answers.get(lang)
        return answer is not None and answer.status == "reviewed" and not self.outdated(lang)


@dataclass(frozen=True)
class KnowledgePack:
    entries: tuple[Entry, ...]

    @property
    def content_hash(self) -> str:
        """A hash over everything retrieval and answering depend on (not the file layout)."""
        digest = hashlib.sha256()
        for entry in sorted(self.entries, key=lambda e: e.id):
            payload = asdict(entry)
            payload.pop("file")
            digest.update(json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False).encode())
        return digest.hexdigest()[:16]

    def by_id(self, entry_id: str) -> Entry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def topics(self) -> set[str]:
        return {e.topic for e in self.entries}
