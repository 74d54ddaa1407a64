"""Every interface catalogue has every message, with the same placeholders as the English source."""

from __future__ import annotations

import re

import pytest

from bot.dialogue import COMMANDS
from translations.ui import UiCatalog

REQUIRED = ("de", "en", "ar", "fa", "uk", "ru", "tr", "ps", "ti", "ku", "so", "fr")


@pytest.fixture(scope="module")
def ui() -> UiCatalog:
    return UiCatalog()


def test_at_least_the_twelve_languages_have_catalogues(ui: UiCatalog) -> None:
    assert set(REQUIRED) <= set(ui.languages)


@pytest.mark.parametrize("lang", REQUIRED)
def test_catalogue_is_complete_with_matching_placeholders(ui: UiCatalog, lang: str) -> None:
    for key in sorted(ui.keys()):
        source, text = ui.raw("en", key), ui.raw(lang, key)
        assert text, f"{lang}: {key} missing"
        assert sorted(re.findall(r"\{\w+\}", text)) == sorted(re.findall(r"\{\w+\}", source or "")), (lang, key)


@pytest.mark.parametrize("lang", REQUIRED)
def test_commands_fit_telegram_limits(ui: UiCatalog, lang: str) -> None:
    for cmd in COMMANDS:
        assert 3 <= len(ui.get(lang, f"cmd.{cmd}")) <= 256


def test_missing_language_falls_back_to_english(ui: UiCatalog) -> None:
    assert ui.get("xx", "input.voice") == ui.get("en", "input.voice")
