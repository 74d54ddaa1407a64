"""Read a content pack from YAML, reporting every problem with file, entry and field."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from core.errors import ContentError
from knowledge.schema import (
    CONTACT_ROLES,
    ESCALATION_LEVELS,
    GUIDES,
    LANGUAGES,
    MAX_ANSWER_CHARS,
    MIN_QUESTION_VARIANTS,
    REVIEW_STATUSES,
    Answer,
    Entry,
    KnowledgePack,
    Source,
)
from knowledge.topics import load_topics

# libyaml's parser when PyYAML was built with it (the published wheels are): five times faster.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ContentLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """Safe YAML that keeps dates as text, so an impossible date is reported rather than crashing."""


_ContentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Question variants kept apart from the entries: <pack>/variants/*.yaml.
VARIANTS_DIR = "variants"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SOURCE_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Problem:
    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: entry {self.entry or '-'}: {self.field}: {self.message}"


class _Checker:
    def __init__(self, file: str, entry: str) -> None:
        self.file, self.entry = file, entry
        self.problems: list[Problem] = []

    def add(self, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.entry, field_name, message))


def _is_real_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _check_source_date(value: Any) -> bool:
    if isinstance(value, date):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads a bare year as a number
    if not isinstance(value, str):
        return False
    if value == "undated":
        return True
    if not _SOURCE_DATE.match(value):
        return False
    parts = [int(p) for p in value.split("-")]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return False
    return True


def _parse_entry(raw: Any, rel: str, guide_dir: str, today: date) -> tuple[Entry | None, list[Problem]]:
    entry_id = str(raw.get("id", "")) if isinstance(raw, dict) else ""
    check = _Checker(rel, entry_id)
    if not isinstance(raw, dict):
        check.add("-", "entry is not a mapping")
        return None, check.problems
    topics = load_topics()

    if not _ID.match(entry_id):
        check.add("id", f"missing or malformed id {entry_id!r} (lower-case letters, digits, _ . -)")
    topic = raw.get("topic")
    if topic not in topics:
        check.add("topic", f"unknown topic {topic!r}")
    guide = raw.get("guide")
    if guide not in GUIDES:
        check.add("guide", f"unknown guide {guide!r} (one of {', '.join(GUIDES)})")
    elif guide != guide_dir:
        check.add("guide", f"guide {guide!r} but the file is in folder {guide_dir!r}")
    elif topic in topics and topics[topic].guide != guide:
        check.add("guide", f"topic {topic!r} belongs to guide {topics[topic].guide!r}")

    facts_as_of = _is_real_date(raw.get("facts_as_of"))
    if facts_as_of is None:
        check.add("facts_as_of", f"not an ISO date: {raw.get('facts_as_of')!r}")
    elif facts_as_of > today:
        check.add("facts_as_of", f"{facts_as_of} is in the future")

    escalation = raw.get("escalation")
    if escalation not in ESCALATION_LEVELS:
        check.add("escalation", f"{escalation!r} is not one of {', '.join(ESCALATION_LEVELS)}")
    contact = raw.get("contact")
    if contact not in CONTACT_ROLES:
        check.add("contact", f"unknown contact role {contact!r}")

    sources: list[Source] = []
    raw_sources = raw.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        check.add("sources", "at least one source (url, title, date) is required")
    else:
        for i, src in enumerate(raw_sources):
            if not isinstance(src, dict):
                check.add(f"sources[{i}]", "not a mapping")
                continue
            url, title, src_date = src.get("url"), src.get("title"), src.get("date")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                check.add(f"sources[{i}].url", f"not an http(s) URL: {url!r}")
            if not isinstance(title, str) or not title.strip():
                check.add(f"sources[{i}].title", "empty title")
            if not _check_source_date(src_date):
                check.add(f"sources[{i}].date", f"bad date {src_date!r} (YYYY, YYYY-MM, YYYY-MM-DD or undated)")
            sources.append(Source(str(url), str(title), str(src_date)))  # dates stay as written

    questions: dict[str, tuple[str, ...]] = {}
    raw_questions = raw.get("questions")
    if not isinstance(raw_questions, dict):
        check.add("questions", "must map language codes to lists of question variants")
    else:
        total = 0
        for lang, variants in raw_questions.items():
            where = f"questions.{lang}"
            if lang not in LANGUAGES:
                check.add(where, f"unknown language code {lang!r}")
            if not isinstance(variants, list):
                check.add(where, "must be a list")
                continue
            seen: set[str] = set()
            cleaned: list[str] = []
            for j, variant in enumerate(variants):
                if not isinstance(variant, str) or not variant.strip():
                    check.add(f"{where}[{j}]", "empty question variant")
                    continue
                key = variant.strip().casefold()
                if key in seen:
                    check.add(f"{where}[{j}]", f"duplicate variant {variant!r}")
                seen.add(key)
                cleaned.append(variant.strip())
            questions[str(lang)] = tuple(cleaned)
            total += len(cleaned)
        if total < MIN_QUESTION_VARIANTS:
            check.add("questions", f"{total} variants; at least {MIN_QUESTION_VARIANTS} are required")

    answers: dict[str, Answer] = {}
    raw_answers = raw.get("answers")
    if not isinstance(raw_answers, dict):
        check.add("answers", "must map language codes to {status, text}")
    else:
        if "de" not in raw_answers:
            check.add("answers.de", "missing German answer")
        for lang, ans in raw_answers.items():
            where = f"answers.{lang}"
            if lang not in LANGUAGES:
                check.add(where, f"unknown language code {lang!r}")
            if not isinstance(ans, dict):
                check.add(where, "must be a mapping with status and text")
                continue
            text, status = ans.get("text"), ans.get("status")
            if not isinstance(text, str) or not text.strip():
                check.add(f"{where}.text", "empty answer")
                continue
            if len(text) > MAX_ANSWER_CHARS:
                check.add(
                    f"{where}.text",
                    f"{len(text)} characters: too long for one Telegram message (max {MAX_ANSWER_CHARS})",
                )
            if status not in REVIEW_STATUSES:
                check.add(f"{where}.status", f"{status!r} is not reviewed/unreviewed")
                continue
            review = {k: ans.get(k) for k in ("reviewed_by", "reviewed_on", "source_sha")}
            for key, value in review.items():
                if value is not None and not isinstance(value, str):
                    check.add(f"{where}.{key}", f"must be text, got {value!r}")
            answers[str(lang)] = Answer(text.strip(), status, *(v if isinstance(v, str) else None
                                                                 for v in review.values()))

    if check.problems or facts_as_of is None:
        return None, check.problems
    return (
        Entry(
            id=entry_id,
            topic=str(topic),
            guide=str(guide),
            facts_as_of=facts_as_of,
            escalation=escalation,  # type: ignore[arg-type]  # checked against ESCALATION_LEVELS above
            contact=str(contact),
            sources=tuple(sources),
            questions=questions,
            answers=answers,
            file=rel,
        ),
        [],
    )


def read_pack(content_dir: Path, today: date | None = None) -> tuple[KnowledgePack, list[Problem]]:
    """Parse every ``<guide>/*.yaml`` below ``content_dir``; return the valid entries and all problems."""
    today = today or date.today()
    problems: list[Problem] = []
    entries: list[Entry] = []
    if not content_dir.is_dir():
        return KnowledgePack(()), [Problem(str(content_dir), "", "-", "content folder not found")]
    files = sorted(p for p in content_dir.glob("*/*.yaml") if p.parent.name != VARIANTS_DIR)
    if not files:
        problems.append(Problem(str(content_dir), "", "-", "no <guide>/*.yaml files"))
    for path in files:
        rel = str(path.relative_to(content_dir))
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_ContentLoader)  # noqa: S506 - safe loader
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f"line {mark.line + 1}" if mark is not None else "?"
            problems.append(Problem(rel, "", line, f"invalid YAML: {getattr(e, 'problem', e)}"))
            continue
        raw_entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(raw_entries, list) or not raw_entries:
            problems.append(Problem(rel, "", "entries", "the file needs a non-empty 'entries' list"))
            continue
        for raw in raw_entries:
            entry, entry_problems = _parse_entry(raw, rel, path.parent.name, today)
            problems.extend(entry_problems)
            if entry is not None:
                entries.append(entry)

    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id in seen:
            problems.append(Problem(entry.file, entry.id, "id", f"duplicate id (also in {seen[entry.id]})"))
        seen.setdefault(entry.id, entry.file)
    entries = _merge_variant_files(content_dir, entries, problems)
    return KnowledgePack(tuple(entries)), problems


def _merge_variant_files(content_dir: Path, entries: list[Entry], problems: list[Problem]) -> list[Entry]:
    """Add the question variants kept in ``variants/*.yaml`` (``variants: {entry id: {lang: [...]}}``)
    to their entries. They live apart because they come from other hands than the answers (dialect
    and transliterated phrasings, questions staff collected), and are validated like the others."""
    extra: dict[str, dict[str, list[str]]] = {}
    for path in sorted((content_dir / VARIANTS_DIR).glob("*.yaml")):
        rel = str(path.relative_to(content_dir))
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_ContentLoader)  # noqa: S506 - safe loader
        except yaml.YAMLError as e:
            problems.append(Problem(rel, "", "-", f"invalid YAML: {getattr(e, 'problem', e)}"))
            continue
        blocks = doc.get("variants") if isinstance(doc, dict) else None
        if not isinstance(blocks, dict):
            problems.append(Problem(rel, "", "variants", "the file needs a 'variants' mapping of entry ids"))
            continue
        known = {e.id for e in entries}
        for entry_id, per_lang in blocks.items():
            if entry_id not in known:
                problems.append(Problem(rel, str(entry_id), "id", "no entry with this id"))
                continue
            if not isinstance(per_lang, dict):
                problems.append(Problem(rel, entry_id, "variants", "needs a mapping of language → list"))
                continue
            for lang, questions in per_lang.items():
                if lang not in LANGUAGES:
                    problems.append(Problem(rel, entry_id, f"variants.{lang}", "unknown language code"))
                elif not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
                    problems.append(Problem(rel, entry_id, f"variants.{lang}", "needs a list of non-empty texts"))
                else:
                    extra.setdefault(entry_id, {}).setdefault(lang, []).extend(q.strip() for q in questions)
    merged: list[Entry] = []
    for entry in entries:
        if entry.id not in extra:
            merged.append(entry)
            continue
        questions = {lang: list(qs) for lang, qs in entry.questions.items()}
        for lang, added in extra[entry.id].items():
            have = {q.casefold() for q in questions.get(lang, [])}
            for q in added:
                if q.casefold() not in have:  # a repeat of an existing variant adds nothing
                    questions.setdefault(lang, []).append(q)
                    have.add(q.casefold())
        merged.append(replace(entry, questions={lang: tuple(qs) for lang, qs in questions.items()}))
    return merged


def load_pack(content_dir: Path) -> KnowledgePack:
    """Load a pack for serving; any problem is fatal, because a half-loaded pack answers wrongly."""
    pack, problems = read_pack(content_dir)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems[:50])
        raise ContentError(f"{len(problems)} problem(s) in {content_dir}:\n{listing}")
    return pack
