"""The validator reports every problem with file, entry and field, and the CLI exits non-zero."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cli.main import main
from knowledge.loader import read_pack

GOOD = """
  - id: test.treatment.voucher
    topic: treatment_voucher_behandlungsschein
    guide: health
    facts_as_of: 2026-02-28
    escalation: offer
    contact: benefits_office
    sources:
      - {url: "https://example.org/a", title: "A page", date: "2016-01"}
    questions:
      de: ["Wie bekomme ich einen Krankenschein?", Krankenschein]
      en: ["How do I get a health voucher?", health voucher]
    answers:
      de: {status: reviewed, text: "Beim Sozialamt."}
      en: {status: reviewed, text: "At the benefits office."}
"""


def _write(folder: Path, guide: str, name: str, body: str) -> Path:
    path = folder / guide / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("entries:\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def test_a_clean_pack_has_no_problems(tmp_path: Path) -> None:
    _write(tmp_path, "health", "voucher.yaml", GOOD)
    pack, problems = read_pack(tmp_path)
    assert problems == []
    assert [e.id for e in pack.entries] == ["test.treatment.voucher"]


def test_each_kind_of_problem_is_reported_with_file_entry_and_field(tmp_path: Path) -> None:
    bad = (
        GOOD.replace("treatment_voucher_behandlungsschein", "no_such_topic")
        .replace("2026-02-28", "2026-02-30")
        .replace('      de: {status: reviewed, text: "Beim Sozialamt."}\n', "")
        .replace("health voucher]", "'  ']")
    )
    long_answer = GOOD.replace("At the benefits office.", "x" * 3600).replace("test.treatment.voucher", "test.long")
    _write(tmp_path, "health", "bad.yaml", bad)
    _write(tmp_path, "health", "long.yaml", long_answer)
    _write(tmp_path, "health", "dup.yaml", GOOD)
    _write(tmp_path, "health", "dup2.yaml", GOOD)
    _, problems = read_pack(tmp_path)
    found = {(p.file, p.entry, p.field) for p in problems}
    assert ("health/bad.yaml", "test.treatment.voucher", "topic") in found
    assert ("health/bad.yaml", "test.treatment.voucher", "facts_as_of") in found
    assert ("health/bad.yaml", "test.treatment.voucher", "answers.de") in found
    assert ("health/bad.yaml", "test.treatment.voucher", "questions.en[1]") in found
    assert ("health/long.yaml", "test.long", "answers.en.text") in found
    assert any(p.field == "id" and "duplicate" in p.message for p in problems)
    assert all(str(p).startswith(p.file) for p in problems)


def test_bad_source_date_and_broken_yaml_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, "health", "date.yaml", GOOD.replace('"2016-01"', '"Jan 2016"'))
    (tmp_path / "health" / "broken.yaml").write_text("entries:\n  - id: [unclosed\n", encoding="utf-8")
    _, problems = read_pack(tmp_path)
    fields = {(p.file, p.field) for p in problems}
    assert ("health/date.yaml", "sources[0].date") in fields
    assert any(p.file == "health/broken.yaml" and p.field.startswith("line") for p in problems)


def test_validate_command_exits_non_zero_and_lists_problems(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path, "welcome", "wrong-guide.yaml", GOOD)
    assert main(["knowledge", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "welcome/wrong-guide.yaml: entry test.treatment.voucher: guide:" in out


def test_validate_command_passes_on_the_bundled_pack() -> None:
    assert main(["knowledge", "validate"]) == 0
