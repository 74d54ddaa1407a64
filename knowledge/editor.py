"""Changes to the content pack as staff make them in the console, on the YAML files themselves.

The YAML pack stays the single source of truth, readable in git: every change is a function from the
pack's file texts to new file texts, through ruamel.yaml's round trip (comments, key order and quoting
kept as far as the library allows). Nothing is written here; :mod:`console.publish` validates the
result with the same loader the bot uses, runs the regression gate, and writes atomically.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from core.errors import ContentError
from knowledge.loader import VARIANTS_DIR, Problem, read_pack
from knowledge.schema import KnowledgePack, source_sha

# Variants staff add from the review queue; a file of their own, so the authored files stay as written.
STAFF_VARIANTS = f"{VARIANTS_DIR}/staff.yaml"
STAFF_VARIANTS_HEADER = (
    "# Question variants added by district staff in the console, from what people actually asked.\n"
    "# Written by the console (publish); reviewed like any other change in the revision history.\n"
)

Files = dict[str, str]


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long answers
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def read_files(content_dir: Path) -> Files:
    """Every YAML file of the pack, by path relative to the pack."""
    return {str(p.relative_to(content_dir)): p.read_text(encoding="utf-8")
            for p in sorted(content_dir.glob("*/*.yaml"))}


def _load(text: str) -> Any:
    return _yaml().load(text)


def _dump(doc: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def _find_entry(files: Mapping[str, str], entry_id: str) -> tuple[str, Any, Any]:
    for rel, text in files.items():
        if rel.startswith(VARIANTS_DIR + "/") or f"id: {entry_id}" not in text:
            continue  # cheap pre-filter; the parse below decides
        doc = _load(text)
        for raw in doc.get("entries") or []:
            if isinstance(raw, dict) and str(raw.get("id")) == entry_id:
                return rel, doc, raw
    raise ContentError(f"no entry {entry_id!r} in the pack")


def raw_entry(files: Mapping[str, str], entry_id: str) -> tuple[str, dict[str, Any]]:
    """The entry as written in its file (without the variants kept in other files), as plain data."""
    rel, _, raw = _find_entry(files, entry_id)
    return rel, json.loads(json.dumps(raw, default=str, ensure_ascii=False))


def entry_fingerprint(files: Mapping[str, str], entry_id: str) -> str:
    """What an edit form was based on: a save against a changed entry is refused, not merged."""
    _, _, raw = _find_entry(files, entry_id)
    payload = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    variants = _staff_variants(files).get(entry_id)
    payload += json.dumps(variants, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _staff_variants(files: Mapping[str, str]) -> Any:
    text = files.get(STAFF_VARIANTS)
    doc = _load(text) if text else None
    return doc.get("variants") or CommentedMap() if doc else CommentedMap()


def add_variants(files: Mapping[str, str], pack: KnowledgePack, entry_id: str,
                 questions: Iterable[tuple[str, str]]) -> Files:
    """Add (language, text) question variants to an entry, in the staff variants file. Texts the entry
    already has (in any file) are skipped."""
    entry = pack.by_id(entry_id)
    have = {(lang, q.casefold()) for lang, q in entry.variants()}
    text = files.get(STAFF_VARIANTS)
    doc = _load(text) if text else None
    if not doc:
        doc = _load(STAFF_VARIANTS_HEADER + "variants: {}\n")
    variants = doc["variants"]
    if not isinstance(variants, CommentedMap):
        doc["variants"] = variants = CommentedMap()
    changed = False
    for lang, question in questions:
        question = " ".join(question.split())
        if not question or (lang, question.casefold()) in have:
            continue
        per_lang = variants.setdefault(entry_id, CommentedMap())
        per_lang.setdefault(lang, CommentedSeq()).append(question)
        have.add((lang, question.casefold()))
        changed = True
    out = dict(files)
    if changed:
        out[STAFF_VARIANTS] = _dump(doc)
    return out


@dataclass(frozen=True)
class EntryEdit:
    """An edit of one entry from the console's form; None leaves a field as it is."""

    answers: Mapping[str, str] | None = None  # language → text; "" removes a translation
    questions: Mapping[str, list[str]] | None = None  # language → variants (the entry's own file)
    facts_as_of: str | None = None
    escalation: str | None = None
    contact: str | None = None
    sources: list[dict[str, str]] | None = None


def edit_entry(files: Mapping[str, str], entry_id: str, edit: EntryEdit) -> Files:
    """Only fields whose value changes are touched; an unchanged form changes no byte of the file."""
    rel, doc, raw = _find_entry(files, entry_id)
    dirty = False
    for key in ("facts_as_of", "escalation", "contact"):
        value = getattr(edit, key)
        if value is not None and str(raw.get(key)) != value:
            raw[key] = value
            dirty = True
    if edit.sources is not None:
        current = [{k: str(v) for k, v in dict(src).items()} for src in raw.get("sources") or []]
        if current != [dict(src) for src in edit.sources]:
            raw["sources"] = CommentedSeq([CommentedMap(src) for src in edit.sources])
            dirty = True
    if edit.questions is not None:
        questions = raw.setdefault("questions", CommentedMap())
        for lang, variants in edit.questions.items():
            cleaned = [v.strip() for v in variants if v.strip()]
            if cleaned == [str(q) for q in questions.get(lang) or []]:
                continue
            if cleaned:
                questions[lang] = CommentedSeq(cleaned)
            elif lang in questions:
                del questions[lang]
            dirty = True
    if edit.answers is not None:
        answers = raw.setdefault("answers", CommentedMap())
        for lang, text in edit.answers.items():
            text = text.replace("\r\n", "\n").strip()
            current_answer = answers.get(lang)
            if not text:
                if lang in answers and lang != "de":
                    del answers[lang]
                    dirty = True
                continue
            if isinstance(current_answer, dict) and str(current_answer.get("text", "")).strip() == text:
                continue  # unchanged: its review stays
            # A changed German stays reviewed (staff wrote it); a changed translation needs a new review.
            # A block scalar keeps a long answer readable in git and a diff line-by-line.
            value = LiteralScalarString(text) if "\n" in text or len(text) > 80 else text
            answers[lang] = CommentedMap([("status", "reviewed" if lang == "de" else "unreviewed"), ("text", value)])
            dirty = True
    out = dict(files)
    if dirty:
        out[rel] = _dump(doc)
    return out


def mark_reviewed(files: Mapping[str, str], entry_id: str, lang: str, reviewer: str, today: date) -> Files:
    """A native speaker checked the translation against today's German."""
    rel, doc, raw = _find_entry(files, entry_id)
    answers = raw.get("answers") or {}
    if lang == "de" or lang not in answers or "de" not in answers:
        raise ContentError(f"entry {entry_id} has no {lang} translation to review")
    answer = answers[lang]
    answer["status"] = "reviewed"
    answer["reviewed_by"] = reviewer
    answer["reviewed_on"] = today.isoformat()
    answer["source_sha"] = source_sha(str(answers["de"]["text"]))
    out = dict(files)
    out[rel] = _dump(doc)
    return out


def new_entry(files: Mapping[str, str], guide: str, topic: str, entry_id: str, fields: Mapping[str, Any]) -> Files:
    """Append an entry to ``<guide>/<topic>.yaml`` (created when the topic has no file yet)."""
    rel = f"{guide}/{topic}.yaml"
    text = files.get(rel)
    doc = _load(text) if text else _load("entries: []\n")
    entries = doc.setdefault("entries", CommentedSeq())
    raw = CommentedMap([("id", entry_id), ("topic", topic), ("guide", guide)])
    for key, value in fields.items():
        raw[key] = value
    entries.append(raw)
    out = dict(files)
    out[rel] = _dump(doc)
    return out


def validate(files: Mapping[str, str], today: date | None = None) -> tuple[KnowledgePack, list[Problem]]:
    """The loader the bot uses, run on the changed files (in a scratch folder)."""
    with tempfile.TemporaryDirectory(prefix="wegweiser-pack-") as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return read_pack(root, today)


def changed(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> list[str]:
    return sorted(rel for rel in set(before) | set(after) if before.get(rel) != after.get(rel))


def unified_diff(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> str:
    parts: list[str] = []
    for rel in changed(before, after):
        parts.extend(difflib.unified_diff(
            (before.get(rel) or "").splitlines(keepends=True), (after.get(rel) or "").splitlines(keepends=True),
            fromfile=f"a/{rel}", tofile=f"b/{rel}",
        ))
    return "".join(parts)


def write_files(content_dir: Path, files: Mapping[str, str | None]) -> None:
    """Atomic per file: a crash leaves each file either old or new, never half written. None deletes."""
    for rel, text in files.items():
        path = content_dir / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
