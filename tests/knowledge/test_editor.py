"""The YAML round trip of console edits: comments and order kept, any text safe, the loader agrees."""

from __future__ import annotations

from datetime import date

from core.config import Settings
from knowledge.editor import (
    STAFF_VARIANTS,
    EntryEdit,
    add_variants,
    changed,
    edit_entry,
    mark_reviewed,
    read_files,
    validate,
)
from knowledge.loader import read_pack

ENTRY = "bautzen.dentist.toothache-dental-voucher"
NASTY = 'Zahn: "kaputt" # nicht ein Kommentar\n- keine Liste\n{ auch: keine Map } &anker *alias'


def test_edit_keeps_comments_and_order_and_round_trips_any_text() -> None:
    files = read_files(Settings().content_dir)
    after = edit_entry(files, ENTRY, EntryEdit(answers={"de": NASTY}))
    assert changed(files, after) == ["health/dentist.yaml"]
    old, new = files["health/dentist.yaml"], after["health/dentist.yaml"]
    # The file's opening comment and every other entry's lines are untouched.
    assert new.splitlines()[:5] == old.splitlines()[:5]
    assert [ln for ln in new.splitlines() if ln.strip().startswith("- id:")] == \
        [ln for ln in old.splitlines() if ln.strip().startswith("- id:")]
    pack, problems = validate(after, date(2026, 12, 2))
    assert problems == []
    entry = pack.by_id(ENTRY)
    assert entry.answers["de"].text == NASTY.strip()
    # The German changed: translations reviewed before are now outdated, never silently "reviewed".
    reviewed = mark_reviewed(files, ENTRY, "ar", "Samira", date(2026, 12, 2))
    assert validate(reviewed, date(2026, 12, 2))[0].by_id(ENTRY).checked("ar")
    edited = edit_entry(reviewed, ENTRY, EntryEdit(answers={"de": NASTY}))
    assert validate(edited, date(2026, 12, 2))[0].by_id(ENTRY).outdated("ar")


def test_added_variants_go_to_the_staff_file_once() -> None:
    settings = Settings()
    files = read_files(settings.content_dir)
    pack, _ = read_pack(settings.content_dir)
    existing = pack.by_id(ENTRY).questions["de"][0]
    after = add_variants(files, pack, ENTRY, [("de", NASTY), ("de", existing), ("ar", "ضرسي يوجعني")])
    assert changed(files, after) == [STAFF_VARIANTS]
    merged, problems = validate(after, date(2026, 12, 2))
    assert problems == []
    questions = merged.by_id(ENTRY).questions
    assert " ".join(NASTY.split()) in questions["de"] and "ضرسي يوجعني" in questions["ar"]
    assert list(questions["de"]).count(existing) == 1
    again = add_variants(after, merged, ENTRY, [("de", NASTY)])
    assert again == after


def test_a_broken_edit_is_reported_at_its_field() -> None:
    files = read_files(Settings().content_dir)
    after = edit_entry(files, ENTRY, EntryEdit(facts_as_of="2026-13-45", answers={"ar": "x" * 5000}))
    problems = {p.field for p in validate(after, date(2026, 12, 2))[1]}
    assert {"facts_as_of", "answers.ar.text"} <= problems
