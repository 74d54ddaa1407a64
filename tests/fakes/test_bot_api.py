"""The fake Bot API, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.bot_api import FakeBotApi, FakeUser, unknown_fields, validate_update

App = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:  # strict: leaving fails on unknown calls, rejected requests, fake errors
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as b:
        yield b


@pytest.fixture
def alice(api: FakeBotApi) -> FakeUser:
    return api.user(1001, "Alice", language_code="de", username="alice")


def build_app(api: FakeBotApi) -> App:
    return ApplicationBuilder().token(api.token).base_url(api.base_url).build()


@contextlib.asynccontextmanager
async def polling(app: App) -> AsyncIterator[App]:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def raw_post(api: FakeBotApi, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(f"http://127.0.0.1:{api.port}{path}", **kwargs) as r:
        return r.status, await r.json()


def seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# --- the basics ------------------------------------------------------------------------------------------


async def test_get_me(api: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (api.bot_user["id"], True, "wegweiser_test_bot")
    assert unknown_fields(me, "me") == []
    assert api.base_url == f"http://127.0.0.1:{api.port}/bot"
    assert [c["method"] for c in api.calls] == ["getMe", "getMe"]  # Bot.initialize() and get_me()


async def test_application_polls_and_replies(api: FakeBotApi, alice: FakeUser) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.effective_chat is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
        await context.bot.send_message(update.effective_chat.id, f"Echo: {update.message.text}",
                                       reply_markup=keyboard)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"start {context.args}")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer("Danke")
        await query.edit_message_text(f"gewählt: {query.data}")

    app = build_app(api)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    async with polling(app):
        api.push_text(alice, "Hallo")
        [reply] = await api.wait_for_messages(alice.id, 1, timeout=5)
        api.push_command(alice, "/start payload")
        await api.wait_for_messages(alice.id, 2, timeout=5)
        api.push_callback(alice, "yes", message_id=reply["message_id"])
        await api.wait_for(lambda: [s for s in api.sent if s["method"] == "editMessageText"], 5, "the edit")

    assert reply["text"] == "Echo: Hallo"
    assert reply["reply_markup"] == {"inline_keyboard": [[{"text": "Ja", "callback_data": "yes"}]]}
    assert reply["message"] is not None and reply["message"]["from"]["id"] == api.bot_user["id"]
    assert api.texts_to(alice.id) == ["Echo: Hallo", "start ['payload']"]
    # Message ids count per chat, shared by the person's and the bot's messages.
    assert [m["message_id"] for m in api.messages_to(alice.id)] == [2, 4]
    assert [a["text"] for a in api.callback_answers] == ["Danke"]
    # The edit replaced the text and, without reply_markup, removed the keyboard.
    assert reply["message_id"] is not None
    edited = api.message(alice.id, reply["message_id"])
    assert edited["text"] == "gewählt: yes" and "reply_markup" not in edited and "edit_date" in edited
    methods = [c["method"] for c in api.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert api.pending_updates == []  # PTB confirmed everything on stop
    assert all(c["status"] in (200, 499) for c in api.calls), [(c["method"], c["status"]) for c in api.calls]


async def test_offset_is_honoured_across_restarts(api: FakeBotApi, alice: FakeUser) -> None:
    seen: list[str] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        seen.append(update.message.text)
        await context.bot.send_message(alice.id, "ok " + update.message.text)

    for text in ("first", "second"):
        app = build_app(api)
        app.add_handler(MessageHandler(filters.TEXT, record))
        async with polling(app):
            api.push_text(alice, text)
            await api.wait_for_messages(alice.id, len(seen) + 1, timeout=5)
    # A redelivered "first" would have been handled before "second" by the new Application.
    assert seen == ["first", "second"]
    assert api.pending_updates == []
    offsets = [c["params"].get("offset") for c in api.calls_of("getUpdates")]
    assert api.pushed[-1]["update_id"] + 1 in offsets


# --- errors PTB must see ---------------------------------------------------------------------------------


async def test_retry_after_then_success(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    api.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice.id, "eins")
    assert seconds(caught.value.retry_after) == 1
    await bot.send_message(alice.id, "eins")
    assert [(c["status"], c["injected"]) for c in api.calls_of("sendMessage")] == [(429, True), (200, False)]
    assert api.calls_of("sendMessage")[0]["description"] == "Too Many Requests: retry after 1"
    assert api.texts_to(alice.id) == ["eins"]  # the failed call is not in `sent`
    assert api.messages_to(alice.id)[0]["message_id"] == 1  # and used no message id


async def test_server_error_is_network_error(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    api.fail_next("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(alice.id, "x")
        assert not isinstance(caught.value, BadRequest | TimedOut)
        assert "Internal Server Error" in caught.value.message
    await bot.send_message(alice.id, "x")
    assert len(api.sent) == 1


async def test_blocked_user_is_forbidden(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    api.block_user(alice.id)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "Hallo")
    assert api.sent == [] and api.calls[-1]["status"] == 403
    api.unblock_user(alice.id)
    await bot.send_message(alice.id, "Hallo")
    assert api.texts_to(alice.id) == ["Hallo"]


async def test_delay_makes_the_client_time_out_but_the_message_goes_out(api: FakeBotApi, bot: Bot) -> None:
    api.delay_next("sendMessage", 1.0)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(1001, "langsam", read_timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert api.texts_to(1001) == ["langsam"]  # Telegram did the work; only the answer was late
    await bot.send_message(1001, "schnell")
    assert api.texts_to(1001) == ["langsam", "schnell"]


async def test_wrong_token_is_unauthorized(api: FakeBotApi) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=api.base_url):
            pass
    status, body = await raw_post(api, "/bot1:wrong/getMe")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


async def test_unknown_method_is_400_and_fails_the_test_loudly(api: FakeBotApi) -> None:
    status, body = await raw_post(api, f"/bot{api.token}/sendDice", data={"chat_id": "1"})
    assert (status, body) == (400, {"ok": False, "error_code": 400, "description": "Bad Request: method not found"})
    status, _ = await raw_post(api, f"/{api.token}/getMe")  # base_url without "/bot"
    assert status == 404
    assert [c["method"] for c in api.unknown_calls] == ["sendDice", f"/{api.token}/getMe"]
    with pytest.raises(AssertionError, match="sendDice"):
        api.assert_clean()
    api.unknown_calls.clear()


async def test_strict_exit_raises() -> None:
    async def code_that_swallows_errors() -> None:
        async with FakeBotApi() as fake, Bot(fake.token, base_url=fake.base_url) as b:
            with contextlib.suppress(BadRequest):
                await b.send_message(1, " ")

    with pytest.raises(AssertionError, match=r"sendMessage rejected \(400 Bad Request: message text is empty\)"):
        await code_that_swallows_errors()


async def test_invalid_requests_are_rejected(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("message text is empty", {"text": " \n "}),
        ("message is too long", {"text": "ü" * 4097}),
        ('Unsupported start tag "br"', {"text": "a<br>b", "parse_mode": "HTML"}),
        ("Can't find end tag", {"text": "<b>fett", "parse_mode": "HTML"}),
        ("Character '.' is reserved", {"text": "Ende.", "parse_mode": "MarkdownV2"}),
        ("Can't find end of Bold entity", {"text": "*fett", "parse_mode": "MarkdownV2"}),
        ("BUTTON_DATA_INVALID", {"text": "x", "reply_markup": InlineKeyboardMarkup(
            [[InlineKeyboardButton("x", callback_data="d" * 65)]])}),
    ]
    for description, kwargs in cases:
        with pytest.raises(BadRequest, match=r"(?i)" + re.escape(description)):
            await bot.send_message(alice.id, **kwargs)
    await bot.send_message(alice.id, "ü" * 4096)
    ok = await bot.send_message(alice.id, "<b>fett</b> &amp; <i>kursiv</i>", parse_mode="HTML")
    assert ok.text == "fett & kursiv"
    ok = await bot.send_message(alice.id, r"*fett* und \. [Link](https://example.org/\(x\)) `a.b`",
                                parse_mode="MarkdownV2")
    assert ok.text == "fett und . Link a.b"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(ok.text_html, chat_id=alice.id, message_id=ok.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("neu", chat_id=alice.id, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query("123")
    with pytest.raises(ValueError, match="no button with callback_data"):
        api.push_callback(alice, "nope", message_id=ok.message_id)
    assert len(api.rejected) == len(cases) + 3
    assert len(api.sent) == 3
    api.rejected.clear()


# --- updates ---------------------------------------------------------------------------------------------


async def test_every_push_helper_gives_a_spec_valid_update(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    bob = api.user(1002, "Bob")  # no language_code, no username
    staff = api.add_chat(-1001234567890, "supergroup", "Staff", is_forum=True)
    sent = await bot.send_message(alice.id, "Wählen", reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton("A", callback_data="a"), InlineKeyboardButton("Web", url="https://example.org")]]))
    ids = [
        api.push_text(alice, "Hallo /help@wegweiser_test_bot"),
        api.push_command(alice, "start payload"),
        api.push_callback(alice, "a", message_id=sent.message_id),
        api.push_callback(bob, "free"),
        api.push_voice(alice, duration=7),
        api.push_photo(alice, caption="Brief"),
        api.push_sticker(bob),
        api.push_location(alice),
        api.push_document(alice, caption="Bescheid"),
        api.push_edited_text(alice, "Hallo (bearbeitet)"),
        api.push_text(bob, "in der Gruppe", chat_type="group"),
        api.push_text(bob, "im Thema", chat_type="supergroup", chat_id=staff["id"], message_thread_id=5),
        api.push_raw({"my_chat_member": {
            "chat": alice.private_chat(), "from": alice.to_api(), "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": api.bot_user},
            "new_chat_member": {"status": "kicked", "user": api.bot_user, "until_date": 0},
        }}),
    ]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    updates = await bot.get_updates(timeout=0, allowed_updates=Update.ALL_TYPES)
    assert [u.update_id for u in updates] == ids
    for u in updates:
        assert unknown_fields(u) == []
    text, command, button, free, voice, photo, sticker, location, document, edited, group, topic, left = updates
    assert text.message is not None and text.message.parse_entities() != {}
    assert command.message is not None and command.message.text == "/start payload"
    [entity] = command.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)
    query = button.callback_query
    assert query is not None and query.data == "a" and query.from_user.id == alice.id and query.chat_instance
    assert query.message is not None and query.message.message_id == sent.message_id
    assert free.callback_query is not None and free.callback_query.message is not None
    assert voice.message is not None and voice.message.voice is not None and voice.message.voice.duration in (7, 7.0)
    assert photo.message is not None and photo.message.photo and photo.message.caption == "Brief"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert location.message is not None and location.message.location is not None
    assert document.message is not None and document.message.document is not None
    assert edited.edited_message is not None and edited.edited_message.text == "Hallo (bearbeitet)"
    # By default the person's last text message is edited.
    assert edited.edited_message.message_id == command.message.message_id
    assert group.message is not None and group.message.chat.type == "group"
    assert topic.message is not None and topic.message.message_thread_id == 5
    assert left.my_chat_member is not None
    # Nothing is dropped until a later offset confirms it.
    assert len(await bot.get_updates(timeout=0)) == len(ids)
    assert await bot.get_updates(offset=ids[-1] + 1, timeout=0) == ()
    assert api.pending_updates == []


async def test_push_raw_refuses_what_ptb_would_not_parse(api: FakeBotApi, alice: FakeUser) -> None:
    with pytest.raises(ValueError, match="cannot parse"):
        api.push_raw({"message": {"message_id": 1, "text": "no chat, no date"}})
    with pytest.raises(ValueError, match="does not know"):
        api.push_raw({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "txt": "x"}})
    with pytest.raises(ValueError, match="update_id must be"):
        api.push_raw({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}})
    validate_update({"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}})
    assert api.pending_updates == []


async def test_long_poll_returns_on_push_and_respects_timeout() -> None:
    async with FakeBotApi(max_poll_timeout=0.3) as fast, Bot(fast.token, base_url=fast.base_url) as b:
        started = time.monotonic()
        assert await b.get_updates(timeout=30) == ()
        assert 0.25 < time.monotonic() - started < 1.5  # capped at max_poll_timeout

    async with FakeBotApi() as slow, Bot(slow.token, base_url=slow.base_url) as b:
        poll = asyncio.create_task(b.get_updates(timeout=2))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        slow.push_text(slow.user(7, "Gül"), "merhaba")
        [update] = await poll
        assert time.monotonic() - started < 1.0  # not the 2 s timeout
        assert update.message is not None and update.message.text == "merhaba"


async def test_second_poller_ends_the_first_with_conflict(api: FakeBotApi, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=2))
    await asyncio.sleep(0.1)
    async with Bot(api.token, base_url=api.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
        await first
    api.rejected.clear()  # a 409 counts as a problem: two bot instances polling


async def test_webhook_blocks_polling_and_drop_pending(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL"):
        await bot.set_webhook("http://example.org/hook")
    await bot.set_webhook("https://example.org/hook")
    api.push_text(alice, "wartet")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == ()
    assert len(api.rejected) == 2
    api.rejected.clear()


# --- the other methods -----------------------------------------------------------------------------------


async def test_commands_are_recorded_per_language_and_scope(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "Starten")], language_code="de")
    await bot.set_my_commands([BotCommand("start", "Почати")], language_code="uk")
    assert api.commands_for() == [{"command": "start", "description": "Start"},
                                  {"command": "help", "description": "Help"}]
    assert api.commands_for("de") == [{"command": "start", "description": "Starten"}]
    assert [c.description for c in await bot.get_my_commands(language_code="uk")] == ["Почати"]
    assert await bot.get_my_commands(language_code="fa") == ()
    await bot.delete_my_commands(language_code="de")
    assert api.commands_for("de") is None
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "x")])
    api.rejected.clear()


async def test_chat_action_copy_and_forum_topic(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    assert await bot.send_chat_action(alice.id, "typing") is True
    api.push_text(alice, "Ich brauche Hilfe")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    topic = await bot.create_forum_topic(-1009876543210, "Alice · de")
    assert topic.name == "Alice · de" and topic.icon_color == 7322096 and topic.message_thread_id > 0
    copied = await bot.copy_message(-1009876543210, alice.id, update.message.message_id,
                                    message_thread_id=topic.message_thread_id)
    assert copied.message_id > topic.message_thread_id
    [record] = api.messages_to(-1009876543210, methods=["copyMessage"])
    assert record["text"] == "Ich brauche Hilfe"
    assert record["message"] is not None and record["message"]["message_thread_id"] == topic.message_thread_id
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(-1009876543210, "x", message_thread_id=999)
    with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
        await bot.copy_message(alice.id, alice.id, 999)
    assert await bot.close() is True and await bot.log_out() is True
    api.rejected.clear()


async def test_json_and_query_parameters(api: FakeBotApi) -> None:
    status, body = await raw_post(api, f"/bot{api.token}/sendMessage",
                                  json={"chat_id": 42, "text": "123", "reply_markup": {"remove_keyboard": True}})
    assert status == 200 and body["result"]["text"] == "123" and body["result"]["chat"] == {
        "id": 42, "type": "private", "first_name": "User 42"}
    status, body = await raw_post(api, f"/bot{api.token}/sendMessage?chat_id=42&text=007")
    assert status == 200 and body["result"]["text"] == "007" and body["result"]["message_id"] == 2
    form = aiohttp.FormData({"chat_id": "42", "text": "mit Datei", "reply_markup": '{"force_reply": true}'})
    form.add_field("document", b"%PDF-1.4", filename="a.pdf", content_type="application/pdf")
    status, body = await raw_post(api, f"/bot{api.token}/sendMessage", data=form)
    assert status == 200 and body["result"]["text"] == "mit Datei"
    assert api.sent[0]["reply_markup"] == {"remove_keyboard": True}
    assert [s["params"]["chat_id"] for s in api.sent] == [42, 42, 42]
    assert api.sent[2]["params"]["document"] == {"filename": "a.pdf", "content_type": "application/pdf", "size": 8}


async def test_waiting_fails_fast_on_a_rejected_call(api: FakeBotApi, bot: Bot, alice: FakeUser) -> None:
    async def bot_sends_empty_text() -> None:
        await asyncio.sleep(0.05)
        with contextlib.suppress(BadRequest):
            await bot.send_message(alice.id, "")

    task = asyncio.create_task(bot_sends_empty_text())
    started = time.monotonic()
    with pytest.raises(AssertionError, match="message text is empty"):
        await api.wait_for_messages(alice.id, 1, timeout=5)
    assert time.monotonic() - started < 1
    await task
    api.rejected.clear()
