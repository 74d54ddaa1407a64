"""Plain messages in and out of the dialogue service: no Telegram types cross this line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from core.errors import DeliveryError, RecipientGoneError, ThreadGoneError

__all__ = ["DeliveryError", "RecipientGoneError", "ThreadGoneError"]

InputKind = Literal[
    "text", "command", "callback", "voice", "photo", "sticker", "location", "document", "edited", "unsupported"
]


@dataclass(frozen=True)
class IncomingMessage:
    """What a channel (Telegram, the terminal, a test) hands to the dialogue service."""

    user_key: str  # pseudonymous: a keyed hash of the channel's user id
    chat: str  # where replies go; opaque to the dialogue
    kind: InputKind
    text: str = ""
    command: str | None = None  # "start", "delete", … without the slash
    callback_data: str | None = None
    language_hint: str | None = None  # e.g. Telegram's language_code
    private: bool = True
    message_id: int | None = None  # the channel's id of this message (relayed by copying it)
    thread_id: int | None = None  # forum topic of a staff group
    reply_to: int | None = None  # the message this one answers (tells a mediator's reply where to go)


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data, at most 64 bytes (Telegram's limit)


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    # Right-to-left scripts need no markup; we never send HTML/Markdown, so user text cannot inject any.
    lang: str | None = None


class OutputPort(Protocol):
    async def send(self, chat: str, reply: Reply) -> None: ...


class RelayPort(OutputPort, Protocol):
    """What the hand-over needs from a channel besides replying: delivery with an outcome, copies of
    messages (no sender shown), forum topics, and a quiet acknowledgement of a relayed message."""

    async def deliver(self, chat: str, reply: Reply, thread: int | None = None, reply_to: int | None = None) -> int:
        """Send and return the message id; raises :class:`RecipientGoneError`, :class:`ThreadGoneError` or
        :class:`DeliveryError`."""
        ...

    async def copy(self, from_chat: str, message_id: int, to_chat: str, thread: int | None = None,
                   reply_to: int | None = None) -> int: ...

    async def create_topic(self, chat: str, name: str) -> int: ...

    async def rename_topic(self, chat: str, thread: int, name: str) -> None: ...

    async def acknowledge(self, chat: str, message_id: int) -> None: ...


class CollectingOutput:
    """The output port for unit tests and the terminal: keeps every reply, copy and topic in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.copies: list[tuple[str, int, str, int | None]] = []
        self.topics: dict[str, list[str]] = {}
        self.acknowledged: list[tuple[str, int]] = []
        self._ids = 1000

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def send(self, chat: str, reply: Reply) -> None:
        self.sent.append((chat, reply))

    async def deliver(self, chat: str, reply: Reply, thread: int | None = None, reply_to: int | None = None) -> int:
        self.sent.append((chat, reply))
        return self._next_id()

    async def copy(self, from_chat: str, message_id: int, to_chat: str, thread: int | None = None,
                   reply_to: int | None = None) -> int:
        self.copies.append((from_chat, message_id, to_chat, thread))
        return self._next_id()

    async def create_topic(self, chat: str, name: str) -> int:
        self.topics.setdefault(chat, []).append(name)
        return self._next_id()

    async def rename_topic(self, chat: str, thread: int, name: str) -> None:
        self.topics.setdefault(chat, []).append(name)

    async def acknowledge(self, chat: str, message_id: int) -> None:
        self.acknowledged.append((chat, message_id))

    def texts(self, chat: str | None = None) -> list[str]:
        return [r.text for c, r in self.sent if chat is None or c == chat]
