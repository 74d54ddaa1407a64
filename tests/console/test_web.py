"""The console over HTTP without a browser (Starlette's test client): the one-time set-up link, stale
edits, oversized input, restoring a revision, and the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from console.models import StaffAudit
from console.web import PRE_COOKIE, ConsoleContext, create_app
from tests.console.conftest import ENTRY, PASSWORD


@pytest.fixture
def client(ctx: ConsoleContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as c:
        yield c


def _pre(client: TestClient, path: str) -> str:
    client.get(path)
    return str(client.cookies.get(PRE_COOKIE))


def login(client: TestClient, user: str) -> str:
    pre = _pre(client, "/login")
    response = client.post("/login", data={"csrf": pre, "username": user, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get(f"/entries/{ENTRY}").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def entry_base(client: TestClient, lang: str = "en") -> str:
    """The fingerprint the entry form was opened with."""
    match = re.search(r'name="base" value="([^"]+)"', client.get(f"/entries/{ENTRY}?lang={lang}").text)
    assert match
    return match.group(1)


def test_first_admin_only_through_the_one_time_link(ctx: ConsoleContext, client: TestClient) -> None:
    token = ctx.auth.setup_token()
    assert token
    pre = _pre(client, f"/setup?token={token}")
    wrong = client.post("/setup", data={"csrf": pre, "token": "guess", "username": "boss", "display_name": "B",
                                        "password": PASSWORD})
    assert wrong.status_code == 400 and not ctx.auth.any_account()
    ok = client.post("/setup", data={"csrf": pre, "token": token, "username": "boss", "display_name": "Boss",
                                     "password": PASSWORD}, follow_redirects=False)
    assert ok.status_code == 303 and [a.role for a in ctx.auth.accounts()] == ["admin"]
    again = client.post("/setup", data={"csrf": pre, "token": token, "username": "evil", "display_name": "E",
                                        "password": PASSWORD})
    assert again.status_code == 400 and len(ctx.auth.accounts()) == 1
    assert ctx.auth.setup_token() is None
    # The session cookie is HttpOnly and SameSite=Strict.
    pre = _pre(client, "/login")
    response = client.post("/login", data={"csrf": pre, "username": "boss", "password": PASSWORD},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_stale_edit_is_shown_not_overwritten_and_oversized_input_changes_nothing(
    ctx: ConsoleContext, client: TestClient
) -> None:
    ctx.auth.create_account("erik", "Erik", PASSWORD, "editor")
    csrf = login(client, "erik")
    base = entry_base(client, "en")
    german = ctx.live.engine.pack.by_id(ENTRY).answers["de"].text
    first = client.post(f"/entries/{ENTRY}", data={"csrf": csrf, "base": base, "lang": "en",
                                                   "answer_de": german + "\n\nErste Änderung."})
    assert "Veröffentlicht" in first.text
    second = client.post(f"/entries/{ENTRY}", data={"csrf": csrf, "base": base, "lang": "en",
                                                    "answer_de": german + "\n\nZweite Änderung."})
    assert second.status_code == 409 and "Jemand anderes" in second.text and "Zweite Änderung" in second.text
    live_text = ctx.live.engine.pack.by_id(ENTRY).answers["de"].text
    assert "Erste Änderung" in live_text and "Zweite Änderung" not in live_text
    files_before = ctx.content.files()
    huge = client.post(f"/entries/{ENTRY}", data={"csrf": csrf, "base": base, "lang": "en",
                                                  "answer_de": "x" * 50_000})
    assert huge.status_code == 413 and "zu lang" in huge.text
    assert ctx.content.files() == files_before


def test_a_revision_can_be_restored_and_every_change_is_in_the_audit_log(
    ctx: ConsoleContext, client: TestClient
) -> None:
    ctx.auth.create_account("erik", "Erik", PASSWORD, "editor")
    csrf = login(client, "erik")
    original = ctx.content.files()
    base = entry_base(client, "en")
    german = ctx.live.engine.pack.by_id(ENTRY).answers["de"].text
    client.post(f"/entries/{ENTRY}", data={"csrf": csrf, "base": base, "lang": "en",
                                           "answer_de": german + "\n\nNeu."})
    revision = ctx.content.revisions()[0]
    assert revision.status == "published" and "+" in revision.diff and revision.author == "erik"
    shown = client.get(f"/revisions/{revision.id}").text
    assert "Neu." in shown
    restored = client.post(f"/revisions/{revision.id}/restore", data={"csrf": csrf})
    assert "Veröffentlicht" in restored.text
    assert ctx.content.files() == original
    assert ctx.live.engine.pack.by_id(ENTRY).answers["de"].text == german
    with ctx.content.sessions() as s:
        actions = [a.action for a in s.query(StaffAudit).order_by(StaffAudit.id)]
    assert actions[:1] == ["account.create"] and actions.count("content.published") == 2


def test_a_wrong_or_foreign_csrf_token_is_refused_and_changes_nothing(ctx: ConsoleContext) -> None:
    ctx.auth.create_account("erik", "Erik", PASSWORD, "editor")
    ctx.auth.create_account("anna", "Anna", PASSWORD, "editor")
    files = ctx.content.files()
    with TestClient(create_app(ctx), base_url="http://127.0.0.1") as erik, \
            TestClient(create_app(ctx), base_url="http://127.0.0.1") as anna:
        login(erik, "erik")
        anna_token = login(anna, "anna")
        base = entry_base(erik, "en")
        for token in ("wrong", anna_token, "ä-not-ascii"):
            response = erik.post(f"/entries/{ENTRY}", data={"csrf": token, "base": base, "lang": "en",
                                                           "answer_de": "Überschrieben"})
            assert response.status_code == 403, token
    assert ctx.content.files() == files and ctx.content.revisions() == []


def test_only_reviewers_of_the_language_and_admins_mark_translations_reviewed(
    ctx: ConsoleContext, client: TestClient
) -> None:
    ctx.auth.create_account("erik", "Erik", PASSWORD, "editor")
    csrf = login(client, "erik")
    assert "als geprüft markieren" not in client.get(f"/entries/{ENTRY}?lang=ar").text
    base = entry_base(client, "ar")
    response = client.post(f"/entries/{ENTRY}/review/ar", data={"csrf": csrf, "base": base})
    assert response.status_code == 403 and ctx.content.revisions() == []


def test_unknown_names_lock_like_real_ones(ctx: ConsoleContext) -> None:
    from console.auth import AuthError

    messages = []
    for _ in range(6):
        with pytest.raises(AuthError) as e:
            ctx.auth.login("niemand", "falsch-falsch", "10.0.0.1")
        messages.append(str(e.value))
    ctx.auth.create_account("real", "Real", PASSWORD, "editor")
    real = []
    for _ in range(6):
        with pytest.raises(AuthError) as e:
            ctx.auth.login("real", "falsch-falsch", "10.0.0.2")
        real.append(str(e.value))
    assert messages == real and "gesperrt" in real[-1] and "gesperrt" not in real[0]
    with pytest.raises(AuthError, match="gesperrt"):
        ctx.auth.login("real", PASSWORD, "10.0.0.3")
