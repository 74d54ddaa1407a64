"""Running the console: next to the bot (same process, same engine: a publish is live at once) or
alone (``wegweiser console``; a bot in another process reloads through :class:`ContentWatcher`)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.dialogue import DialogueService
from bot.handover.registry import Registry
from bot.handover.teams import TEAMS_FILE, Teams
from bot.store import Store
from console.auth import StaffAuth
from console.publish import ContentService, ContentWatcher, LiveContent
from console.queue import ReviewQueue
from console.web import ConsoleContext, create_app
from core.config import Settings
from knowledge.topics import load_topics
from retrieval.engine import AnswerEngine

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 2.0


@dataclass(frozen=True)
class ConsoleAddress:
    host: str
    port: int

    @classmethod
    def from_env(cls) -> ConsoleAddress:
        return cls(os.environ.get("WEGWEISER_CONSOLE_LISTEN", "127.0.0.1"),
                   int(os.environ.get("WEGWEISER_CONSOLE_PORT", "8470")))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def console_context(settings: Settings, store: Store, live: LiveContent) -> ConsoleContext:
    topics = set(load_topics())
    teams = Teams.load(settings.teams_file or TEAMS_FILE, topics)
    key_file = settings.data_dir / "pseudonym.key"
    key = settings.pseudonym_key.encode() if settings.pseudonym_key else key_file.read_bytes()
    return ConsoleContext(
        auth=StaffAuth(store.sessions, key),
        content=ContentService(settings.content_dir, store.sessions, live),
        queue=ReviewQueue(store.sessions, live.engine.ranker.embedder),
        live=live,
        registry=Registry(store, teams.timezone, topics, set(teams.teams)),
        secure_cookies=os.environ.get("WEGWEISER_CONSOLE_SECURE_COOKIES", "") in {"1", "true", "yes"},
    )


def follow(live: LiveContent, dialogue: DialogueService) -> None:
    """Swap the dialogue's engine on its own event loop when content is published."""
    loop = asyncio.get_running_loop()

    def swap(engine: AnswerEngine) -> None:
        loop.call_soon_threadsafe(setattr, dialogue, "engine", engine)

    live.subscribe(swap)


def console_service(ctx: ConsoleContext, address: ConsoleAddress) -> Callable[[], Coroutine[Any, Any, None]]:
    """A coroutine factory serving the console with uvicorn on the running event loop."""

    # Printed now, before the terminal chat's prompt: where the console is, and while no account
    # exists (as Jupyter does with its token) a one-time link that creates the first admin.
    token = ctx.auth.setup_token()
    print(f"Staff console: {address.url}/", flush=True)
    if token:
        print(f"  No staff account yet. Create the first admin (link valid once): {address.url}/setup?token={token}",
              flush=True)

    async def serve() -> None:
        import uvicorn

        config = uvicorn.Config(create_app(ctx), host=address.host, port=address.port, log_level="warning",
                                access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        # The regression gate's answers for the live content, ready before the first publish.
        warm = asyncio.create_task(asyncio.to_thread(ctx.content.gate.baseline, ctx.live.engine))
        try:
            await server.serve()
        except (SystemExit, OSError) as e:  # port taken: the bot goes on without the console
            log.error("console.not_started address=%s error=%s", address.url, e)
        finally:
            server.should_exit = True
            warm.cancel()

    return serve


def watcher_service(watcher: ContentWatcher) -> Callable[[], Coroutine[Any, Any, None]]:
    async def watch() -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                await asyncio.to_thread(watcher.poll)
            except Exception:
                log.exception("content.reload_failed")

    return watch
