"""The staff console in a real browser (Debian's Chromium driven by Playwright), served by uvicorn on
127.0.0.1, on the real engine, a real SQLite database and a copy of the real content pack; the bot
side goes through the real dialogue service. Screenshots of each page: ``var/screenshots/console``."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.dialogue import DialogueService
from bot.ports import CollectingOutput, IncomingMessage
from bot.store import Store
from console.publish import RegressionGate
from console.web import ConsoleContext, create_app
from retrieval.engine import AnswerEngine
from tests.console.conftest import make_context
from translations.ui import ui_catalog

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"
PASSWORD = "ein-langes-passwort"


@dataclass
class Console:
    url: str
    ctx: ConsoleContext
    dialogue: DialogueService
    store: Store
    content_dir: Path

    def ask(self, text: str, user: str = "person-1", lang: str | None = None) -> Any:
        """One message through the real dialogue service (on its own event loop, away from Playwright's)."""
        async def run() -> Any:
            out = CollectingOutput()
            if lang:
                await self.dialogue.handle(IncomingMessage(user, user, "callback", callback_data=f"lang:{lang}"),
                                           CollectingOutput())
            await self.dialogue.handle(IncomingMessage(user, user, "text", text=text), out)
            return out.sent[-1][1]

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def console(engine: AnswerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    import uvicorn

    tmp = tmp_path_factory.mktemp("console")
    ctx, store = make_context(engine, tmp, RegressionGate())
    live, content_dir = ctx.live, ctx.content.content_dir
    dialogue = DialogueService(live.engine, store)
    live.subscribe(lambda e: setattr(dialogue, "engine", e))
    ctx.auth.create_account("admin", "Anna Admin", PASSWORD, "admin")
    ctx.auth.create_account("redaktion", "Erik Editor", PASSWORD, "editor")
    ctx.auth.create_account("samira", "Samira Reviewer", PASSWORD, "reviewer", "ar,fa")
    ctx.auth.create_account("leser", "Lea Leserin", PASSWORD, "reader")
    # The gate's answers for the live content, computed once (the console warms them at start too).
    ctx.content.gate.baseline(live.engine)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield Console(f"http://127.0.0.1:{port}", ctx, dialogue, store, content_dir)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: scripts/setup.sh installs it (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def sign_in(browser: Any, console: Console, user: str, password: str = PASSWORD) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(120_000)  # a publish runs the regression gate: seconds on 2 busy cores
    page.goto(console.url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


QUESTION = "Darf ich im Heim mein Fahrrad im Keller abstellen?"


def test_unanswered_question_becomes_a_variant_and_the_bot_answers_it_without_restart(browser: Any,
                                                                                     console: Console) -> None:
    before = console.ask(QUESTION)
    assert "human" in [b.data for row in before.buttons for b in row]  # no answer: offered a person
    assert console.dialogue.engine.ask(QUESTION).status != "answered"
    page = sign_in(browser, console, "redaktion")
    page.goto(console.url + "/queue")
    assert QUESTION in page.inner_text("main")
    shot(page, "01-queue")
    target = next(e.id for e in console.dialogue.engine.pack.entries if e.topic == "accommodation_in_district")
    group = page.locator("article.group", has_text=QUESTION)
    group.locator("input[name=entry_id]").fill(target)
    group.locator("button", has_text="Hinzufügen und veröffentlichen").click()
    assert "Veröffentlicht" in page.inner_text("h1"), page.inner_text("main")[:2000]
    shot(page, "02-published")
    # The same question to the running bot: answered from the new variant, no restart.
    result = console.dialogue.engine.ask(QUESTION)
    assert (result.status, result.entry_id) == ("answered", target)
    after = console.ask(QUESTION, user="person-2")
    assert "up:" in " ".join(b.data for row in after.buttons for b in row)
    assert "variants/staff.yaml" in "".join(console.ctx.content.files())
    assert QUESTION in (console.content_dir / "variants" / "staff.yaml").read_text(encoding="utf-8")
    page.goto(console.url + "/queue")
    assert QUESTION not in page.inner_text("main")
    page.goto(console.url + "/revisions")
    shot(page, "03-revisions")
    page.close()


def _unreviewed_ar_entry(console: Console) -> Any:
    return next(e for e in console.dialogue.engine.pack.entries
                if e.answers.get("ar") is not None and e.answers["ar"].status == "unreviewed"
                and e.answers.get("fa") is not None and e.answers["fa"].status == "unreviewed"
                and e.questions.get("ar") and e.topic == "dentist")


def test_reviewer_marks_arabic_reviewed_and_the_bot_drops_the_label(browser: Any, console: Console) -> None:
    entry = _unreviewed_ar_entry(console)
    label = ui_catalog().get("ar", "answer.label.unreviewed")
    question = entry.questions["ar"][0]
    assert label in console.ask(question, user="ar-1", lang="ar").text
    page = sign_in(browser, console, "samira")
    page.goto(f"{console.url}/entries/{entry.id}?lang=ar")
    shot(page, "04-entry-editor")
    page.click("text=Übersetzung als geprüft markieren")
    assert "Veröffentlicht" in page.inner_text("h1"), page.inner_text("main")[:2000]
    reply = console.ask(question, user="ar-2", lang="ar")
    assert label not in reply.text
    assert "Samira Reviewer" in (console.content_dir / entry.file).read_text(encoding="utf-8")
    # A reviewer for ar/fa may not review Russian: no button, and a hand-made request is refused.
    page.goto(f"{console.url}/entries/{entry.id}?lang=ru")
    assert page.locator("text=Übersetzung als geprüft markieren").count() == 0
    csrf = page.locator("input[name=csrf]").first.input_value()
    base = page.locator("input[name=base]").first.input_value()
    response = page.request.post(f"{console.url}/entries/{entry.id}/review/ru", form={"csrf": csrf, "base": base})
    assert response.status == 403
    assert console.dialogue.engine.pack.by_id(entry.id).answers["ru"].status == "unreviewed"
    page.close()


def test_german_edit_makes_the_reviewed_farsi_answer_outdated(browser: Any, console: Console) -> None:
    entry = _unreviewed_ar_entry(console)
    reviewer = sign_in(browser, console, "samira")
    reviewer.goto(f"{console.url}/entries/{entry.id}?lang=fa")
    reviewer.click("text=Übersetzung als geprüft markieren")
    assert "Veröffentlicht" in reviewer.inner_text("h1")
    reviewer.close()
    page = sign_in(browser, console, "redaktion")
    page.goto(f"{console.url}/entries/{entry.id}?lang=fa")
    german = page.input_value("textarea[name=answer_de]")
    page.fill("textarea[name=answer_de]", german + "\n\nNeu: Termine bitte vorher telefonisch vereinbaren.")
    page.click("text=Speichern und veröffentlichen")
    assert "Veröffentlicht" in page.inner_text("h1"), page.inner_text("main")[:2000]
    page.goto(f"{console.url}/entries/{entry.id}?lang=fa")
    assert "veraltet" in page.inner_text("p.status")
    assert console.dialogue.engine.pack.by_id(entry.id).outdated("fa")
    shot(page, "05-outdated")
    page.goto(f"{console.url}/entries?q=Zahnarzt")
    shot(page, "06-entries")
    page.close()


def test_regression_gate_holds_back_a_publish_that_breaks_an_emergency(browser: Any, console: Console) -> None:
    gate = console.ctx.content.gate
    live = console.dialogue.engine
    baseline = gate.baseline(live)
    # An emergency only the semantic detector catches (no lexicon word), taught as an ordinary question.
    lost = next(item for item, outcome in zip(gate.items, baseline, strict=True)
                if item.kind == "emergency" and outcome.status == "emergency" and live.crisis.check(item.text) is None
                and live.ask(item.text).reason == "crisis:medical" and item.lang == "de")
    target = next(e.id for e in live.pack.entries if e.topic == "dentist")
    page = sign_in(browser, console, "redaktion")
    page.goto(f"{console.url}/entries/{target}?lang=en")
    field = page.locator("textarea[name=questions_de]")
    field.fill(field.input_value() + "\n" + lost.text)
    page.click("text=Speichern und veröffentlichen")
    heading = page.inner_text("h1")
    assert "Zurückgehalten" in heading, page.inner_text("main")[:2000]
    assert lost.text in page.inner_text("section.gate")
    shot(page, "07-gate-held")
    # Nothing went live: the file and the bot are unchanged.
    assert lost.text not in (console.content_dir / live.pack.by_id(target).file).read_text(encoding="utf-8")
    assert console.dialogue.engine.ask(lost.text).status == "emergency"
    page.close()


def test_question_text_with_html_is_shown_as_text(browser: Any, console: Console) -> None:
    evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> Wo ist das Fundbüro?'
    console.store.add_unanswered(evil, "de")
    page = sign_in(browser, console, "leser")
    page.goto(console.url + "/queue")
    assert evil in page.inner_text("main")
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("main script").count() == 0
    page.close()


def test_reader_cannot_publish_and_a_post_without_csrf_is_refused(browser: Any, console: Console) -> None:
    page = sign_in(browser, console, "leser")
    entry = console.dialogue.engine.pack.entries[0]
    page.goto(f"{console.url}/entries/{entry.id}")
    assert page.locator("text=Speichern und veröffentlichen").count() == 0
    csrf = page.locator("input[name=csrf]").first.input_value()
    response = page.request.post(f"{console.url}/entries/{entry.id}", form={"csrf": csrf, "base": "x"})
    assert response.status == 403
    editor = sign_in(browser, console, "redaktion")
    response = editor.request.post(f"{console.url}/queue/dismiss", form={"ids": "1"})
    assert response.status == 403  # no CSRF token
    page.close()
    editor.close()


def test_wrong_password_locks_the_account(browser: Any, console: Console) -> None:
    console.ctx.auth.create_account("opfer", "Olga", PASSWORD, "editor")
    for _ in range(5):
        page = sign_in(browser, console, "opfer", "falsch-falsch-falsch")
        assert "falsch" in page.inner_text("p.error")
        page.close()
    page = sign_in(browser, console, "opfer")  # the right password, too late
    assert "gesperrt" in page.inner_text("p.error")
    shot(page, "08-locked")
    page.close()


def test_analytics_and_people_pages(browser: Any, console: Console) -> None:
    page = sign_in(browser, console, "admin")
    page.goto(console.url + "/analytics")
    assert page.locator("figure.chart svg").count() >= 4
    shot(page, "09-analytics")
    csv = page.request.get(console.url + "/analytics/by_language.csv")
    assert csv.status == 200 and "de" in csv.text()
    page.goto(console.url + "/people")
    page.fill("input[name=languages]", "ar,fa")
    page.fill("input[name=alias]", "Mediatorin A")
    page.click("text=Einladungscode erzeugen")
    code = page.inner_text("p.code")
    assert code.startswith("/join ")
    shot(page, "10-people")
    page.close()
