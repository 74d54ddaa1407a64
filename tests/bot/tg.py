"""Driving the real TelegramBot against the fake Bot API: settings, start/stop by hand, buttons."""

from __future__ import annotations

from pathlib import Path

from telegram import Update

from bot.telegram_app import TelegramBot
from core.config import Settings
from tests.fakes.bot_api import FakeBotApi, SentRecord


def bot_settings(fake: FakeBotApi, tmp_path: Path, **kw: object) -> Settings:
    return Settings(telegram_token=fake.token, telegram_api_url=fake.base_url, data_dir=tmp_path, **kw)  # type: ignore[arg-type]


async def start(bot: TelegramBot) -> TelegramBot:
    app = bot.application
    await app.initialize()
    await bot._post_init(app)  # post_init runs only inside run_polling; the lifecycle is driven by hand here
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    return bot


async def stop(bot: TelegramBot) -> None:
    app = bot.application
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await bot._post_shutdown(app)


def buttons(record: SentRecord) -> list[str]:
    rows = (record.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]
