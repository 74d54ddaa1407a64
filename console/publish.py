"""Publishing content: validate, gate, write the YAML, record a revision, and answer from it at once.

A publish goes live in seconds without a restart: the new pack's index is rebuilt from cached
embeddings (only new or changed texts are embedded) and the running engine is swapped. Before that,
the regression gate asks the evaluation set of the live content and of the candidate: a candidate that
answers fewer questions with the right topic, or misses an emergency the live content caught, is held
back, and staff see which questions changed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from console.models import ContentRevision, StaffAudit
from core.errors import WegweiserError
from evaluation.evaluate import EvalItem, load_eval_set, top_topic
from knowledge.editor import Files, changed, read_files, unified_diff, validate, write_files
from knowledge.loader import Problem, load_pack
from retrieval.embedder import MemoEmbedder
from retrieval.engine import AnswerEngine

log = logging.getLogger(__name__)


class PublishError(WegweiserError):
    """A publish that cannot be done as asked (stale base, unknown revision)."""


# A change to the pack: the current files in, the changed files out (None deletes a file).
Change = Callable[[Files], Mapping[str, str | None]]


class LiveContent:
    """The engine the bot answers with, and who must hear when it changes."""

    def __init__(self, engine: AnswerEngine) -> None:
        self.engine = engine
        self._listeners: list[Callable[[AnswerEngine], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[AnswerEngine], None]) -> None:
        self._listeners.append(listener)

    def swap(self, engine: AnswerEngine) -> None:
        with self._lock:
            self.engine = engine
            for listener in self._listeners:
                listener(engine)


# ---------------------------------------------------------------------------------------- gate
@dataclass(frozen=True)
class Outcome:
    status: str
    topic: str | None


@dataclass
class GateReport:
    top1_before: int
    top1_after: int
    in_scope: int
    emergencies_before: int
    emergencies_after: int
    emergencies_lost: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.top1_after >= self.top1_before and not self.emergencies_lost

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "passed": self.passed}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> GateReport | None:
        if not text:
            return None
        raw = json.loads(text)
        raw.pop("passed", None)
        return cls(**raw)


class RegressionGate:
    """The evaluation set (own + development questions; never the blind set) against two packs."""

    def __init__(self, items: list[EvalItem] | None = None, threads: int = 2) -> None:
        self.items = items if items is not None else load_eval_set("tuning")
        self.threads = threads
        self._baseline: tuple[str, list[Outcome]] | None = None
        self._memo: MemoEmbedder | None = None
        self._lock = threading.Lock()

    def outcomes(self, engine: AnswerEngine) -> list[Outcome]:
        if self._memo is None:
            self._memo = MemoEmbedder(engine.ranker.embedder)
        probe = engine.for_evaluation(self._memo)

        def one(item: EvalItem) -> Outcome:
            result = probe.ask(item.text)
            return Outcome(result.status, top_topic(result))

        # The engine is thread-safe and FAISS and numpy release the GIL: two threads, a third faster.
        with ThreadPoolExecutor(self.threads, thread_name_prefix="gate") as pool:
            return list(pool.map(one, self.items))

    def baseline(self, engine: AnswerEngine) -> list[Outcome]:
        """The live content's outcomes, computed once per content version."""
        with self._lock:
            key = engine.pack.content_hash
            if self._baseline is None or self._baseline[0] != key:
                self._baseline = (key, self.outcomes(engine))
            return self._baseline[1]

    def compare(self, live: AnswerEngine, candidate: AnswerEngine) -> GateReport:
        started = time.perf_counter()
        before = self.baseline(live)
        after = self.outcomes(candidate)
        report = GateReport(0, 0, 0, 0, 0)
        for item, b, a in zip(self.items, before, after, strict=True):
            if item.kind == "in_scope":
                report.in_scope += 1
                report.top1_before += b.topic == item.topic
                report.top1_after += a.topic == item.topic
            if item.kind == "emergency":
                report.emergencies_before += b.status == "emergency"
                report.emergencies_after += a.status == "emergency"
            row = {"text": item.text, "lang": item.lang, "kind": item.kind, "expected": item.topic,
                   "before": asdict(b), "after": asdict(a)}
            if item.kind == "emergency" and b.status == "emergency" and a.status != "emergency":
                report.emergencies_lost.append(row)
            if a != b:
                report.changed.append(row)
        report.seconds = round(time.perf_counter() - started, 3)
        with self._lock:
            if report.passed:
                # The candidate is about to go live: its outcomes are the next baseline.
                self._baseline = (candidate.pack.content_hash, after)
        return report


# ---------------------------------------------------------------------------------------- publish
@dataclass
class PublishResult:
    status: str  # published | held | invalid | unchanged
    revision: int | None = None
    problems: list[Problem] = field(default_factory=list)
    report: GateReport | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RevisionView:
    id: int
    at: str
    author: str
    summary: str
    status: str
    diff: str
    report: GateReport | None
    files: list[str]


def audit(session: Session, account: str, action: str, detail: str | None = None) -> None:
    session.add(StaffAudit(account=account, action=action, detail=detail))


class ContentService:
    """Every content change staff make goes through :meth:`publish`; one at a time."""

    def __init__(self, content_dir: Path, sessions: sessionmaker[Session], live: LiveContent,
                 gate: RegressionGate | None = None) -> None:
        self.content_dir = content_dir
        self.sessions = sessions
        self.live = live
        self.gate = gate or RegressionGate()
        self._lock = threading.Lock()

    def files(self) -> Files:
        return read_files(self.content_dir)

    def publish(self, change: Change, author: str, summary: str, force: bool = False) -> PublishResult:
        """Apply ``change`` to the files as they are now (under the lock: two staff saving at once never
        undo each other), validate, gate, then write and go live. ``change`` returns the changed files
        (None: delete the file) and raises :class:`PublishError` when what it was based on has changed."""
        with self._lock:
            timings: dict[str, float] = {}
            t0 = time.perf_counter()
            current = self.files()
            after = change(current)
            full = dict(current)
            for rel, text in after.items():
                if text is None:
                    full.pop(rel, None)
                else:
                    full[rel] = text
            touched = changed(current, full)
            if not touched:
                return PublishResult("unchanged")
            pack, problems = validate(full, date.today())
            timings["validate_s"] = time.perf_counter() - t0
            if problems:
                return PublishResult("invalid", problems=problems, timings=timings)
            t1 = time.perf_counter()
            live = self.live.engine
            candidate = live.with_pack(pack, save=False)
            timings["index_s"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            report = self.gate.compare(live, candidate)
            timings["gate_s"] = time.perf_counter() - t2
            before: dict[str, str | None] = {rel: current.get(rel) for rel in touched}  # None: did not exist
            after_files: dict[str, str | None] = {rel: full.get(rel) for rel in touched}
            status = "published" if report.passed or force else "held"
            t3 = time.perf_counter()
            if status == "published":
                # Files first, the revision after: a bot in another process that sees the revision finds
                # the files it describes; a failed write records nothing as published.
                write_files(self.content_dir, after_files)
            with self.sessions.begin() as s:
                revision = ContentRevision(
                    author=author, summary=summary[:300], status=status, diff=unified_diff(before, after_files),
                    before=json.dumps(before, ensure_ascii=False), after=json.dumps(after_files, ensure_ascii=False),
                    report=report.to_json(),
                )
                s.add(revision)
                audit(s, author, "content." + ("publish_forced" if force and not report.passed else status),
                      f"{summary[:200]} ({', '.join(touched)})")
                s.flush()
                revision_id = int(revision.id)
            if status == "held":
                log.info("content.held revision=%d top1 %d→%d lost_emergencies=%d", revision_id,
                         report.top1_before, report.top1_after, len(report.emergencies_lost))
                return PublishResult("held", revision_id, report=report, timings=timings)
            # The on-disk index for the new content, for the next start.
            candidate.save_index()
            self.live.swap(candidate)
            timings["write_swap_s"] = time.perf_counter() - t3
            timings["total_s"] = time.perf_counter() - t0
            log.info("content.published revision=%d files=%d total_s=%.2f", revision_id, len(touched),
                     timings["total_s"])
            return PublishResult("published", revision_id, report=report, timings=timings)

    def revisions(self, limit: int = 50) -> list[RevisionView]:
        with self.sessions() as s:
            rows = s.scalars(select(ContentRevision).order_by(ContentRevision.id.desc()).limit(limit))
            return [self._view(r) for r in rows]

    def revision(self, revision_id: int) -> RevisionView:
        with self.sessions() as s:
            row = s.get(ContentRevision, revision_id)
            if row is None:
                raise PublishError(f"no revision {revision_id}")
            return self._view(row)

    @staticmethod
    def _view(r: ContentRevision) -> RevisionView:
        return RevisionView(r.id, r.at.strftime("%Y-%m-%d %H:%M"), r.author, r.summary, r.status, r.diff,
                            GateReport.from_json(r.report), sorted(json.loads(r.after)))

    def _row(self, revision_id: int) -> tuple[str, dict[str, str | None], dict[str, str | None], str]:
        with self.sessions() as s:
            row = s.get(ContentRevision, revision_id)
            if row is None:
                raise PublishError(f"no revision {revision_id}")
            return row.status, json.loads(row.before), json.loads(row.after), row.summary

    def restore(self, revision_id: int, author: str, force: bool = False) -> PublishResult:
        """Bring back the files as they were before a published revision (itself a new revision). Only
        while its files are as it left them: a later change to the same files is restored first."""
        status, before, after, _ = self._row(revision_id)
        if status != "published":
            raise PublishError(f"revision {revision_id} was never live; nothing to restore")

        change = _if_unchanged(after, before, "later revisions changed the same files; restore those first")
        return self.publish(change, author, f"Wiederherstellung: Stand vor Revision {revision_id}", force=force)

    def release_held(self, revision_id: int, author: str) -> PublishResult:
        """Publish a held change anyway (admin), if the files are still as it found them."""
        status, before, after, summary = self._row(revision_id)
        if status != "held":
            raise PublishError(f"revision {revision_id} is not held")

        change = _if_unchanged(before, after, "the content changed since this change was held back; make it again")
        result = self.publish(change, author, f"{summary} (freigegeben trotz Prüfung)", force=True)
        if result.status == "published":
            self.discard(revision_id, author, action="content.released", status="released")
        return result

    def discard(self, revision_id: int, author: str, action: str = "content.discarded",
                status: str = "discarded") -> None:
        with self.sessions.begin() as s:
            row = s.get(ContentRevision, revision_id)
            if row is not None and row.status == "held":
                row.status = status
                audit(s, author, action, f"revision {revision_id}")

    def latest_published(self) -> int:
        with self.sessions() as s:
            value = s.scalar(select(ContentRevision.id).where(ContentRevision.status == "published")
                             .order_by(ContentRevision.id.desc()).limit(1))
            return int(value or 0)


def _if_unchanged(expected: Mapping[str, str | None], result: Mapping[str, str | None], refusal: str) -> Change:
    """A change that sets ``result`` only while the files are still ``expected`` (None: absent)."""

    def change(current: Files) -> Mapping[str, str | None]:
        if any(current.get(rel) != text for rel, text in expected.items()):
            raise PublishError(refusal)
        return result

    return change


class ContentWatcher:
    """For a bot whose console runs in another process: reload when a newer publish is recorded."""

    def __init__(self, content_dir: Path, sessions: sessionmaker[Session], live: LiveContent) -> None:
        self.content_dir = content_dir
        self.sessions = sessions
        self.live = live
        self.seen = self._latest()

    def _latest(self) -> int:
        with self.sessions() as s:
            value = s.scalar(select(ContentRevision.id).where(ContentRevision.status == "published")
                             .order_by(ContentRevision.id.desc()).limit(1))
            return int(value or 0)

    def poll(self) -> bool:
        """Reload if a newer publish exists and the files differ from what is live; True if swapped.
        A failed reload is tried again at the next poll."""
        latest = self._latest()
        if latest == self.seen:
            return False
        pack = load_pack(self.content_dir)
        if pack.content_hash != self.live.engine.pack.content_hash:  # else published by this process
            self.live.swap(self.live.engine.with_pack(pack))
            log.info("content.reloaded revision=%d", latest)
        self.seen = latest
        return True
