"""Hand-over benchmark: prints one JSON document.

The whole path as in the end-to-end tests: the real python-telegram-bot polling a fake Bot API on
127.0.0.1, the dialogue and hand-over services, SQLite. Measured from the moment a person presses
"yes, connect me" (the callback is pushed) until

* the mediator's offer is answered by the Bot API (``request_to_offer``), and
* the person's status reply ("I am asking a mediator …") is answered (``request_to_status``),

one request at a time (``sequential``) and for fifty people pressing at once (``burst_50``, with three
mediators at their caps, so most of them are queued). Telegram's pacing (one message per second and
chat, thirty per second overall) is part of what is measured.

    .venv/bin/python bench/handover.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bot.dialogue import DialogueService, DialogueSettings
from bot.handover.registry import InviteSpec
from bot.handover.service import HandoverService
from bot.handover.state import HandoverSettings
from bot.handover.teams import Teams
from bot.store import Pseudonymizer, Store
from bot.telegram_app import TelegramBot
from core.config import Settings
from knowledge.topics import load_topics
from retrieval.engine import AnswerEngine
from tests.bot.tg import bot_settings, buttons, start, stop
from tests.fakes.bot_api import FakeBotApi, FakeUser, SentRecord
from translations.translator import NoTranslator
from translations.ui import ui_catalog

STAFF = -1001234567890


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(values[min(len(values) - 1, int(len(values) * 0.95))] * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1)}


async def _first(fake: FakeBotApi, chat: int, after: int, predicate: Any = None) -> SentRecord:
    def found() -> SentRecord | None:
        records = [r for r in fake.messages_to(chat) if predicate is None or predicate(r)]
        return records[after] if len(records) > after else None

    return await fake.wait_for(found, 60, f"message to {chat}")


def _is_offer(record: SentRecord) -> bool:
    return any(d.startswith("of:a:") for d in buttons(record))


async def _run(rounds: int, data_dir: Path, engine: AnswerEngine) -> dict[str, Any]:
    store = Store(f"sqlite:///{data_dir / 'bench.db'}")
    topics = set(load_topics())
    handover = HandoverService(store, Teams.load(known_topics=topics), ui_catalog(),
                               HandoverSettings(staff_chat=str(STAFF), sweep_interval_s=0.5),
                               translator=NoTranslator(), known_topics=topics)
    dialogue = DialogueService(engine, store, DialogueSettings(flood_messages=1000), handover=handover)
    pseudonyms = Pseudonymizer(b"bench-key-of-sufficient-length!")
    async with FakeBotApi() as fake:
        fake.add_chat(STAFF, "supergroup", "Team", is_forum=True)
        bot = await start(TelegramBot(bot_settings(fake, data_dir), dialogue, store, pseudonyms))
        try:
            mediators = [fake.user(8_000_001 + i, f"M{i}", language_code="de") for i in range(3)]
            for user in mediators:
                code = handover.invite(InviteSpec("mediator", ("ar",), max_open=2, max_per_week=1000))
                fake.push_command(user, f"/join {code}")
                await _first(fake, user.id, 0)

            async def ask(person: FakeUser) -> SentRecord:
                fake.push_command(person, "/human")
                return await _first(fake, person.id, 0)

            # One at a time: offer, then the mediator declines so that their caps stay free.
            to_offer, to_status = [], []
            for n in range(rounds):
                person = fake.user(8_100_000 + n, f"P{n}", language_code="ar")
                prompt = await ask(person)
                offers_before = sum(len([r for r in fake.messages_to(m.id) if _is_offer(r)]) for m in mediators)
                pushed = time.monotonic()
                fake.push_callback(person, "ho:y", message_id=prompt["message_id"])
                status = await _first(fake, person.id, 1)

                def new_offer(before: int = offers_before) -> SentRecord | None:
                    offers = sorted((r for m in mediators for r in fake.messages_to(m.id) if _is_offer(r)),
                                    key=lambda r: r["time"])
                    return offers[before] if len(offers) > before else None

                offer = await fake.wait_for(new_offer, 60, "offer")
                to_offer.append(offer["time"] - pushed)
                to_status.append(status["time"] - pushed)
                fake.push_command(person, "/end")
                await _first(fake, person.id, 2)

            # Fifty at once.
            people = [fake.user(8_200_000 + n, f"B{n}", language_code="ar") for n in range(50)]
            prompts = await asyncio.gather(*(ask(p) for p in people))
            started = time.monotonic()
            for person, prompt in zip(people, prompts, strict=True):
                fake.push_callback(person, "ho:y", message_id=prompt["message_id"])
            statuses = await asyncio.gather(*(_first(fake, p.id, 1) for p in people))
            burst = [s["time"] - started for s in statuses]
            caps_ok = all(v.open_now <= v.max_open for v in handover.registry.search(role="mediator"))
        finally:
            await stop(bot)
    return {
        "sequential": {"request_to_offer": _ms(to_offer), "request_to_status": _ms(to_status)},
        "burst_50": {"request_to_status": _ms(burst), "all_answered_s": round(max(burst), 2),
                     "caps_respected": caps_ok},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    engine = AnswerEngine.build(Settings.from_env(), translator=NoTranslator())
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(_run(args.rounds, Path(tmp), engine))
    result["rss_mib"] = round(psutil.Process().memory_info().rss / 2**20, 1)
    result["note"] = ("fake Bot API on 127.0.0.1: network latency to Telegram (typically 50-300 ms per call) "
                      "comes on top; Telegram's 1 msg/s per chat pacing is included")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
