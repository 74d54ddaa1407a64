"""Publishing without a browser: concurrent saves, restoring a revision that created a file, later
revisions protecting earlier restores, held changes, and the watcher of another process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from console.publish import ContentWatcher, LiveContent, Outcome, PublishError, RegressionGate
from console.web import ConsoleContext
from evaluation.evaluate import top_topic
from knowledge.editor import STAFF_VARIANTS, EntryEdit, add_variants, edit_entry
from tests.console.conftest import ENTRY


def _add(ctx: ConsoleContext, entry_id: str, question: str) -> object:
    return ctx.content.publish(lambda files: add_variants(files, ctx.live.engine.pack, entry_id, [("de", question)]),
                               "test", f"variant for {entry_id}")


def test_two_staff_publishing_at_once_keep_both_changes(ctx: ConsoleContext) -> None:
    others = [e.id for e in ctx.live.engine.pack.entries if e.topic == "accommodation_in_district"][:1]
    jobs = [(ENTRY, "Zahnarzt am Samstag in Bautzen offen?"), (others[0], "Wo stelle ich im Heim mein Rad ab?")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda job: _add(ctx, *job), jobs))
    assert [r.status for r in results] == ["published", "published"]  # type: ignore[attr-defined]
    staff = ctx.content.files()[STAFF_VARIANTS]
    assert all(question in staff for _, question in jobs)
    pack = ctx.live.engine.pack
    assert "Zahnarzt am Samstag in Bautzen offen?" in pack.by_id(ENTRY).questions["de"]
    assert "Wo stelle ich im Heim mein Rad ab?" in pack.by_id(others[0]).questions["de"]


def test_restoring_the_revision_that_created_a_file_removes_it(ctx: ConsoleContext) -> None:
    original = ctx.content.files()
    assert STAFF_VARIANTS not in original
    first = _add(ctx, ENTRY, "Zahnarzt am Samstag in Bautzen offen?")
    assert first.status == "published"  # type: ignore[attr-defined]
    assert ctx.content._row(ctx.content.revisions()[0].id)[1] == {STAFF_VARIANTS: None}
    # A later revision on the same file protects the earlier one from a blind restore.
    _add(ctx, ENTRY, "Zahnarzt Notdienst Wochenende Bautzen")
    earlier, later = ctx.content.revisions()[1].id, ctx.content.revisions()[0].id
    with pytest.raises(PublishError, match="later revisions"):
        ctx.content.restore(earlier, "test")
    assert ctx.content.restore(later, "test").status == "published"
    assert ctx.content.restore(earlier, "test").status == "published"
    assert ctx.content.files() == original
    assert "Zahnarzt am Samstag in Bautzen offen?" not in ctx.live.engine.pack.by_id(ENTRY).questions["de"]


def test_an_unchanged_save_changes_nothing(ctx: ConsoleContext) -> None:
    entry = ctx.live.engine.pack.by_id(ENTRY)
    same = EntryEdit(answers={"de": entry.answers["de"].text}, facts_as_of=entry.facts_as_of.isoformat(),
                     escalation=entry.escalation, contact=entry.contact,
                     sources=[{"url": s.url, "title": s.title, "date": s.date} for s in entry.sources])
    files = ctx.content.files()
    assert edit_entry(files, ENTRY, same) == files
    assert ctx.content.publish(lambda f: edit_entry(f, ENTRY, same), "test", "nothing").status == "unchanged"
    assert ctx.content.revisions() == []


def test_a_held_change_is_released_only_when_the_files_are_as_it_found_them(ctx: ConsoleContext) -> None:
    gate = ctx.content.gate
    # A baseline that answered one question right which the candidate gets wrong: the gate must hold.
    probe = ctx.live.engine
    wrong = next(item for item in RegressionGate().items if item.kind == "in_scope"
                 and top_topic(probe.ask(item.text)) != item.topic)
    gate.items = [wrong]
    gate._baseline = (probe.pack.content_hash, [Outcome("answered", wrong.topic)])
    held = _add(ctx, ENTRY, "Zahnarzt am Samstag in Bautzen offen?")
    assert held.status == "held" and STAFF_VARIANTS not in ctx.content.files()  # type: ignore[attr-defined]
    report = ctx.content.revision(held.revision).report  # type: ignore[attr-defined]
    assert report is not None and (report.top1_before, report.top1_after) == (1, 0)
    # Someone publishes to the same file meanwhile: the held change no longer fits.
    gate._baseline = None
    assert _add(ctx, ENTRY, "Zahnarzt Notdienst Wochenende Bautzen").status == "published"  # type: ignore[attr-defined]
    with pytest.raises(PublishError, match="changed since"):
        ctx.content.release_held(held.revision, "admin")  # type: ignore[attr-defined]
    assert [r.status for r in ctx.content.revisions()] == ["published", "held"]


def test_a_bot_in_another_process_reloads_what_the_console_published(ctx: ConsoleContext) -> None:
    other_live = LiveContent(ctx.live.engine)
    watcher = ContentWatcher(ctx.content.content_dir, ctx.content.sessions, other_live)
    assert watcher.poll() is False
    assert _add(ctx, ENTRY, "Zahnarzt am Samstag in Bautzen offen?").status == "published"  # type: ignore[attr-defined]
    assert watcher.poll() is True
    assert "Zahnarzt am Samstag in Bautzen offen?" in other_live.engine.pack.by_id(ENTRY).questions["de"]
    assert watcher.poll() is False
