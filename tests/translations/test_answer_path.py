"""Machine translation where people meet it: answers, the dialogue, pre-translation, the CLI."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.dialogue import DialogueService, DialogueSettings
from bot.ports import CollectingOutput, IncomingMessage
from bot.store import Store
from core.config import Settings
from retrieval.engine import AnswerEngine
from tests.conftest import PROJECT
from tests.translations.argos_fixture import load_pairs
from translations.answers import machine_answer
from translations.build import pretranslate
from translations.cache import TranslationCache
from translations.glossary import default_glossary
from translations.machine import ArgosTranslator
from translations.ui import ui_catalog

MakeTranslator = Callable[..., ArgosTranslator]
CASH_LIMIT = "bautzen.payment_card_bezahlkarte.cash-limit"
PASHTO_QUESTION = "له Bezahlkarte څخه څومره نغدې پیسې اخیستلی شم؟"


def expected_pashto(english: str) -> str:
    """The cash-limit answer as the en→ps test package renders it: its memorised sentences, in order."""
    rows = [(a, b) for a, b in load_pairs()[("en", "ps")] if a in english]
    assert " ".join(a for a, _ in rows) == english, "mt_pairs.yaml must hold every sentence of the answer"
    return " ".join(b for _, b in rows)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'bot.db'}")


@pytest.fixture
def mt_engine(engine: AnswerEngine, make_translator: MakeTranslator) -> AnswerEngine:
    return AnswerEngine(engine.pack, engine.ranker, engine.thresholds, translator=make_translator())


def test_pashto_question_gets_the_machine_translated_answer(mt_engine: AnswerEngine) -> None:
    result = mt_engine.ask(PASHTO_QUESTION, lang="ps")
    assert result.status == "answered" and result.entry_id == CASH_LIMIT, result.to_dict()
    entry = mt_engine.pack.by_id(CASH_LIMIT)
    assert result.answer == expected_pashto(entry.answers["en"].text)
    assert result.machine_translated and not result.answer_reviewed and not result.language_fallback
    assert (result.answer_lang, result.source_lang) == ("ps", "en")
    assert result.terms == ["Bezahlkarte", "Ausländerbehörde"]


def test_curated_close_language_beats_machine_translation(mt_engine: AnswerEngine) -> None:
    result = mt_engine.ask("Bezahlkarte Bargeld", lang="prs")
    assert result.answer_lang == "fa" and not result.machine_translated


def test_no_package_for_the_language_keeps_the_fallback_and_says_so(mt_engine: AnswerEngine) -> None:
    result = mt_engine.ask(PASHTO_QUESTION, lang="ku")
    assert result.status == "answered"
    assert result.language_fallback and result.translation_unavailable and not result.machine_translated
    assert result.answer_lang == "en"


async def _ask_as(dialogue: DialogueService, lang: str, text: str) -> CollectingOutput:
    out = CollectingOutput()
    await dialogue.handle(IncomingMessage("u-mt", "chat-mt", "callback", callback_data=f"lang:{lang}"), out)
    await dialogue.handle(IncomingMessage("u-mt", "chat-mt", "text", text=text), out)
    return out


async def test_dialogue_labels_the_translation_explains_terms_and_offers_the_original(
    mt_engine: AnswerEngine, store: Store
) -> None:
    dialogue = DialogueService(mt_engine, store, DialogueSettings())
    reply = (await _ask_as(dialogue, "ps", PASHTO_QUESTION)).sent[-1][1]
    ui, glossary = ui_catalog(), default_glossary()
    expected = expected_pashto(mt_engine.pack.by_id(CASH_LIMIT).answers["en"].text)
    assert reply.lang == "ps" and reply.text.startswith(expected)
    assert ui.get("ps", "answer.label.machine_translated") in reply.text
    assert ui.get("ps", "answer.terms_heading") in reply.text
    assert f"• Bezahlkarte: {glossary.explain('Bezahlkarte', 'ps').text}" in reply.text
    buttons = {b.label: b.data for row in reply.buttons for b in row}
    code = buttons[ui.get("ps", "button.show_original")].removeprefix("de:")
    assert buttons[ui.get("ps", "button.human")] == f"human:{code}"


async def test_dialogue_tells_a_kurdish_speaker_there_is_no_translation_and_offers_a_person(
    mt_engine: AnswerEngine, store: Store
) -> None:
    dialogue = DialogueService(mt_engine, store, DialogueSettings())
    reply = (await _ask_as(dialogue, "ku", PASHTO_QUESTION)).sent[-1][1]
    ui = ui_catalog()
    assert ui.get("ku", "answer.no_translation") in reply.text
    assert ui.get("ku", "answer.label.machine_translated") not in reply.text
    assert any(b.data.startswith("human:") for row in reply.buttons for b in row)


def test_build_pretranslates_every_answer_so_answering_needs_no_model(
    engine: AnswerEngine, make_translator: MakeTranslator, tmp_path: Path
) -> None:
    cache_file = tmp_path / "built.sqlite"
    report = pretranslate(engine.pack, make_translator(cache_file=cache_file), ["ps", "ku", "ar"])
    entries = len(engine.pack.entries)
    assert report.translated == entries and report.cached == 0
    assert report.unavailable == {"ku": entries} and report.curated == entries  # ar is curated
    fresh = make_translator(cache_file=cache_file)
    entry = engine.pack.by_id(CASH_LIMIT)
    answer = machine_answer(entry, "ps", fresh)
    assert answer is not None and answer.cached and answer.text == expected_pashto(entry.answers["en"].text)
    assert fresh.loaded() == []
    assert TranslationCache(cache_file).count("ps") == entries
    assert pretranslate(engine.pack, fresh, ["ps"]).cached == entries  # a rerun translates nothing


def test_translating_logs_no_text(make_translator: MakeTranslator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        make_translator().translate("Bitte warten Sie einen Moment.", "de", "en")
    assert caplog.records  # the translator does log its events …
    assert not [r for r in caplog.records if "Moment" in r.getMessage() or "moment" in r.getMessage()]


# ---------------------------------------------------------------------- the command line
def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=PROJECT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, timeout=600, check=False)


def test_cli_installs_lists_and_removes_packages(argos_packages: dict[tuple[str, str], Path], tmp_path: Path) -> None:
    env = {"WEGWEISER_DATA_DIR": str(tmp_path / "data"), "WEGWEISER_MT_PACKAGES_DIR": str(tmp_path / "pk")}
    empty = _cli("translations", "list", env=env)
    assert empty.returncode == 0 and "(none" in empty.stdout
    for pair in (("en", "ps"), ("de", "en")):
        proc = _cli("translations", "install", str(argos_packages[pair]), env=env)
        assert proc.returncode == 0, proc.stderr
        assert f"installed {pair[0]}→{pair[1]} version 1.0" in proc.stdout
    listed = _cli("translations", "list", env=env).stdout
    assert "de→en  version 1.0" in listed and "en→ps  version 1.0" in listed
    assert "machine-translated into: ps" in listed  # de→en→ps and en→ps
    removed = _cli("translations", "remove", "de", "en", env=env)
    assert removed.returncode == 0 and "removed de→en" in removed.stdout
    assert "de→en" not in _cli("translations", "list", env=env).stdout
    again = _cli("translations", "remove", "de", "en", env=env)
    assert again.returncode == 2 and "no package de→en" in again.stderr
    bad = tmp_path / "broken.argosmodel"
    bad.write_text("not a zip")
    refused = _cli("translations", "install", str(bad), env=env)
    assert refused.returncode == 2 and "not an .argosmodel" in refused.stderr


def test_cli_install_from_index_offline_gives_a_clear_error(tmp_path: Path) -> None:
    # A port nobody listens on: what an offline machine's connection attempt looks like.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"WEGWEISER_DATA_DIR": str(tmp_path / "data"), "WEGWEISER_MT_PACKAGES_DIR": str(tmp_path / "pk"),
           "WEGWEISER_MT_INDEX_URL": f"http://127.0.0.1:{port}/"}
    proc = _cli("translations", "install", "--from-index", "ar", "en", env=env)
    assert proc.returncode == 2
    assert "offline" in proc.stderr and "translations install FILE.argosmodel" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_build_fills_the_cache(mt_packages_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", mt_packages_dir=mt_packages_dir)
    env = {"WEGWEISER_DATA_DIR": str(settings.data_dir), "WEGWEISER_MT_PACKAGES_DIR": str(mt_packages_dir),
           "WEGWEISER_MT_LANGUAGES": "ps,ti"}
    proc = _cli("translations", "build", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "89 translated" in proc.stdout and "ti (89)" in proc.stdout
    assert "pre-translating answers" in proc.stderr  # the progress bar
    assert TranslationCache(settings.mt_cache_file).count("ps") == 89
    assert json.loads(json.dumps(proc.stdout))  # plain text, no traceback


@pytest.mark.parametrize(
    ("question", "topic"),
    [("زه د شپې دوا چېرته واخلم؟", "pharmacies_on_duty"), ("زما غاښ درد کوي، څه وکړم؟", "dentist")],
)
def test_question_translated_to_english_rescues_retrieval(
    engine: AnswerEngine, mt_engine: AnswerEngine, question: str, topic: str
) -> None:
    alone = engine.ask(question, lang="ps")
    assert alone.status != "answered"  # the premise: without translation these are not answered
    helped = mt_engine.ask(question, lang="ps")
    # Rescued: the English question finds the topic (answered, or offered first when the bot is unsure).
    assert helped.query_translated and helped.status in {"answered", "clarify"}, helped.to_dict()
    assert helped.candidates[0].topic == topic, helped.to_dict()
    assert helped.status != "answered" or (helped.topic == topic and helped.machine_translated)


def test_answered_question_is_not_translated(mt_engine: AnswerEngine) -> None:
    result = mt_engine.ask(PASHTO_QUESTION, lang="ps")
    assert result.status == "answered" and not result.query_translated
