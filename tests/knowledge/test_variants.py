"""Question variants kept apart from the entries (``<pack>/variants/*.yaml``) are merged and validated."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.config import DEFAULT_CONTENT_DIR
from knowledge.loader import read_pack

ENTRY_FILE = DEFAULT_CONTENT_DIR / "welcome" / "dublin_procedure.yaml"


def _pack_with(tmp_path: Path, variants: str) -> Path:
    (tmp_path / "welcome").mkdir(parents=True)
    shutil.copy(ENTRY_FILE, tmp_path / "welcome")
    (tmp_path / "variants").mkdir()
    (tmp_path / "variants" / "extra.yaml").write_text(variants, encoding="utf-8")
    return tmp_path


def test_variants_are_added_to_their_entry_once(tmp_path: Path) -> None:
    plain, _ = read_pack(_pack_with(tmp_path / "a", "variants: {}\n"))
    entry = plain.entries[0]
    existing = entry.questions["de"][0]
    extra = (f"variants:\n  {entry.id}:\n    ar: [\"shu ya3ni dublin\", \"SHU ya3ni Dublin\"]\n"
             f"    de: [\"{existing}\"]\n    prs: [\"دبلن یعنی چی\"]\n")
    pack, problems = read_pack(_pack_with(tmp_path / "b", extra))
    assert problems == []
    merged = pack.by_id(entry.id)
    assert merged.questions["ar"][-1] == "shu ya3ni dublin"
    assert len(merged.questions["ar"]) == len(entry.questions["ar"]) + 1  # the case-folded repeat adds nothing
    assert merged.questions["de"] == entry.questions["de"]
    assert merged.questions["prs"] == ("دبلن یعنی چی",)
    assert pack.content_hash != plain.content_hash  # the index is rebuilt for new variants


def test_problems_in_a_variants_file_are_reported_with_file_and_entry(tmp_path: Path) -> None:
    plain, _ = read_pack(_pack_with(tmp_path / "a", "variants: {}\n"))
    entry_id = plain.entries[0].id
    _, problems = read_pack(_pack_with(tmp_path / "b", f"variants:\n  no.such.entry: {{ar: [x]}}\n"
                                                       f"  {entry_id}: {{xx: [y], ar: [\"\"]}}\n"))
    found = {(p.file, p.entry, p.field) for p in problems}
    assert ("variants/extra.yaml", "no.such.entry", "id") in found
    assert ("variants/extra.yaml", entry_id, "variants.xx") in found
    assert ("variants/extra.yaml", entry_id, "variants.ar") in found
