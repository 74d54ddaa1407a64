"""The single entry point that creates the services and wires a channel to them."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot.dialogue import DialogueService, DialogueSettings
from bot.handover.service import HandoverService
from bot.handover.state import HandoverSettings
from bot.handover.teams import TEAMS_FILE, Teams
from bot.ports import IncomingMessage, Reply
from bot.store import Pseudonymizer, Store
from core.config import Settings
from knowledge.topics import load_topics
from nlu.intents import create_nlu
from retrieval.engine import AnswerEngine
from translations.translator import Translator
from translations.ui import ui_catalog


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
        nlu=nlu, handover=build_handover(settings, store, set(load_topics()), engine.translator),
    )
    return dialogue, store, pseudonyms


def build_handover(settings: Settings, store: Store, known_topics: set[str] | None = None,
                   translator: Translator | None = None) -> HandoverService:
    """The hand-over service; it is active once a channel binds to it (Telegram does, the terminal not)."""
    teams = Teams.load(settings.teams_file or TEAMS_FILE, known_topics)
    return HandoverService(
        store, teams, ui_catalog(),
        HandoverSettings(staff_chat=settings.staff_chat_id, offer_timeout_s=settings.offer_timeout_s,
                         sweep_interval_s=settings.sweep_interval_s, queue_max_wait_s=settings.queue_max_wait_s),
        translator=translator, known_topics=known_topics,
    )


def _console_services(settings: Settings, dialogue: DialogueService, store: Store,
                      with_console: bool) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """The staff console (unless switched off) and the watcher that reloads content published by a
    console in another process. Both share the dialogue's engine through :class:`LiveContent`."""
    from console.publish import ContentWatcher, LiveContent
    from console.server import ConsoleAddress, console_context, console_service, follow, watcher_service

    live = LiveContent(dialogue.engine)

    async def start_following() -> None:
        follow(live, dialogue)

    services = [start_following, watcher_service(ContentWatcher(settings.content_dir, store.sessions, live))]
    if with_console:
        services.append(console_service(console_context(settings, store, live), ConsoleAddress.from_env()))
    return services


def console_enabled() -> bool:
    return os.environ.get("WEGWEISER_CONSOLE", "1").strip().lower() not in {"0", "false", "no", "off"}


def run_telegram(settings: Settings) -> None:
    from bot.telegram_app import TelegramBot

    dialogue, store, pseudonyms = build_dialogue(settings)
    services = _console_services(settings, dialogue, store, console_enabled())
    TelegramBot(settings, dialogue, store, pseudonyms, services).run()


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
    dialogue, store, pseudonyms = build_dialogue(settings)

    async def main() -> None:
        tasks = [asyncio.create_task(service()) for service in
                 _console_services(settings, dialogue, store, console_enabled())]
        try:
            await _terminal_chat(dialogue, pseudonyms, lang)
        finally:
            for task in tasks:
                task.cancel()

    asyncio.run(main())


def run_console(settings: Settings) -> None:
    """The console alone; a bot in another process picks up what is published within seconds."""
    from console.publish import LiveContent
    from console.server import ConsoleAddress, console_context, console_service

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database)
    Pseudonymizer.from_env_or_file(settings.pseudonym_key, settings.data_dir / "pseudonym.key")
    live = LiveContent(AnswerEngine.build(settings))
    asyncio.run(console_service(console_context(settings, store, live), ConsoleAddress.from_env())())
