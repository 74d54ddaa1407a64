"""End to end: the real python-telegram-bot over real HTTP against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from telegram import Update

from bot.dialogue import DialogueService, DialogueSettings, entry_code
from bot.store import Pseudonymizer, Store
from bot.telegram_app import TelegramBot
from nlu.intents import NluService
from retrieval.engine import AnswerEngine
from tests.bot.tg import bot_settings, buttons, start, stop
from tests.fakes.bot_api import FakeBotApi

ARABIC = re.compile(r"[\u0600-\u06ff]")
LATIN = re.compile(r"[A-Za-zÄÖÜäöüß]")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest.fixture
def dialogue(engine: AnswerEngine, store: Store, nlu: NluService) -> DialogueService:
    """The production flood limit (the unit tests use a tighter one)."""
    return DialogueService(engine, store, DialogueSettings(), nlu=nlu)


@pytest.fixture
def pseudonyms() -> Pseudonymizer:
    return Pseudonymizer(b"test-key-of-sufficient-length!!")


@pytest.fixture
async def running(
    fake: FakeBotApi, dialogue: DialogueService, store: Store, pseudonyms: Pseudonymizer, tmp_path: Path
) -> AsyncIterator[TelegramBot]:
    bot = await start(TelegramBot(bot_settings(fake, tmp_path), dialogue, store, pseudonyms))
    yield bot
    await stop(bot)


async def test_arabic_speaker_goes_from_start_to_a_doctor_answer_and_deletes_everything(
    fake: FakeBotApi, running: TelegramBot, store: Store, pseudonyms: Pseudonymizer
) -> None:
    amina = fake.user(501, "Amina", language_code="ar")
    fake.push_command(amina, "/start")
    picker = (await fake.wait_for_messages(501, 1))[-1]
    assert buttons(picker)[0] == "lang:ar" and ARABIC.search(picker["text"] or "")

    fake.push_callback(amina, "lang:ar", message_id=picker["message_id"])
    welcome = (await fake.wait_for_messages(501, 2))[-1]
    assert ARABIC.search(welcome["text"] or "") and "/delete" in (welcome["text"] or "")
    fake.push_callback(amina, "ok:privacy", message_id=welcome["message_id"])
    await fake.wait_for_messages(501, 3)

    fake.push_text(amina, "عندي موعد عند الدكتور، كيف أحصل على Krankenschein؟")
    answer = (await fake.wait_for_messages(501, 4))[-1]
    text = answer["text"] or ""
    assert ARABIC.search(text) and "Krankenschein" in text
    # German office words appear (explained), but the answer is written in Arabic.
    body = text.split("\n\n")[0]
    assert len(ARABIC.findall(body)) > 2 * len(LATIN.findall(body)), body
    voucher = {entry_code(e.id) for e in running.dialogue.engine.pack.entries
               if e.topic == "treatment_voucher_behandlungsschein"}
    up = next(d for d in buttons(answer) if d.startswith("up:"))
    assert up[3:] in voucher
    assert {f"human:{up[3:]}", f"down:{up[3:]}", f"de:{up[3:]}"} <= set(buttons(answer))

    fake.push_callback(amina, up, message_id=answer["message_id"])
    await fake.wait_for_messages(501, 5)
    assert store.feedback_count(pseudonyms.key("telegram", 501)) == 1

    fake.push_command(amina, "/delete")
    confirm = (await fake.wait_for_messages(501, 6))[-1]
    fake.push_callback(amina, "del:yes", message_id=confirm["message_id"])
    done = (await fake.wait_for_messages(501, 7))[-1]
    assert ARABIC.search(done["text"] or "")
    assert store.person(pseudonyms.key("telegram", 501)) is None
    assert store.feedback_count(pseudonyms.key("telegram", 501)) == 0
    # Every button press was answered, so no client keeps spinning.
    assert len(fake.callback_answers) == 4
    # No message ever carried the person's Telegram name or id in its text.
    assert all("Amina" not in (m["text"] or "") for m in fake.messages_to(501))


async def test_commands_are_localised(fake: FakeBotApi, running: TelegramBot) -> None:
    languages = {lang for (_, lang) in fake.commands}
    assert {"", "ar", "fa", "uk", "ti"} <= languages
    ar = next(cmds for (scope, lang), cmds in fake.commands.items() if lang == "ar")
    assert [c["command"] for c in ar] == ["start", "language", "help", "human", "end", "privacy", "delete"]


async def test_every_kind_of_input_gets_exactly_one_localised_reply(
    fake: FakeBotApi, running: TelegramBot, dialogue: DialogueService
) -> None:
    oksana = fake.user(502, "Oksana", language_code="uk")
    pushes: list[tuple[Callable[[], int], str]] = [
        (lambda: fake.push_voice(oksana), "input.voice"),
        (lambda: fake.push_photo(oksana), "input.photo"),
        (lambda: fake.push_sticker(oksana), "input.sticker"),
        (lambda: fake.push_location(oksana), "input.location"),
        (lambda: fake.push_document(oksana), "input.document"),
        (lambda: fake.push_text(oksana, "🙏🙏🙏"), "input.empty"),
        (lambda: fake.push_edited_text(oksana, "змінений текст"), "input.edited"),
        (lambda: fake.push_command(oksana, "/frobnicate"), "input.unknown_command"),
    ]
    for push, _ in pushes:
        push()
    sent = await fake.wait_for_messages(502, len(pushes), timeout=30)
    assert [m["text"] for m in sent] == [dialogue.t("uk", key) for _, key in pushes]
    await asyncio.sleep(1.2)
    assert len(fake.messages_to(502)) == len(pushes)  # nothing answered twice


async def test_long_and_markup_text_and_group_chats(
    fake: FakeBotApi, running: TelegramBot, dialogue: DialogueService
) -> None:
    ali = fake.user(503, "Ali", language_code="fa")
    fake.push_text(ali, "کجا Krankenschein بگیرم؟ " + "لطفا " * 900)
    fake.push_text(ali, "<b>Krankenschein</b> *wo* [link](http://x) & </i>")
    sent = await fake.wait_for_messages(503, 2, timeout=20)
    assert sent[0]["text"].startswith(dialogue.t("fa", "input.too_long"))  # type: ignore[union-attr]
    assert "parse_mode" not in sent[1]["params"]  # sent verbatim: nothing can inject formatting
    fake.add_chat(-100777, "supergroup", "Some group")
    fake.push_text(ali, "Krankenschein", chat_type="supergroup", chat_id=-100777)
    group = await fake.wait_for_messages(-100777, 1)
    assert group[0]["text"] == dialogue.t("fa", "group.private_only")


async def test_429_and_500_during_a_reply_still_deliver_it_once(fake: FakeBotApi, running: TelegramBot) -> None:
    sami = fake.user(504, "Sami", language_code="de")
    fake.fail_next("sendMessage", status=429, retry_after=1)
    fake.push_text(sami, "Wo bekomme ich einen Krankenschein?")
    await fake.wait_for_messages(504, 1, timeout=15)
    fake.fail_next("sendMessage", status=500)
    fake.push_text(sami, "Bezahlkarte Bargeld wie viel")
    await fake.wait_for_messages(504, 2, timeout=15)
    await asyncio.sleep(1.5)
    assert len(fake.messages_to(504)) == 2
    statuses = [c["status"] for c in fake.calls_of("sendMessage")]
    assert 429 in statuses and 500 in statuses


async def test_blocked_bot_marks_the_person_inactive(
    fake: FakeBotApi, running: TelegramBot, store: Store, pseudonyms: Pseudonymizer
) -> None:
    lena = fake.user(505, "Lena", language_code="ru")
    fake.push_callback(lena, "lang:ru")
    await fake.wait_for_messages(505, 1)
    fake.block_user(505)
    fake.push_text(lena, "Krankenschein")
    await fake.wait_for(lambda: [c for c in fake.calls_of("sendMessage") if c["status"] == 403], what="403")
    def inactive() -> bool:
        state = store.person(pseudonyms.key("telegram", 505))
        return state is not None and state.inactive

    assert await fake.wait_for(inactive, what="person marked inactive")


async def test_replies_within_a_chat_keep_the_order_of_the_questions(fake: FakeBotApi, running: TelegramBot) -> None:
    tom = fake.user(506, "Tom", language_code="en")
    fake.push_voice(tom)
    fake.push_text(tom, "Where do I get a Krankenschein?")
    fake.push_sticker(tom)
    sent = await fake.wait_for_messages(506, 3, timeout=20)
    d = running.dialogue
    assert sent[0]["text"] == d.t("en", "input.voice")
    assert sent[2]["text"] == d.t("en", "input.sticker")
    assert sent[1]["text"] not in {d.t("en", "input.voice"), d.t("en", "input.sticker")}


async def test_restart_between_two_updates_loses_nothing_and_answers_nothing_twice(
    fake: FakeBotApi, dialogue: DialogueService, store: Store, pseudonyms: Pseudonymizer, tmp_path: Path
) -> None:
    nour = fake.user(507, "Nour", language_code="ar")
    first = await start(TelegramBot(bot_settings(fake, tmp_path), dialogue, store, pseudonyms))
    fake.push_sticker(nour)
    await fake.wait_for_messages(507, 1)
    await stop(first)
    fake.push_voice(nour)  # arrives while the bot is down
    second = await start(TelegramBot(bot_settings(fake, tmp_path), dialogue, store, pseudonyms))
    try:
        await fake.wait_for_messages(507, 2, timeout=15)
        await asyncio.sleep(1.5)
    finally:
        await stop(second)
    assert [m["text"] for m in fake.messages_to(507)] == [dialogue.t("ar", "input.sticker"),
                                                          dialogue.t("ar", "input.voice")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_rejects_a_wrong_secret_and_accepts_the_right_one(
    fake: FakeBotApi, dialogue: DialogueService, store: Store, pseudonyms: Pseudonymizer, tmp_path: Path
) -> None:
    port = _free_port()
    bot = TelegramBot(bot_settings(fake, tmp_path), dialogue, store, pseudonyms)
    app = bot.application
    await app.initialize()
    await app.start()
    assert app.updater is not None
    # Telegram is told the public https address; TLS ends at the district's reverse proxy, which
    # forwards to the bot's local http listener – the address the test posts to.
    public = "https://bot.example.org/hook"
    url = f"http://127.0.0.1:{port}/hook"
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook", webhook_url=public,
                                    secret_token="s3cret-token", allowed_updates=Update.ALL_TYPES)
    try:
        assert fake.webhook_url == public
        user = {"id": 508, "is_bot": False, "first_name": "W", "language_code": "de"}
        update = {"update_id": 900001, "message": {"message_id": 1, "date": 1, "text": "Krankenschein", "from": user,
                                                    "chat": {"id": 508, "type": "private", "first_name": "W"}}}
        async with httpx.AsyncClient() as client:
            wrong = await client.post(url, content=json.dumps(update),
                                      headers={"Content-Type": "application/json",
                                               "X-Telegram-Bot-Api-Secret-Token": "wrong"})
            missing = await client.post(url, content=json.dumps(update), headers={"Content-Type": "application/json"})
            assert wrong.status_code == 403 and missing.status_code == 403
            await asyncio.sleep(0.5)
            assert fake.messages_to(508) == []
            right = await client.post(url, content=json.dumps(update),
                                      headers={"Content-Type": "application/json",
                                               "X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
            assert right.status_code == 200
        await fake.wait_for_messages(508, 1)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
