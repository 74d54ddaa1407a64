"""The command line as a person uses it: a subprocess, JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], input=stdin, capture_output=True, text=True, env=env, cwd=PROJECT,
        timeout=300, check=False,
    )


@pytest.mark.usefixtures("engine")  # the session fixture makes sure the index is built first
def test_ask_json_answers_the_krankenschein_question() -> None:
    proc = _run("ask", "--json", "Wo bekomme ich einen Krankenschein?")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["status"] == "answered"
    assert payload["topic"] == "treatment_voucher_behandlungsschein"
    assert payload["lang"] == "de"


@pytest.mark.usefixtures("engine")
def test_batch_keeps_order_and_reports_bad_lines_without_stopping(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "Krankenschein", "lang": "ar"}),
        "{not json",
        json.dumps({"lang": "de"}),
        json.dumps({"text": "ich will nicht mehr leben"}),
        "",
        json.dumps({"text": "Bezahlkarte Bargeld wie viel"}),
    ]
    batch = tmp_path / "in.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _run("ask", "--json", "--batch", str(batch))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5, 6]
    assert [o["status"] for o in out][1:3] == ["error", "error"]
    assert out[0]["answer_lang"] == "ar"
    assert out[3]["status"] == "emergency"
    assert out[5]["topic"] == "payment_card_bezahlkarte"


def test_unknown_command_is_a_usage_error() -> None:
    assert _run("frobnicate").returncode == 2
