"""``wegweiser people`` as an administrator uses it: a subprocess over a real SQLite database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bot.handover.registry import Registry
from bot.store import Store
from tests.conftest import PROJECT


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WEGWEISER_DATA_DIR": str(data_dir)}
    env.pop("WEGWEISER_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "cli", "people", *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=120, check=False)


def test_invite_join_list_pause_remove(tmp_path: Path) -> None:
    made = _run(tmp_path, "invite", "--role", "mediator", "--languages", "ar,prs", "--hours", "mo-fr 09:00-17:00",
                "--max-open", "1", "--gender", "f", "--alias", "Sprachmittlerin A")
    assert made.returncode == 0, made.stderr
    code = re.search(r"/join ([A-Z0-9-]+)", made.stdout)
    assert code is not None
    registry = Registry(Store(f"sqlite:///{tmp_path / 'wegweiser.db'}"))
    helper = registry.redeem(code.group(1), "key-1", "555")
    assert helper is not None and helper.languages == ("ar", "fa") and helper.max_open == 1
    assert registry.redeem(code.group(1), "key-2", "556") is None, "an invite works once"

    listed = _run(tmp_path, "list", "--language", "fa", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["alias"], row["gender"], row["hours"], row["open"]) == ("Sprachmittlerin A", "f",
                                                                         "mo-fr 09:00-17:00", "0/1")
    assert json.loads(_run(tmp_path, "list", "--language", "uk", "--json").stdout) == []

    assert _run(tmp_path, "pause", str(helper.id)).returncode == 0
    assert json.loads(_run(tmp_path, "list", "--json").stdout)[0]["paused"] is True
    assert _run(tmp_path, "remove", str(helper.id)).returncode == 0
    assert registry.by_key("key-1") is None, "the Telegram identity is forgotten"
    missing = _run(tmp_path, "pause", "99")
    assert missing.returncode == 2 and "no helper with id 99" in missing.stderr


def test_invites_are_checked_before_they_are_made(tmp_path: Path) -> None:
    for args, message in [
        (("--role", "mediator"), "needs --languages"),
        (("--role", "staff"), "staff need --team"),
        (("--role", "mediator", "--languages", "ar", "--topics", "no_such_topic"), "unknown topic ids"),
        (("--role", "mediator", "--languages", "ar", "--hours", "mo 18:00-09:00"), "end before they start"),
    ]:
        proc = _run(tmp_path, "invite", *args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
