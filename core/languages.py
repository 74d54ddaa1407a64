"""Which language a text falls back to when it does not exist in the person's own language.

One chain for every kind of text (answers, interface strings, engine and crisis messages): Dari
readers get the Farsi text before English, everyone else English, then German.
"""

from __future__ import annotations

# Close languages a reader understands before English: Afghan readers read Farsi.
CLOSE_LANGUAGES: dict[str, tuple[str, ...]] = {"prs": ("fa",)}
FINAL_FALLBACKS: tuple[str, ...] = ("en", "de")


def fallback_chain(lang: str | None, final: tuple[str, ...] = FINAL_FALLBACKS) -> tuple[str, ...]:
    """``lang`` itself, its close languages, then ``final``; no duplicates, no empty codes."""
    chain: list[str] = []
    for code in ((lang,) if lang else ()) + CLOSE_LANGUAGES.get(lang or "", ()) + final:
        if code and code not in chain:
            chain.append(code)
    return tuple(chain)
