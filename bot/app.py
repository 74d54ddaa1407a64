"""The single entry point that creates the services and wires a channel to them."""

from __future__ import annotations

import asyncio
import sys

from bot.dialogue import DialogueService, DialogueSettings
from bot.ports import IncomingMessage, Reply
from bot.store import Pseudonymizer, Store
from core.config import Settings
from nlu.intents import create_nlu
from retrieval.engine import AnswerEngine


def build_dialogue(
    settings: Settings, engine: AnswerEngine | None = None
) -> tuple[DialogueService, Store, Pseudonymizer]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or AnswerEngine.build(settings)
    store = Store(settings.database)
    pseudonyms = Pseudonymizer.from_env_or_file(settings.pseudonym_key, settings.data_dir / "pseudonym.key")
    nlu = create_nlu(settings.nlu_backend, settings.data_dir / "nlu", engine.ranker.embedder, settings.rasa_url,
                     settings.rasa_token, engine.crisis)
    dialogue = DialogueService(
        engine, store,
        DialogueSettings(district=settings.district, retention_days=settings.retention_days,
                         allow_groups=settings.allow_groups),
        nlu=nlu,
    )
    return dialogue, store, pseudonyms


def run_telegram(settings: Settings) -> None:
    from bot.telegram_app import TelegramBot

    dialogue, store, pseudonyms = build_dialogue(settings)
    TelegramBot(settings, dialogue, store, pseudonyms).run()


class TerminalOutput:
    async def send(self, chat: str, reply: Reply) -> None:
        print(reply.text)
        for row in reply.buttons:
            print("   " + "  ".join(f"[{b.label} → {b.data}]" for b in row))


async def _terminal_chat(dialogue: DialogueService, pseudonyms: Pseudonymizer, lang: str | None) -> None:
    user = pseudonyms.key("terminal", "local")
    out = TerminalOutput()
    print("Wegweiser – local chat on the bundled content. Type a question; /start, /help, /delete work as in\n"
          "Telegram; '#data' presses a button (e.g. '#lang:ar'); Ctrl-D leaves.\n"
          "Emergency: 112 (ambulance) · 110 (police)\n")
    if lang:
        await dialogue.handle(IncomingMessage(user, "local", "callback", callback_data=f"lang:{lang}"), out)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, _read_line)
        if line is None:
            return
        if line.startswith("#"):
            msg = IncomingMessage(user, "local", "callback", callback_data=line[1:].strip())
        elif line.startswith("/"):
            msg = IncomingMessage(user, "local", "command", text=line, command=line[1:].split(maxsplit=1)[0] if
                                  len(line) > 1 else "")
        else:
            msg = IncomingMessage(user, "local", "text", text=line)
        await dialogue.handle(msg, out)


def _read_line() -> str | None:
    try:
        return input("> ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return None


def run_terminal(settings: Settings, lang: str | None = None) -> None:
    dialogue, _, pseudonyms = build_dialogue(settings)
    asyncio.run(_terminal_chat(dialogue, pseudonyms, lang))
