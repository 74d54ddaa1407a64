"""Pre-translation: every curated answer into every configured language that lacks a curated one.

Run at deployment (``wegweiser translations build``): the answer path then finds each translation in
the cache and never waits for a model. Re-running is cheap (cached entries are skipped by key);
a changed answer or a replaced package hashes to a new key and is translated again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from knowledge.schema import KnowledgePack
from translations.answers import machine_answer, machine_source
from translations.translator import Translator

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    languages: list[str]
    translated: int = 0  # newly translated by a model
    cached: int = 0  # already in the cache
    curated: int = 0  # the language has a curated answer: nothing to do
    unavailable: dict[str, int] = field(default_factory=dict)  # language → answers no package reaches
    seconds: float = 0.0

    def summary(self) -> str:
        missing = ", ".join(f"{lang} ({n})" for lang, n in sorted(self.unavailable.items())) or "none"
        return (f"{self.translated} translated, {self.cached} already cached, {self.curated} curated, "
                f"no package for: {missing} in {self.seconds:.1f} s")


def pretranslate(pack: KnowledgePack, translator: Translator, languages: tuple[str, ...] | list[str],
                 progress: bool = False) -> BuildReport:
    report = BuildReport(list(languages))
    started = time.perf_counter()
    jobs = []
    for lang in languages:
        for entry in pack.entries:
            if lang in entry.answers:
                report.curated += 1
            elif machine_source(entry, lang, translator) is None:
                report.unavailable[lang] = report.unavailable.get(lang, 0) + 1
            else:
                jobs.append((entry, lang))
    for entry, lang in tqdm(jobs, desc="pre-translating answers", unit="answer", disable=not progress):
        result = machine_answer(entry, lang, translator)
        if result is None:  # the package vanished while we ran
            report.unavailable[lang] = report.unavailable.get(lang, 0) + 1
        elif result.cached:
            report.cached += 1
        else:
            report.translated += 1
    report.seconds = time.perf_counter() - started
    log.info("translations.build %s", report.summary())
    return report
