"""A fake Telegram Bot API server for end-to-end tests.

It speaks the HTTP protocol python-telegram-bot (PTB) 22 uses: ``POST /bot<TOKEN>/<method>`` with a
form-encoded or multipart body in which non-string values are JSON-encoded (a JSON body and GET query
parameters are accepted too). Answers are ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …}`` with the same HTTP status, as Telegram does.

Usage::

    async with FakeBotApi() as api:
        app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
        ...
        alice = api.user(1001, "Alice", language_code="de")
        api.push_text(alice, "Hallo")
        [reply] = await api.wait_for_messages(alice.id, 1)

What it does, deliberately, like Telegram:

* updates stay queued until confirmed by a later ``getUpdates`` with a higher ``offset``; ``getUpdates``
  long-polls (``timeout`` capped at ``max_poll_timeout``, 2 s by default); a second concurrent
  ``getUpdates`` ends the first with 409 Conflict; ``getUpdates`` while a webhook is set is 409 too;
* every pushed update is checked with PTB's own ``Update.de_json`` (missing required fields raise,
  fields PTB does not know are reported) before it is queued;
* sent text is checked: empty or whitespace-only text, more than 4096 characters, malformed ``HTML`` or
  ``MarkdownV2`` (``parse_mode``), inline buttons without exactly one action, ``callback_data`` over
  64 bytes, edits that change nothing, answers to unknown callback queries — all answered with 400.

It fails loudly: unknown methods and paths get 400/404 and land in ``unknown_calls``; requests the fake
rejected as invalid land in ``rejected``; exceptions inside the fake give 500 and land in ``errors``.
Leaving ``async with`` (or calling :meth:`FakeBotApi.assert_clean`) raises ``AssertionError`` if any of
those lists is non-empty (``strict=False`` turns that off; clear a list after asserting on it).

Not simulated: webhooks delivering updates, file downloads, rate limits (use :meth:`fail_next`).
Push helpers are plain methods and must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import html
import inspect
import itertools
import json
import re
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Literal, TypedDict, TypeVar

from aiohttp import web
from telegram import TelegramObject, Update

__all__ = ["ApiError", "CallRecord", "FakeBotApi", "FakeUser", "SentRecord"]

JsonDict = dict[str, Any]
ChatId = int | str
ChatType = Literal["private", "group", "supergroup", "channel"]
Handler = Callable[[JsonDict], Awaitable[Any]]
T = TypeVar("T")
Q = TypeVar("Q", bound="_Injection")

MAX_TEXT_CHARS: Final = 4096
MAX_CALLBACK_DATA_BYTES: Final = 64
FORUM_ICON_COLORS: Final = frozenset({7322096, 16766590, 13338331, 9367192, 16749490, 16478047})
CHAT_ACTIONS: Final = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
# Update types Telegram leaves out unless they are asked for in allowed_updates.
NOT_DELIVERED_BY_DEFAULT: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# A subset of Telegram's allowed reaction emoji (setMessageReaction rejects others with REACTION_INVALID).
REACTION_EMOJI: Final = frozenset({"👍", "👎", "❤", "🔥", "👌", "👀", "🙏", "✍", "🤝", "👏"})
INLINE_BUTTON_ACTIONS: Final = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
)
# Parameters that are plain strings even when they look like JSON ("123", "true").
STRING_PARAMS: Final = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url", "name", "language_code",
    "action", "secret_token", "ip_address", "title", "description", "short_description", "emoji", "query",
    "icon_custom_emoji_id", "business_connection_id", "message_effect_id", "custom_title", "first_name",
    "last_name", "phone_number", "vcard", "address", "question", "explanation", "payload", "currency",
    "start_parameter", "game_short_name", "switch_pm_text", "next_offset", "sticker", "photo", "voice",
    "document", "audio", "video", "animation", "video_note", "file_id", "invite_link", "state",
})
NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CONFLICT_OTHER_POLL: Final = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CLIENT_GONE: Final = 499  # nginx's "client closed request": a long poll whose client had already left


class ApiError(Exception):
    """An error answer of the Bot API. Raise it from a handler given to :meth:`FakeBotApi.set_handler`."""

    def __init__(self, status: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


class CallRecord(TypedDict):
    """One HTTP request to a Bot API method, in arrival order (``status`` is None while in flight)."""

    method: str
    params: JsonDict
    status: int | None
    description: str | None  # the error description, None on success
    injected: bool  # answered by fail_next / block_user
    time: float  # time.monotonic() at arrival


class SentRecord(TypedDict):
    """A message the bot sent, copied or edited (successful calls only)."""

    method: str  # sendMessage, copyMessage, editMessageText, editMessageReplyMarkup
    chat_id: ChatId | None
    message_id: int | None
    text: str | None  # the text parameter as sent (markup included); the copied text for copyMessage
    reply_markup: JsonDict | None
    params: JsonDict
    message: JsonDict | None  # the resulting message as stored (None for inline messages)
    time: float  # time.monotonic() when the call was answered


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user that writes to the bot."""

    id: int
    first_name: str
    language_code: str | None = None
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False

    def to_api(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def private_chat(self) -> JsonDict:
        chat: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        return chat


@dataclass
class _Injection:
    remaining: int


@dataclass
class _Fault(_Injection):
    error: ApiError


@dataclass
class _Delay(_Injection):
    seconds: float


class _ClientGoneError(Exception):
    """The long poll's client disconnected; there is nobody to answer."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[JsonDict]:
    """The bot_command entities Telegram adds to a text."""
    return [
        {"type": "bot_command", "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group())}
        for m in re.finditer(r"(?<![^\s])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@/])", text)
    ]


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_param(key: str, value: str) -> Any:
    """Form values are strings; PTB JSON-encodes every value that is not a string."""
    if key in STRING_PARAMS or not value:
        return value
    if value[0] in '{["-0123456789' or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def unknown_fields(obj: object, path: str = "update") -> list[str]:
    """Fields PTB did not recognise (it keeps them in ``api_kwargs``), anywhere in a parsed PTB object."""
    found: list[str] = []
    if isinstance(obj, TelegramObject):
        found += [f"{path}.{key}" for key in obj.api_kwargs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            attrs = obj._get_attrs()
        for key, value in attrs.items():
            if key != "api_kwargs":
                found += unknown_fields(value, f"{path}.{key}")
    elif isinstance(obj, tuple | list):
        for i, item in enumerate(obj):
            found += unknown_fields(item, f"{path}[{i}]")
    return found


def validate_update(update: Mapping[str, Any]) -> None:
    """Raise ValueError unless PTB parses ``update`` completely (no missing or unknown fields)."""
    try:
        parsed = Update.de_json(copy.deepcopy(dict(update)), None)
    except (TypeError, KeyError, ValueError) as e:
        raise ValueError(f"python-telegram-bot cannot parse this update ({e}): {update}") from e
    unknown = unknown_fields(parsed)
    if unknown:
        raise ValueError(f"fields python-telegram-bot does not know: {unknown} in {update}")
    kinds = [key for key in update if key != "update_id"]
    if len(kinds) != 1:
        raise ValueError(f"an update carries exactly one object besides update_id, got {kinds}")


# --- parse_mode ------------------------------------------------------------------------------------------

_HTML_TAGS: Final = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji", "code",
    "pre", "blockquote", "tg-time",
})
_HTML_TAG_RE: Final = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_HTML_ENTITY_RE: Final = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_MD2_RESERVED: Final = "_*[]()~`>#+-=|{}.!"
_MD2_NAMES: Final = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler",
                     "[": "TextUrl"}


def _entities_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _plain_from_html(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            m = _HTML_TAG_RE.match(text, i)
            name = m.group(2).lower() if m else ""
            if m is None or name not in _HTML_TAGS:
                raise _entities_error(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}')
            if m.group(1):
                if not stack:
                    raise _entities_error(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
                if stack[-1] != name:
                    raise _entities_error(f'Unmatched end tag at byte offset {_byte_offset(text, i)}, '
                                          f'expected "</{stack[-1]}>", found "</{name}>"')
                stack.pop()
            else:
                stack.append(name)
            i = m.end()
        elif char == "&" and (e := _HTML_ENTITY_RE.match(text, i)):
            out.append(html.unescape(e.group()))
            i = e.end()
        else:
            out.append(char)
            i += 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _plain_from_markdown_v2(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i, n = 0, len(text)
    line_start = True

    def reserved(char: str) -> ApiError:
        return _entities_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")

    def scan_to(closing: str, start: int, entity: str) -> tuple[str, int]:
        """Text up to the next unescaped ``closing`` (only ``closing`` and backslash may be escaped there)."""
        j, chunk = start, []
        while j < n:
            if text[j] == "\\" and j + 1 < n:
                chunk.append(text[j + 1])
                j += 2
            elif text.startswith(closing, j):
                return "".join(chunk), j + len(closing)
            else:
                chunk.append(text[j])
                j += 1
        raise _entities_error(f"Can't find end of {entity} entity at byte offset {_byte_offset(text, start - 1)}")

    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 >= n or not 1 <= ord(text[i + 1]) <= 126:
                raise reserved("\\")
            out.append(text[i + 1])
            i += 2
        elif text.startswith("```", i):
            body, i = scan_to("```", i + 3, "Pre")
            out.append(body.split("\n", 1)[1] if "\n" in body and body.split("\n", 1)[0].strip().isidentifier()
                       else body)
        elif char == "`":
            body, i = scan_to("`", i + 1, "Code")
            out.append(body)
        elif line_start and (text.startswith(">", i) or text.startswith("**>", i)):
            i += 1 if char == ">" else 3
        elif char == "!" and text.startswith("![", i):
            stack.append(("[", i))
            i += 2
        elif char == "[":
            stack.append(("[", i))
            i += 1
        elif char == "]":
            if not stack or stack[-1][0] != "[":
                raise reserved("]")
            stack.pop()
            if not text.startswith("(", i + 1):
                raise _entities_error(f"Can't find end of a URL at byte offset {_byte_offset(text, i)}")
            _url, i = scan_to(")", i + 2, "TextUrl")
        elif char in "*~_|":
            marker = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else char
            if marker == "|":
                raise reserved("|")
            if stack and stack[-1][0] == marker:
                stack.pop()
            elif any(m == marker for m, _ in stack):
                raise _entities_error(f"Can't find end of {_MD2_NAMES[stack[-1][0]]} entity at byte offset "
                                      f"{_byte_offset(text, stack[-1][1])}")
            else:
                stack.append((marker, i))
            i += len(marker)
        elif char in _MD2_RESERVED:
            raise reserved(char)
        else:
            out.append(char)
            i += 1
        line_start = i > 0 and text[i - 1] == "\n"
    if stack:
        marker, at = stack[-1]
        raise _entities_error(f"Can't find end of {_MD2_NAMES[marker]} entity at byte offset {_byte_offset(text, at)}")
    return "".join(out)


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text a user sees: markup checked like Telegram does, then removed. Legacy Markdown is not checked."""
    mode = (parse_mode or "").lower()
    if mode == "":
        return text
    if mode == "html":
        return _plain_from_html(text)
    if mode == "markdownv2":
        return _plain_from_markdown_v2(text)
    if mode == "markdown":
        return text
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


# --- the server ------------------------------------------------------------------------------------------


class FakeBotApi:
    """A Bot API server on 127.0.0.1 (random free port) for python-telegram-bot to talk to.

    ``base_url`` ("http://127.0.0.1:PORT/bot") goes to ``ApplicationBuilder().base_url()`` or
    ``Bot(base_url=...)``; PTB appends the token.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_id: int = 7000000001,
        bot_username: str = "wegweiser_test_bot",
        bot_name: str = "Wegweiser Test",
        max_poll_timeout: float = 2.0,
        first_update_id: int = 100_001,
        strict: bool = True,
    ) -> None:
        self.token = token or f"{bot_id}:AAF{secrets.token_urlsafe(24)}"
        self.bot_user: JsonDict = {"id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username}
        self.max_poll_timeout = max_poll_timeout
        self.strict = strict

        # Recording (read these in tests).
        self.calls: list[CallRecord] = []
        self.sent: list[SentRecord] = []
        self.unknown_calls: list[CallRecord] = []
        self.rejected: list[CallRecord] = []
        self.errors: list[str] = []
        self.pushed: list[JsonDict] = []
        self.dropped_updates: list[JsonDict] = []  # not in allowed_updates: Telegram never delivers these
        self.callback_answers: list[JsonDict] = []
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}  # (scope key, language_code or "")
        self.topics: dict[ChatId, dict[int, JsonDict]] = {}
        self.reactions: dict[tuple[ChatId, int], list[JsonDict]] = {}  # (chat, message) → the bot's reaction
        self.webhook_url = ""

        self._pending: list[JsonDict] = []
        self._next_update_id = first_update_id
        self._allowed_updates: frozenset[str] | None = None
        self._delivered: set[int] = set()
        self._chats: dict[ChatId, JsonDict] = {}
        self._messages: dict[tuple[ChatId, int], JsonDict] = {}
        self._last_message_id: dict[ChatId, int] = {}
        self._callback_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._blocked: set[ChatId] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, list[_Delay]] = {}
        self._poll_seq = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._request: contextvars.ContextVar[web.Request] = contextvars.ContextVar("request")
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        builtin: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "setMessageReaction": self._set_message_reaction,
            "close": self._ok,
            "logOut": self._ok,
        }
        self._methods: dict[str, tuple[str, Handler]] = {name.lower(): (name, fn) for name, fn in builtin.items()}

    # --- lifecycle ---------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeBotApi already started")
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_path)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = site.port

    async def stop(self) -> None:
        """Wake every long poll and delayed answer, then close the server."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        if exc_type is None and self.strict:
            self.assert_clean()

    def problems(self) -> list[str]:
        """What went wrong silently: unknown methods, requests rejected as invalid, bugs in the fake."""
        found = [f"unknown method or path {c['method']!r} {c['params']}" for c in self.unknown_calls]
        found += [f"{c['method']} rejected ({c['status']} {c['description']}): {c['params']}" for c in self.rejected]
        found += [f"fake error: {e}" for e in self.errors]
        return found

    def assert_clean(self) -> None:
        if problems := self.problems():
            raise AssertionError("FakeBotApi saw problems:\n  " + "\n  ".join(problems))

    # --- fault injection and extension -------------------------------------------------------------------

    def fail_next(
        self, method: str, status: int = 429, retry_after: int = 1, times: int = 1, description: str | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` ("*": any method) fail with ``status``, without side effects."""
        if times < 1 or not 400 <= status <= 599:
            raise ValueError("times must be >= 1 and status an HTTP error status")
        parameters: JsonDict | None = None
        if status == 429:
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif description is None:
            description = {
                400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was blocked by the user",
                404: "Not Found", 409: CONFLICT_OTHER_POLL, 500: "Internal Server Error", 502: "Bad Gateway",
            }.get(status) or HTTPStatus(status).phrase
        self._faults.setdefault(self._canonical_or_star(method), []).append(
            _Fault(times, ApiError(status, description, parameters))
        )

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the answer to the next ``times`` calls of ``method`` for ``seconds``.

        The call takes effect at once (a message is recorded and stored) and only the answer is late, as when
        Telegram did the work but the response was slow: a client that times out and retries sends twice.
        For getUpdates the wait comes first.
        """
        self._delays.setdefault(self._canonical_or_star(method), []).append(_Delay(times, seconds))

    def block_user(self, chat_id: ChatId) -> None:
        """Every call with this chat_id gets 403 "Forbidden: bot was blocked by the user"."""
        self._blocked.add(self._chat_key(chat_id))

    def unblock_user(self, chat_id: ChatId) -> None:
        self._blocked.discard(self._chat_key(chat_id))

    def set_handler(self, method: str, handler: Callable[[JsonDict], Any]) -> None:
        """Implement (or replace) a method: ``handler(params)`` returns the result or raises :class:`ApiError`."""

        async def run(params: JsonDict) -> Any:
            result = handler(params)
            return await result if inspect.isawaitable(result) else result

        self._methods[method.lower()] = (method, run)

    def _canonical_or_star(self, method: str) -> str:
        if method == "*":
            return method
        if method.lower() not in self._methods:
            raise ValueError(f"FakeBotApi does not implement {method!r}; known: {sorted(self.method_names())}")
        return self._methods[method.lower()][0]

    def method_names(self) -> list[str]:
        return [name for name, _ in self._methods.values()]

    # --- users, chats and update injection ---------------------------------------------------------------

    def user(
        self, id: int, first_name: str, language_code: str | None = None, username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """A person; their private chat with the bot (chat id = user id) becomes known to the fake."""
        person = FakeUser(id, first_name, language_code, username, last_name)
        self._chats[id] = person.private_chat()
        return person

    def add_chat(
        self, chat_id: int, chat_type: ChatType, title: str | None = None, *, is_forum: bool = False,
        username: str | None = None,
    ) -> JsonDict:
        """Make a group, supergroup (``is_forum`` for topics) or channel known, e.g. the staff chat."""
        chat: JsonDict = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = title or f"Test {chat_type} {chat_id}"
        if username:
            chat["username"] = username
        if is_forum:
            if chat_type != "supergroup":
                raise ValueError("only supergroups can be forums")
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        return chat

    def push_raw(self, update: Mapping[str, Any], *, validate: bool = True) -> int:
        """Queue an update as given; ``update_id`` is assigned unless present (then it must be the highest)."""
        data = copy.deepcopy(dict(update))
        if "update_id" in data:
            if not isinstance(data["update_id"], int) or data["update_id"] < self._next_update_id:
                raise ValueError(f"update_id must be an int >= {self._next_update_id}, got {data['update_id']!r}")
            self._next_update_id = data["update_id"]
        data["update_id"] = self._next_update_id
        if validate:
            validate_update(data)
        self._next_update_id += 1
        self._pending.append(data)
        self.pushed.append(data)
        self._notify()
        return int(data["update_id"])

    def push_text(
        self, user: FakeUser, text: str, chat_type: ChatType = "private", chat_id: int | None = None,
        *, message_thread_id: int | None = None, reply_to: int | None = None,
    ) -> int:
        """A text message; bot commands in it get bot_command entities, as Telegram adds them. ``reply_to``:
        the id of a message in the same chat that this one answers (Telegram's "Reply")."""
        if not text:
            raise ValueError("Telegram has no empty text messages")
        content: JsonDict = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        if message_thread_id is not None:
            content["message_thread_id"] = message_thread_id
            content["is_topic_message"] = True
        if reply_to is not None:
            target_chat = self._chat_for(user, chat_type, chat_id)["id"]
            target = self._messages.get((target_chat, reply_to))
            if target is None:
                raise ValueError(f"no message {reply_to} in chat {target_chat} to reply to")
            content["reply_to_message"] = {k: copy.deepcopy(v) for k, v in target.items() if k != "reply_to_message"}
        return self._push_message(user, chat_type, chat_id, content)

    def delete_topic(self, chat_id: ChatId, thread_id: int) -> None:
        """A staff member deletes a forum topic: later messages to it fail with "message thread not found"."""
        del self.topics[chat_id][thread_id]

    def push_command(self, user: FakeUser, command: str, chat_type: ChatType = "private",
                     chat_id: int | None = None) -> int:
        """"/start" or "/start payload" (a leading slash is added if missing)."""
        text = command if command.startswith("/") else "/" + command
        if not re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(\s|$)", text):
            raise ValueError(f"not a bot command: {command!r}")
        return self.push_text(user, text, chat_type, chat_id)

    def push_callback(
        self, user: FakeUser, data: str, message_id: int | None = None, chat_id: int | None = None,
        chat_type: ChatType = "private", *, check_button: bool = True,
    ) -> int:
        """A press on an inline button. With ``message_id`` the update carries that message as the bot sent
        (or last edited) it, and ``data`` must be the callback_data of one of its buttons (``check_button``)."""
        chat = self._chat_for(user, chat_type, chat_id)
        if message_id is None:  # a minimal message of the bot's, stored so that the bot can edit it
            message: JsonDict = {"message_id": self._next_message_id(chat["id"]), "from": self.bot_user,
                                 "chat": chat, "date": int(time.time()), "text": "…"}
            self._messages[(chat["id"], message["message_id"])] = copy.deepcopy(message)
        else:
            stored = self._messages.get((chat["id"], message_id))
            if stored is None:
                raise ValueError(f"no message {message_id} in chat {chat['id']}")
            message = copy.deepcopy(stored)
            if check_button:
                rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
                datas = [b.get("callback_data") for row in rows for b in row]
                if data not in datas:
                    raise ValueError(f"message {message_id} has no button with callback_data {data!r}: {datas}")
        query_id = str(4_000_000_000_000_000_000 + next(self._ids))
        self._callback_ids.add(query_id)
        instance = str(abs(hash(("chat_instance", chat["id"]))) % 10**19)
        return self.push_raw({"callback_query": {
            "id": query_id, "from": user.to_api(), "message": message, "chat_instance": instance, "data": data,
        }})

    def push_voice(self, user: FakeUser, duration: int = 3, chat_type: ChatType = "private",
                   chat_id: int | None = None) -> int:
        voice = {**self._file("voice"), "duration": duration, "mime_type": "audio/ogg", "file_size": 4000 * duration}
        return self._push_message(user, chat_type, chat_id, {"voice": voice})

    def push_photo(self, user: FakeUser, caption: str | None = None, chat_type: ChatType = "private",
                   chat_id: int | None = None) -> int:
        sizes = [{**self._file("photo"), "width": w, "height": h, "file_size": w * h // 10}
                 for w, h in ((90, 67), (320, 240), (1280, 960))]
        content: JsonDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._push_message(user, chat_type, chat_id, content)

    def push_sticker(self, user: FakeUser, emoji: str = "👍", chat_type: ChatType = "private",
                     chat_id: int | None = None) -> int:
        sticker = {**self._file("sticker"), "type": "regular", "width": 512, "height": 512, "is_animated": False,
                   "is_video": False, "emoji": emoji, "file_size": 20000}
        return self._push_message(user, chat_type, chat_id, {"sticker": sticker})

    def push_location(self, user: FakeUser, latitude: float = 51.1814, longitude: float = 14.4238,
                      chat_type: ChatType = "private", chat_id: int | None = None) -> int:
        location = {"latitude": latitude, "longitude": longitude}
        return self._push_message(user, chat_type, chat_id, {"location": location})

    def push_document(
        self, user: FakeUser, file_name: str = "Bescheid.pdf", mime_type: str = "application/pdf",
        caption: str | None = None, chat_type: ChatType = "private", chat_id: int | None = None,
    ) -> int:
        document = {**self._file("document"), "file_name": file_name, "mime_type": mime_type, "file_size": 120_000}
        content: JsonDict = {"document": document}
        if caption:
            content["caption"] = caption
        return self._push_message(user, chat_type, chat_id, content)

    def push_edited_text(self, user: FakeUser, text: str, message_id: int | None = None,
                         chat_type: ChatType = "private", chat_id: int | None = None) -> int:
        """An edit of the user's message ``message_id`` (default: their last message in the chat)."""
        chat = self._chat_for(user, chat_type, chat_id)
        mine = [m for (c, _), m in self._messages.items()
                if c == chat["id"] and m.get("from", {}).get("id") == user.id and "text" in m]
        if message_id is not None:
            mine = [m for m in mine if m["message_id"] == message_id]
        if not mine:
            raise ValueError(f"{user.first_name} has no text message {message_id or ''} in chat {chat['id']} to edit")
        original = mine[-1]
        edited = {key: value for key, value in original.items() if key not in ("text", "entities", "edit_date")}
        edited["text"] = text
        if entities := _command_entities(text):
            edited["entities"] = entities
        edited["edit_date"] = int(time.time())
        self._messages[(chat["id"], original["message_id"])] = edited
        key = "edited_channel_post" if chat["type"] == "channel" else "edited_message"
        return self.push_raw({key: edited})

    def _push_message(self, user: FakeUser, chat_type: ChatType, chat_id: int | None, content: JsonDict) -> int:
        chat = self._chat_for(user, chat_type, chat_id)
        message: JsonDict = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()), "chat": chat}
        if chat_type == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = user.to_api()
        message.update(content)
        self._messages[(chat["id"], message["message_id"])] = message
        return self.push_raw({"channel_post" if chat_type == "channel" else "message": message})

    def _chat_for(self, user: FakeUser, chat_type: ChatType, chat_id: int | None) -> JsonDict:
        if chat_type == "private":
            if chat_id not in (None, user.id):
                raise ValueError("a private chat's id is the user's id")
            self._chats[user.id] = user.private_chat()
            return self._chats[user.id]
        if chat_id is None:
            chat_id = -user.id if chat_type == "group" else -1_000_000_000_000 - user.id
        known = self._chats.get(chat_id)
        if known is None:
            return self.add_chat(chat_id, chat_type)
        if known["type"] != chat_type:
            raise ValueError(f"chat {chat_id} is a {known['type']}, not a {chat_type}")
        return known

    def _file(self, kind: str) -> JsonDict:
        n = next(self._ids)
        return {"file_id": f"FAKE-{kind}-{n}-{secrets.token_urlsafe(12)}", "file_unique_id": f"U{kind[:3]}{n}"}

    def _next_message_id(self, chat_id: ChatId) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    # --- queries for tests -------------------------------------------------------------------------------

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by the bot (a getUpdates with a higher offset)."""
        return list(self._pending)

    def message(self, chat_id: ChatId, message_id: int) -> JsonDict:
        """A stored message (the bot's, as last edited, or a pushed one)."""
        return copy.deepcopy(self._messages[(self._chat_key(chat_id), message_id)])

    def messages_to(self, chat_id: ChatId, methods: Iterable[str] = ("sendMessage",)) -> list[SentRecord]:
        key, wanted = self._chat_key(chat_id), set(methods)
        return [s for s in self.sent if s["method"] in wanted and s["chat_id"] == key]

    def texts_to(self, chat_id: ChatId) -> list[str]:
        return [s["text"] or "" for s in self.messages_to(chat_id)]

    def calls_of(self, method: str) -> list[CallRecord]:
        return [c for c in self.calls if c["method"] == method]

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 10, what: str = "condition",
        *, fail_fast: bool | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every request and push) and return its value.

        Raises TimeoutError after ``timeout`` seconds, and at once (AssertionError) when a new problem (see
        :meth:`problems`) turns up meanwhile; ``fail_fast`` defaults to ``strict``.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        known_problems = len(self.problems())
        while True:
            value = predicate()
            if value:
                return value
            if (self.strict if fail_fast is None else fail_fast) and len(problems := self.problems()) > known_problems:
                raise AssertionError(f"while waiting for {what}: " + "; ".join(problems[known_problems:]))
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                recent = [(c["method"], c["status"], c["params"]) for c in self.calls[-10:]]
                raise TimeoutError(f"{what} not reached within {timeout} s; last calls: {recent}; "
                                   f"problems: {self.problems()}")
            await self._wait_change(remaining)

    async def wait_for_messages(self, chat_id: ChatId, n: int, timeout: float = 10) -> list[SentRecord]:
        """Wait until at least ``n`` sendMessage calls to ``chat_id`` succeeded; returns all of them."""

        def enough() -> list[SentRecord] | None:
            found = self.messages_to(chat_id)
            return found if len(found) >= n else None

        return await self.wait_for(enough, timeout, f"{n} message(s) to chat {chat_id} (got {self.texts_to(chat_id)})")

    async def wait_for_calls(self, method: str, n: int = 1, timeout: float = 10) -> list[CallRecord]:
        """Wait until at least ``n`` calls of ``method`` were answered (with any status)."""

        def enough() -> list[CallRecord] | None:
            done = [c for c in self.calls_of(method) if c["status"] is not None]
            return done if len(done) >= n else None

        return await self.wait_for(enough, timeout, f"{n} answered {method} call(s)")

    async def wait_delivered(self, update_id: int, timeout: float = 10) -> None:
        """Wait until a getUpdates answer carried ``update_id``."""
        await self.wait_for(lambda: update_id in self._delivered, timeout, f"delivery of update {update_id}")

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short by stop()."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._closing and (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            await self._wait_change(remaining)

    # --- HTTP --------------------------------------------------------------------------------------------

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        record = self._record(request.path, dict(request.query))
        self.unknown_calls.append(record)
        return self._answer(record, ApiError(404, "Not Found"))

    async def _handle(self, request: web.Request) -> web.Response:
        method_name = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except ApiError as e:
            record = self._record(method_name, {})
            self.rejected.append(record)
            return self._answer(record, e)
        if request.match_info["token"] != self.token:
            return self._answer(self._record(method_name, params), ApiError(401, "Unauthorized"))
        known = self._methods.get(method_name.lower())
        if known is None:
            record = self._record(method_name, params)
            self.unknown_calls.append(record)
            return self._answer(record, bad_request("method not found"))
        name, handler = known
        record = self._record(name, params)
        delay = self._take(self._delays, name)
        fault = self._take(self._faults, name)
        self._request.set(request)
        outcome: Any
        try:
            if delay and name == "getUpdates":
                await self._sleep(delay.seconds)
                delay = None
            if fault:
                record["injected"] = True
                raise fault.error
            chat = params.get("chat_id")
            if chat is not None and self._chat_key(chat) in self._blocked:
                record["injected"] = True
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            outcome = await handler(params)
        except _ClientGoneError:
            record["status"] = CLIENT_GONE
            self._notify()
            return web.Response(status=CLIENT_GONE, reason="Client Closed Request")
        except ApiError as e:
            outcome = e
            if not record["injected"] and e.status in (400, 409):
                self.rejected.append(record)
        except Exception as e:  # a bug in the fake: answer 500 and make it visible
            self.errors.append(f"{name}{params}: {type(e).__name__}: {e}")
            outcome = ApiError(500, f"Internal Server Error: fake failed: {type(e).__name__}: {e}")
        if delay:
            await self._sleep(delay.seconds)
        return self._answer(record, outcome)

    def _record(self, method: str, params: JsonDict) -> CallRecord:
        record = CallRecord(method=method, params=params, status=None, description=None, injected=False,
                            time=time.monotonic())
        self.calls.append(record)
        return record

    def _answer(self, record: CallRecord, outcome: Any) -> web.Response:
        if isinstance(outcome, ApiError):
            status, body, description = outcome.status, outcome.body(), outcome.description
        else:
            status, body, description = 200, {"ok": True, "result": outcome}, None
        record["status"], record["description"] = status, description
        self._notify()
        return web.json_response(body, status=status)

    @staticmethod
    def _take(queue: Mapping[str, list[Q]], method: str) -> Q | None:
        for key in (method, "*"):
            pending = queue.get(key)
            if pending:
                item = pending[0]
                item.remaining -= 1
                if item.remaining <= 0:
                    pending.pop(0)
                return item
        return None

    async def _read_params(self, request: web.Request) -> JsonDict:
        params: JsonDict = {key: _decode_param(key, value) for key, value in request.query.items()}
        if not request.can_read_body:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as e:
                raise bad_request("can't parse JSON object") from e
            if not isinstance(body, dict):
                raise bad_request("JSON body must be an object")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {"filename": value.filename, "content_type": value.content_type,
                                   "size": len(value.file.read())}
                else:
                    text = value if isinstance(value, str) else bytes(value).decode()
                    params[key] = _decode_param(key, text)
        elif await request.read():
            raise bad_request(f"unsupported Content-Type {request.content_type!r}")
        return params

    # --- parameter helpers -------------------------------------------------------------------------------

    def _chat_key(self, value: Any) -> ChatId:
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            if re.fullmatch(r"-?\d+", value):
                return int(value)
            if value.startswith("@"):
                for chat_id, chat in self._chats.items():
                    if chat.get("username", "").lower() == value[1:].lower():
                        return chat_id
        raise bad_request("chat not found")

    def _chat_id(self, params: JsonDict, key: str = "chat_id") -> ChatId:
        if params.get(key) in (None, ""):
            raise bad_request(f"{key} is empty")
        return self._chat_key(params[key])

    def _chat(self, chat_id: ChatId) -> JsonDict:
        """A chat the fake knows, or one made up from the id's shape (positive: private; -100…: supergroup)."""
        if chat_id not in self._chats:
            if isinstance(chat_id, int) and chat_id > 0:
                self._chats[chat_id] = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            elif isinstance(chat_id, int):
                kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
                self._chats[chat_id] = {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}
            else:
                raise bad_request("chat not found")
        return self._chats[chat_id]

    @staticmethod
    def _int(params: JsonDict, key: str, default: int | None = None) -> int | None:
        value = params.get(key, default)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        try:
            return int(str(value))
        except ValueError as e:
            raise bad_request(f"invalid {key} specified") from e

    def _message_id(self, params: JsonDict) -> int:
        message_id = self._int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        return message_id

    @staticmethod
    def _text(params: JsonDict, key: str = "text") -> str:
        text = params.get(key)
        text = "" if text is None else str(text)
        plain = plain_text(text, params.get("parse_mode"))
        if not plain.strip():
            raise bad_request("message text is empty")
        if len(plain) > MAX_TEXT_CHARS:
            raise bad_request("message is too long")
        return plain

    @staticmethod
    def _reply_markup(params: JsonDict) -> tuple[JsonDict | None, bool]:
        """The reply_markup parameter (checked) and whether it is an inline keyboard."""
        markup = params.get("reply_markup")
        if markup is None:
            return None, False
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError as e:
                raise bad_request("can't parse reply keyboard markup JSON object") from e
        if not isinstance(markup, dict) or not {"inline_keyboard", "keyboard", "remove_keyboard", "force_reply"} & set(
            markup
        ):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup, False
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Field \"text\" must be of type String")
            if not button["text"].strip():
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = [a for a in INLINE_BUTTON_ACTIONS if a in button]
            if not actions:
                raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline "
                                  "keyboard")
            if len(actions) > 1:
                raise bad_request(f"can't parse inline keyboard button: only one of {actions} may be used")
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and (not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url)):
                raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        return markup, True

    def _thread(self, params: JsonDict, chat_id: ChatId) -> int | None:
        thread = self._int(params, "message_thread_id")
        if thread is not None and chat_id in self.topics and thread not in self.topics[chat_id]:
            raise bad_request("message thread not found")
        return thread

    def _bot_message(self, chat_id: ChatId, params: JsonDict) -> JsonDict:
        chat = self._chat(chat_id)
        thread = self._thread(params, chat_id)
        message: JsonDict = {"message_id": 0, "from": self.bot_user, "date": int(time.time()), "chat": chat}
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if isinstance(reply, dict):
            target = self._messages.get((chat_id, self._int(reply, "message_id") or 0))
            if target is not None:
                message["reply_to_message"] = {k: copy.deepcopy(v) for k, v in target.items()
                                               if k != "reply_to_message"}
            elif not reply.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
        if thread is not None:
            message["message_thread_id"] = thread
            if chat.get("is_forum") or chat_id in self.topics:
                message["is_topic_message"] = True
        return message

    def _store(self, message: JsonDict) -> JsonDict:
        message["message_id"] = self._next_message_id(message["chat"]["id"])
        self._messages[(message["chat"]["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _record_sent(self, method: str, chat_id: ChatId | None, text: str | None, markup: JsonDict | None,
                     params: JsonDict, message: JsonDict | None) -> None:
        self.sent.append(SentRecord(
            method=method, chat_id=chat_id, message_id=message["message_id"] if message else None, text=text,
            reply_markup=markup, params=params, message=copy.deepcopy(message), time=time.monotonic(),
        ))

    # --- methods -----------------------------------------------------------------------------------------

    async def _ok(self, params: JsonDict) -> bool:
        return True

    async def _get_me(self, params: JsonDict) -> JsonDict:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = self._int(params, "offset", 0) or 0
        limit = min(max(self._int(params, "limit", 100) or 100, 1), 100)
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError) as e:
            raise bad_request("invalid timeout specified") from e
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_seq += 1
        mine = self._poll_seq
        self._notify()  # an older long poll still waiting is now superseded
        request = self._request.get()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, self.max_poll_timeout)
        while True:
            batch = self._deliverable()[:limit]
            if batch or self._closing or deadline <= loop.time():
                if request.transport is None or request.transport.is_closing():
                    raise _ClientGoneError
                self._delivered.update(u["update_id"] for u in batch)
                return copy.deepcopy(batch)
            await self._wait_change(deadline - loop.time())
            if self._poll_seq != mine:
                if request.transport is None or request.transport.is_closing():
                    raise _ClientGoneError
                raise ApiError(409, CONFLICT_OTHER_POLL)

    def _deliverable(self) -> list[JsonDict]:
        keep: list[JsonDict] = []
        for update in self._pending:
            kind = next(key for key in update if key != "update_id")
            wanted = (kind in self._allowed_updates if self._allowed_updates is not None
                      else kind not in NOT_DELIVERED_BY_DEFAULT)
            (keep if wanted else self.dropped_updates).append(update)
        self._pending = keep
        return keep

    async def _delete_webhook(self, params: JsonDict) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        return True

    async def _set_webhook(self, params: JsonDict) -> bool:
        url = str(params.get("url") or "")
        if url:
            m = re.match(r"https://[^/:]+(?::(\d+))?(/|$)", url)
            if not m:
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if m.group(1) not in (None, "80", "88", "443", "8443"):
                raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        self.webhook_url = url
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._pending)}

    async def _send_message(self, params: JsonDict) -> JsonDict:
        chat_id = self._chat_id(params)
        plain = self._text(params)
        markup, inline = self._reply_markup(params)
        message = self._bot_message(chat_id, params)
        message["text"] = plain
        if isinstance(params.get("entities"), list) and not params.get("parse_mode"):
            message["entities"] = params["entities"]
        if inline:
            message["reply_markup"] = markup
        result = self._store(message)
        self._record_sent("sendMessage", chat_id, str(params["text"]), markup, params, result)
        return result

    def _editable(self, params: JsonDict) -> tuple[ChatId, JsonDict]:
        chat_id = self._chat_id(params)
        message = self._messages.get((chat_id, self._message_id(params)))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        return chat_id, message

    async def _edit_message_text(self, params: JsonDict) -> JsonDict | bool:
        plain = self._text(params)
        markup, inline = self._reply_markup(params)
        if params.get("inline_message_id"):
            self._record_sent("editMessageText", None, str(params["text"]), markup, params, None)
            return True
        chat_id, message = self._editable(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        new_markup = markup if inline else None  # an edit without reply_markup removes the keyboard
        if plain == message["text"] and new_markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        message["text"] = plain
        message.pop("entities", None)
        if isinstance(params.get("entities"), list) and not params.get("parse_mode"):
            message["entities"] = params["entities"]
        self._set_markup(message, new_markup)
        self._record_sent("editMessageText", chat_id, str(params["text"]), markup, params, message)
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict | bool:
        markup, inline = self._reply_markup(params)
        if params.get("reply_markup") is not None and not inline:
            raise bad_request("only inline keyboards can be edited")
        if params.get("inline_message_id"):
            self._record_sent("editMessageReplyMarkup", None, None, markup, params, None)
            return True
        chat_id, message = self._editable(params)
        if markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        self._set_markup(message, markup)
        self._record_sent("editMessageReplyMarkup", chat_id, None, markup, params, message)
        return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: JsonDict, markup: JsonDict | None) -> None:
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup

    async def _answer_callback_query(self, params: JsonDict) -> bool:
        if str(params.get("callback_query_id", "")) not in self._callback_ids:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers.append(params)
        return True

    @staticmethod
    def _commands_key(params: JsonDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        language = params.get("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", str(language)):
            raise bad_request(f"invalid language code specified: {language!r}")
        return json.dumps(scope, sort_keys=True), str(language)

    def commands_for(self, language_code: str = "", scope: JsonDict | None = None) -> list[JsonDict] | None:
        """The commands set for exactly this language ("" = all languages) and scope (default scope)."""
        return self.commands.get(self._commands_key({"language_code": language_code, "scope": scope}))

    async def _set_my_commands(self, params: JsonDict) -> bool:
        key = self._commands_key(params)
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an Array of at most 100 BotCommand")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command"))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(command.get("description"), str) or not 1 <= len(command["description"]) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JsonDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _send_chat_action(self, params: JsonDict) -> bool:
        self._chat(self._chat_id(params))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _copy_message(self, params: JsonDict) -> JsonDict:
        chat_id = self._chat_id(params)
        source = self._messages.get((self._chat_id(params, "from_chat_id"), self._message_id(params)))
        if source is None:
            raise bad_request("message to copy not found")
        markup, inline = self._reply_markup(params)
        message = self._bot_message(chat_id, params)
        content_keys = ("text", "entities", "caption", "caption_entities", "photo", "voice", "audio", "document",
                        "sticker", "video", "video_note", "animation", "location", "venue", "contact", "poll")
        message.update({key: copy.deepcopy(source[key]) for key in content_keys if key in source})
        if "caption" in params:
            message["caption"] = plain_text(str(params["caption"]), params.get("parse_mode"))
            message.pop("caption_entities", None)
        if inline:
            message["reply_markup"] = markup
        stored = self._store(message)
        text = stored.get("text", stored.get("caption"))
        self._record_sent("copyMessage", chat_id, text, markup, params, stored)
        return {"message_id": stored["message_id"]}

    async def _edit_forum_topic(self, params: JsonDict) -> bool:
        chat_id = self._chat_id(params)
        thread = self._int(params, "message_thread_id")
        topic = self.topics.get(chat_id, {}).get(thread or 0)
        if topic is None:
            raise bad_request("message thread not found")
        name = params.get("name")
        if name is not None:
            if not 1 <= len(str(name)) <= 128:
                raise bad_request("topic name must be 1-128 characters")
            topic["name"] = str(name)
        return True

    async def _set_message_reaction(self, params: JsonDict) -> bool:
        chat_id = self._chat_id(params)
        message_id = self._message_id(params)
        if (chat_id, message_id) not in self._messages:
            raise bad_request("message to react not found")
        reaction = params.get("reaction") or []
        if isinstance(reaction, str):
            reaction = json.loads(reaction)
        if not isinstance(reaction, list) or any(
            not isinstance(r, dict) or r.get("type") != "emoji" or r.get("emoji") not in REACTION_EMOJI
            for r in reaction
        ):
            raise bad_request("REACTION_INVALID")
        self.reactions[(chat_id, message_id)] = reaction
        return True

    async def _create_forum_topic(self, params: JsonDict) -> JsonDict:
        chat_id = self._chat_id(params)
        if chat_id not in self._chats and isinstance(chat_id, int) and chat_id < 0:
            self.add_chat(chat_id, "supergroup", is_forum=True)
        chat = self._chat(chat_id)
        if chat["type"] in ("group", "channel") or (chat["type"] == "supergroup" and not chat.get("is_forum")):
            raise bad_request("the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise bad_request("topic name must be 1-128 characters")
        color = self._int(params, "icon_color", 7322096)
        if color not in FORUM_ICON_COLORS:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        topic: JsonDict = {"message_thread_id": self._next_message_id(chat_id), "name": name, "icon_color": color}
        if params.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = str(params["icon_custom_emoji_id"])
        self.topics.setdefault(chat_id, {})[topic["message_thread_id"]] = topic
        return topic
