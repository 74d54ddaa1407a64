"""Plain messages in and out of the dialogue service: no Telegram types cross this line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

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


class CollectingOutput:
    """The output port for tests and the terminal: keeps every reply in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, chat: str, reply: Reply) -> None:
        self.sent.append((chat, reply))

    def texts(self, chat: str | None = None) -> list[str]:
        return [r.text for c, r in self.sent if chat is None or c == chat]
