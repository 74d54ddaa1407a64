"""Interface strings from gettext catalogues (``translations/locale/<lang>/LC_MESSAGES/wegweiser.po``).

Message ids are stable keys ("welcome.body"); English is the source catalogue and the fallback for
any language or key that is missing. Placeholders use ``{name}``. Each language may have several
domains (``wegweiser.po`` for the answer dialogue, ``handover.po`` for talking to a person); their keys
are distinct and merged into one catalogue.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from core.errors import ContentError
from core.languages import fallback_chain

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAINS = ("wegweiser", "handover")
SOURCE_LANGUAGE = "en"


class UiCatalog:
    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self._messages: dict[str, dict[str, str]] = {}
        for domain in DOMAINS:
            for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{domain}.po")):
                lang = po.parent.parent.name
                with po.open("rb") as fh:
                    catalog = read_po(fh)
                self._messages.setdefault(lang, {}).update({str(m.id): str(m.string) for m in catalog
                                                            if m.id and m.string})
        if SOURCE_LANGUAGE not in self._messages:
            raise ContentError(f"no {SOURCE_LANGUAGE} catalogue in {locale_dir}")

    @property
    def languages(self) -> list[str]:
        return sorted(self._messages)

    def keys(self) -> set[str]:
        return set(self._messages[SOURCE_LANGUAGE])

    def raw(self, lang: str, key: str) -> str | None:
        return self._messages.get(lang, {}).get(key)

    def get(self, lang: str | None, key: str, **values: object) -> str:
        for candidate in fallback_chain(lang, (SOURCE_LANGUAGE,)):
            text = self.raw(candidate, key)
            if text:
                return text.format(**values) if values else text
        raise KeyError(key)


@cache
def ui_catalog() -> UiCatalog:
    return UiCatalog()
