"""Telegram transport: python-telegram-bot 22 turns updates into plain messages for the dialogue.

Handlers hold no business logic. Updates run concurrently across chats and in order within a chat;
replies respect Telegram's limits (30 messages/s overall, 1 message/s per chat): they wait in line
rather than being dropped, ``RetryAfter`` is waited out, and ``Forbidden`` (the person blocked the
bot) marks the person inactive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, ContextTypes, TypeHandler

from bot.dialogue import COMMANDS, DialogueService
from bot.ports import IncomingMessage, InputKind, Reply
from bot.store import Pseudonymizer, Store
from core.config import Settings
from core.errors import DeliveryError, RecipientGoneError, RejectedError, ThreadGoneError

log = logging.getLogger(__name__)
TELEGRAM_MAX_CHARS = 4096
CHANNEL = "telegram"
# Bot API descriptions of a forum topic that no longer takes messages.
THREAD_GONE = ("message thread not found", "topic_deleted", "topic_closed", "thread not found")
# Service messages (a topic created or renamed, a pin, an auto-delete timer, members joining): nobody
# wrote them to the bot, so they get no reply and are never relayed.
SERVICE_FIELDS = (
    "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
    "general_forum_topic_hidden", "general_forum_topic_unhidden", "pinned_message",
    "message_auto_delete_timer_changed", "new_chat_members", "left_chat_member", "new_chat_title",
    "new_chat_photo", "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
    "migrate_to_chat_id", "migrate_from_chat_id", "video_chat_started", "video_chat_ended",
    "write_access_allowed", "chat_shared", "users_shared",
)
ACK_EMOJI = "👌"  # the quiet "passed on" for a relayed message (a reply to each would drown the chat)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, strictly in arrival order within one chat (a forum topic of the staff
    group counts as a chat of its own). The per-chat lock is taken *before* a concurrency slot, so a
    burst from one chat waits in its own line instead of filling every slot and stalling everyone."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        # PTB takes its (final) semaphore before do_process_update; ours is taken after the chat's lock.
        super().__init__(100_000)
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[tuple[int, int | None], asyncio.Lock] = {}

    @staticmethod
    def _key(update: object) -> tuple[int, int | None] | None:
        if not isinstance(update, Update) or update.effective_chat is None:
            return None
        message = update.effective_message
        thread = message.message_thread_id if message is not None and message.is_topic_message else None
        return update.effective_chat.id, thread

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""


class TelegramOutput:
    """The dialogue's output port for Telegram, with queuing and retries."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], store: Store,
                 pseudonyms: Pseudonymizer, max_retries: int = 5) -> None:
        self._app = application
        self._store = store
        self._pseudonyms = pseudonyms
        self._max_retries = max_retries
        self._global = AsyncLimiter(30, 1)
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._last_sent: dict[str, float] = {}

    @staticmethod
    def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
        if not reply.buttons:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
        )

    async def send(self, chat: str, reply: Reply) -> None:
        """A reply to a person: delivery problems are logged (and a block remembered), never raised."""
        try:
            await self.deliver(chat, reply)
        except RecipientGoneError:
            log.info("telegram.forbidden: person marked inactive")
            await asyncio.to_thread(self._store.mark_inactive, self._pseudonyms.key(CHANNEL, chat))
        except DeliveryError as e:
            log.error("telegram.send_failed error=%s", e)

    async def deliver(self, chat: str, reply: Reply, thread: int | None = None, reply_to: int | None = None) -> int:
        markup = self._markup(reply)
        chunks = [reply.text[i : i + TELEGRAM_MAX_CHARS] for i in range(0, len(reply.text), TELEGRAM_MAX_CHARS)]
        if not chunks:
            raise DeliveryError("empty reply")  # Telegram rejects empty text
        lock = self._chat_locks.setdefault(chat, asyncio.Lock())
        message_id = 0
        async with lock:
            for n, chunk in enumerate(chunks):
                last = n == len(chunks) - 1
                # No parse_mode: text goes out verbatim, so nothing a person writes can inject markup.
                sent = await self._call(chat, partial(
                    self._app.bot.send_message, chat_id=int(chat), text=chunk, reply_markup=markup if last else None,
                    message_thread_id=thread, reply_parameters=_reply_to(reply_to),
                ))
                message_id = int(sent.message_id)
        return message_id

    async def copy(self, from_chat: str, message_id: int, to_chat: str, thread: int | None = None,
                   reply_to: int | None = None) -> int:
        """The message without its sender: copies carry no "forwarded from" header."""
        lock = self._chat_locks.setdefault(to_chat, asyncio.Lock())
        async with lock:
            result = await self._call(to_chat, partial(
                self._app.bot.copy_message, chat_id=int(to_chat), from_chat_id=int(from_chat), message_id=message_id,
                message_thread_id=thread, reply_parameters=_reply_to(reply_to),
            ))
        return int(result.message_id)

    async def create_topic(self, chat: str, name: str) -> int:
        topic = await self._call(chat, partial(self._app.bot.create_forum_topic, chat_id=int(chat), name=name[:128]))
        return int(topic.message_thread_id)

    async def rename_topic(self, chat: str, thread: int, name: str) -> None:
        await self._call(chat, partial(self._app.bot.edit_forum_topic, chat_id=int(chat), message_thread_id=thread,
                                       name=name[:128]))

    async def acknowledge(self, chat: str, message_id: int) -> None:
        await self._call(chat, partial(self._app.bot.set_message_reaction, chat_id=int(chat), message_id=message_id,
                                       reaction=[ReactionTypeEmoji(ACK_EMOJI)]), paced=False)

    async def _call(self, chat: str, request: Callable[[], Awaitable[Any]], paced: bool = True) -> Any:
        """One Bot API call within the limits, retried when Telegram or the network asks for it."""
        for attempt in range(self._max_retries + 1):
            # Telegram allows about one message per second in a chat.
            wait = self._last_sent.get(chat, 0.0) + 1.0 - time.monotonic() if paced else 0.0
            if wait > 0:
                await asyncio.sleep(wait)
            async with self._global:
                try:
                    result = await request()
                    if paced:
                        self._last_sent[chat] = time.monotonic()
                    return result
                except RetryAfter as e:
                    delay = e.retry_after if isinstance(e.retry_after, int | float) else e.retry_after.total_seconds()
                    log.warning("telegram.retry_after seconds=%s attempt=%d", delay, attempt)
                    await asyncio.sleep(float(delay))
                except BadRequest as e:
                    if any(marker in str(e.message).lower() for marker in THREAD_GONE):
                        raise ThreadGoneError(str(e.message)) from e
                    # Refused for good (a deleted message, malformed markup): retrying cannot help.
                    log.error("telegram.bad_request error=%s", e)
                    raise RejectedError(str(e.message)) from e
                except Forbidden as e:
                    raise RecipientGoneError(str(e.message)) from e
                except (TimedOut, NetworkError) as e:
                    log.warning("telegram.send_failed error=%s attempt=%d", type(e).__name__, attempt)
                    await asyncio.sleep(min(0.5 * 2**attempt, 8.0))
        raise DeliveryError(f"gave up after {self._max_retries + 1} attempts")


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    return ReplyParameters(message_id, allow_sending_without_reply=True) if message_id else None


def _kind(message: Message) -> InputKind:
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    if message.voice or message.audio or message.video_note:
        return "voice"
    if message.photo or message.video or message.animation:
        return "photo"
    if message.sticker:
        return "sticker"
    if message.location or message.venue:
        return "location"
    if message.document:
        return "document"
    return "unsupported"


def to_incoming(update: Update, pseudonyms: Pseudonymizer) -> IncomingMessage | None:
    """Translate an update into the dialogue's plain message; None for updates that need no reply."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    key = pseudonyms.key(CHANNEL, user.id)
    private = chat.type == ChatType.PRIVATE
    if update.callback_query is not None:
        origin = update.callback_query.message
        thread = getattr(origin, "message_thread_id", None) if origin is not None else None
        return IncomingMessage(key, str(chat.id), "callback", callback_data=update.callback_query.data,
                               language_hint=user.language_code, private=private, thread_id=thread)
    if update.edited_message is not None:
        return IncomingMessage(key, str(chat.id), "edited", language_hint=user.language_code, private=private)
    message = update.message
    if message is None or any(getattr(message, name, None) for name in SERVICE_FIELDS):
        return None
    kind = _kind(message)
    text = message.text or message.caption or ""
    command = None
    if kind == "command":
        command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
    reply_to = message.reply_to_message.message_id if message.reply_to_message is not None else None
    return IncomingMessage(key, str(chat.id), kind, text=text, command=command,
                           language_hint=user.language_code, private=private, message_id=message.message_id,
                           thread_id=message.message_thread_id if message.is_topic_message else None,
                           reply_to=reply_to)


class TelegramBot:
    """Wires the Application, the dialogue service and the output port."""

    def __init__(self, settings: Settings, dialogue: DialogueService, store: Store, pseudonyms: Pseudonymizer,
                 services: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()) -> None:
        """``services``: long-running coroutines that live as long as the bot (the staff console,
        the content watcher)."""
        if not settings.telegram_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.dialogue = dialogue
        self.store = store
        self.pseudonyms = pseudonyms
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_token)
            .base_url(settings.telegram_api_url)
            .concurrent_updates(PerChatUpdateProcessor())
            # getUpdates holds its connection for the whole long poll; give it its own pool.
            .get_updates_connection_pool_size(4)
            .connection_pool_size(32)
            .post_init(self._post_init)
            .post_shutdown(self._post_shutdown)
        )
        self._purge_task: asyncio.Task[None] | None = None
        self.application = builder.build()
        self.output = TelegramOutput(self.application, store, pseudonyms)
        self._sweep_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self._services = list(services)
        self._service_tasks: list[asyncio.Task[None]] = []
        if dialogue.handover is not None:
            dialogue.handover.bind(self.output)
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        # The HTTP client logs request URLs, which contain the bot token.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    async def _purge_forever(self, every_s: float = 6 * 3600) -> None:
        """Unanswered questions are kept only for the retention period, also in a long-running bot."""
        while True:
            removed = await asyncio.to_thread(self.store.purge_unanswered, self.settings.retention_days)
            closed = 0
            if self.dialogue.handover is not None:
                closed = await asyncio.to_thread(self.dialogue.handover.purge_closed, self.settings.retention_days)
            log.info("store.purged unanswered=%d conversations=%d", removed, closed)
            await asyncio.sleep(every_s)

    async def _post_init(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        # post_init runs before the application counts as running, so the task is ours to cancel.
        self._purge_task = asyncio.create_task(self._purge_forever(), name="purge-unanswered")
        self._service_tasks = [asyncio.create_task(service(), name=f"service-{i}")
                               for i, service in enumerate(self._services)]
        warm_up = getattr(self.dialogue.engine.translator, "warm_up", None)
        if callable(warm_up):
            self._warm_task = asyncio.create_task(self._warm_up(warm_up), name="translator-warm-up")
        if self.dialogue.handover is not None:
            # Offers time out, queues move and messages left from before a restart are delivered.
            self._sweep_task = asyncio.create_task(self.dialogue.handover.run_forever(), name="handover-sweep")
        ui = self.dialogue.ui
        for lang in [None, *ui.languages]:
            commands = [BotCommand(c, ui.get(lang, f"cmd.{c}")) for c in COMMANDS]
            try:
                await application.bot.set_my_commands(commands, language_code=lang)
            except TelegramError as e:
                # The command menu is a convenience; a Bot API server without it must not stop the bot.
                log.warning("telegram.set_my_commands_failed lang=%s error=%s", lang, e)

    @staticmethod
    async def _warm_up(warm_up: Callable[[], object]) -> None:
        try:
            await asyncio.to_thread(warm_up)
        except Exception:  # translation then loads on first use; the bot runs either way
            log.exception("translations.warm_up_failed")

    async def _post_shutdown(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        for task in (self._purge_task, self._sweep_task, self._warm_task, *self._service_tasks):
            if task is not None:
                task.cancel()
        self._service_tasks = []
        self._purge_task = self._sweep_task = self._warm_task = None

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            # Always answer a callback query, or the person's button keeps spinning; a failure here
            # (e.g. a query older than Telegram allows) must not cost the person their reply.
            try:
                await update.callback_query.answer()
            except TelegramError as e:
                log.warning("telegram.answer_callback_failed error=%s", e)
        incoming = to_incoming(update, self.pseudonyms)
        if incoming is None:
            return
        await self.dialogue.handle(incoming, self.output)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram.handler_error", exc_info=context.error)

    def run(self) -> None:
        if self.settings.webhook_url:
            self.application.run_webhook(
                listen=self.settings.webhook_listen, port=self.settings.webhook_port,
                webhook_url=self.settings.webhook_url, secret_token=self.settings.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            self.application.run_polling(allowed_updates=Update.ALL_TYPES)
