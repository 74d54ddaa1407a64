"""Offline machine translation with argostranslate, behind the :class:`~translations.translator.Translator` port.

* Packages are discovered in one folder (``WEGWEISER_MT_PACKAGES_DIR``); a pair without its own
  package goes through English (``ps → en → de``) when both halves are installed.
* A model is loaded on first use; at most ``max_loaded`` stay in memory, least recently used out.
  A real Argos model takes 150–300 MB resident, and a district needs a dozen pairs.
* Thread-safe: a registry lock guards the set of loaded models, and each model has its own lock,
  because argostranslate's per-package tokenizer and sentence splitter are not safe to share.
  Different models translate in parallel. Callers on an event loop use ``asyncio.to_thread``.
* Protected glossary terms are masked before the first model and restored after the last one.
* Every result is cached on disk (``translations.cache``): a hit never loads a model.

The translation itself is argostranslate's own code path (``PackageTranslation``: paragraph split,
spaCy sentence split, SentencePiece, CTranslate2 beam search, detokenisation); we only decide which
packages to load, when to drop them, and how many CTranslate2 threads they get.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import TranslationUnavailable, WegweiserError
from translations.argos_env import import_argos
from translations.cache import TranslationCache
from translations.glossary import Glossary, default_glossary
from translations.packages import InstalledPackage, installed_packages
from translations.translator import NoTranslator, Translation, Translator

log = logging.getLogger(__name__)
PIVOT = "en"
# Our language codes that Argos knows under another code.
MT_CODES = {"prs": "fa"}


def mt_code(lang: str) -> str:
    return MT_CODES.get(lang, lang)


@dataclass
class TranslatorStats:
    loads: int = 0
    load_seconds: float = 0.0
    evictions: int = 0
    cache_hits: int = 0
    model_calls: int = 0


class _Model:
    """One package's loaded translation; every use holds ``lock``."""

    def __init__(self, pkg: InstalledPackage) -> None:
        self.pkg = pkg
        self.lock = threading.Lock()
        self.evicted = False
        self._translation: Any = None

    @property
    def loaded(self) -> bool:
        return self._translation is not None

    def load(self, home: Path, threads: int) -> float:
        """Load if needed (caller holds ``lock``); returns the seconds spent."""
        if self._translation is not None:
            return 0.0
        argos = import_argos(home, self.pkg.path.parent)
        import ctranslate2

        started = time.perf_counter()

        try:
            argos_pkg = argos.package.Package(self.pkg.path)
            translation = argos.translate.PackageTranslation(
                argos.translate.Language(self.pkg.source, self.pkg.source_name or self.pkg.source),
                argos.translate.Language(self.pkg.target, self.pkg.target_name or self.pkg.target),
                argos_pkg,
            )
            # argostranslate would create this lazily with its import-time settings; we choose the
            # thread count, and one inter-thread since the model lock serialises calls anyway.
            translation.translator = ctranslate2.Translator(
                str(self.pkg.path / "model"), device="cpu", inter_threads=1, intra_threads=threads
            )
        except Exception as e:
            raise WegweiserError(f"cannot load translation package {self.pkg.path}: {e}") from e
        self._translation = translation
        return time.perf_counter() - started

    def run(self, text: str) -> str:
        return str(self._translation.hypotheses(text, num_hypotheses=1)[0].value)

    def drop(self) -> None:
        """Free the model (caller holds ``lock``); CTranslate2 releases its memory with the object."""
        self._translation = None


class ArgosTranslator:
    def __init__(
        self,
        packages_dir: Path,
        home: Path,
        cache: TranslationCache | None = None,
        glossary: Glossary | None = None,
        max_loaded: int = 2,
        threads: int = 1,
    ) -> None:
        if max_loaded < 1:
            raise WegweiserError("at least one translation model must be allowed in memory")
        self.packages_dir = packages_dir
        self.home = home
        self.cache = cache
        self.glossary = glossary or default_glossary()
        self.max_loaded = max_loaded
        self.threads = threads
        self.stats = TranslatorStats()
        self._registry = threading.Lock()
        self._models: OrderedDict[tuple[str, str], _Model] = OrderedDict()
        self._packages: dict[tuple[str, str], InstalledPackage] = {}
        self.refresh()

    @classmethod
    def from_settings(cls, settings: Settings, glossary: Glossary | None = None) -> ArgosTranslator:
        return cls(settings.packages_dir, settings.argos_dir, TranslationCache(settings.mt_cache_file), glossary,
                   settings.mt_max_loaded, settings.mt_threads)

    # ------------------------------------------------------------------ packages and routes
    def refresh(self) -> None:
        """Re-read the packages folder (after an install or removal)."""
        found = {p.pair: p for p in installed_packages(self.packages_dir)}
        with self._registry:
            self._packages = found
            for pair in [pair for pair, m in self._models.items() if found.get(pair) != m.pkg]:
                self._models.pop(pair).evicted = True

    @property
    def packages(self) -> list[InstalledPackage]:
        return sorted(self._packages.values(), key=lambda p: p.pair)

    def route(self, source: str, target: str) -> tuple[InstalledPackage, ...]:
        """The packages that translate source→target: one directly, or two through English."""
        s, t = mt_code(source), mt_code(target)
        direct = self._packages.get((s, t))
        if direct is not None:
            return (direct,)
        first, second = self._packages.get((s, PIVOT)), self._packages.get((PIVOT, t))
        if first is not None and second is not None:
            return first, second
        raise TranslationUnavailable(f"no translation package for {source}→{target} (directly or through {PIVOT})")

    def can_translate(self, source: str, target: str) -> bool:
        if mt_code(source) == mt_code(target):
            return True
        try:
            self.route(source, target)
        except TranslationUnavailable:
            return False
        return True

    def loaded(self) -> list[tuple[str, str]]:
        """Pairs whose model is in memory, least recently used first."""
        with self._registry:
            return [pair for pair, model in self._models.items() if model.loaded]

    # ------------------------------------------------------------------ translating
    def cache_key(self, text: str, source: str, target: str) -> str:
        route = self.route(source, target)
        return TranslationCache.key(text, mt_code(source), mt_code(target),
                                    [p.fingerprint for p in route] + [f"glossary:{self.glossary.version}"])

    def cached(self, text: str, source: str, target: str) -> Translation | None:
        """The cached translation, or None; never loads a model. Raises TranslationUnavailable."""
        route = self.route(source, target)
        if self.cache is None:
            return None
        hit = self.cache.get(self.cache_key(text, source, target))
        if hit is None:
            return None
        self.stats.cache_hits += 1
        return Translation(hit, source, target, (mt_code(source), *(p.target for p in route)), cached=True,
                           terms=self.glossary.terms_in(text))

    def translate(self, text: str, source: str, target: str) -> Translation:
        if mt_code(source) == mt_code(target):
            return Translation(text, source, target, (mt_code(source),), machine=False)
        route = self.route(source, target)
        path = (mt_code(source), *(p.target for p in route))
        if not text.strip():
            return Translation(text, source, target, path)
        hit = self.cached(text, source, target)
        if hit is not None:
            return hit
        masked = self.glossary.mask(text)
        current = masked.text
        for pkg in route:
            current = self._run(pkg, current)
        restored = self.glossary.unmask(current, masked)
        if restored.lost:
            log.info("translations.placeholder_lost pair=%s-%s count=%d", source, target, len(restored.lost))
        if self.cache is not None:
            self.cache.put(self.cache_key(text, source, target), restored.text, path[0], path[-1], path)
        return Translation(restored.text, source, target, path, terms=masked.terms, lost_terms=restored.lost)

    def _run(self, pkg: InstalledPackage, text: str) -> str:
        with self._registry:
            model = self._models.get(pkg.pair)
            if model is None or model.pkg != pkg:
                model = _Model(pkg)
                self._models[pkg.pair] = model
            self._models.move_to_end(pkg.pair)
            victims = []
            while len(self._models) > self.max_loaded:
                _, victim = self._models.popitem(last=False)
                victim.evicted = True
                victims.append(victim)
        for victim in victims:
            # Waits for a translation in progress on that model, never while holding the registry.
            with victim.lock:
                if victim.loaded:
                    self.stats.evictions += 1
                victim.drop()
            log.info("translations.model_evicted pair=%s-%s", *victim.pkg.pair)
        with model.lock:
            seconds = model.load(self.home, self.threads)
            if seconds:
                self.stats.loads += 1
                self.stats.load_seconds += seconds
                log.info("translations.model_loaded pair=%s-%s s=%.2f", *pkg.pair, seconds)
            self.stats.model_calls += 1
            out = model.run(text)
            if model.evicted:
                # Evicted while this call waited: serve it, but keep no more than max_loaded models.
                model.drop()
            return out

    def warm_up(self) -> None:
        """Import argostranslate ahead of the first translation (about 5 s and 320 MB: it imports stanza
        and torch), so that the first person handed to staff does not wait for it. No-op without packages."""
        if self._packages:
            import_argos(self.home, self.packages_dir)

    def close(self) -> None:
        with self._registry:
            models = list(self._models.values())
            self._models.clear()
        for model in models:
            with model.lock:
                model.drop()
        if self.cache is not None:
            self.cache.close()


def create_translator(settings: Settings) -> Translator:
    """argostranslate when any package is installed, else :class:`NoTranslator` (nothing fails)."""
    if not installed_packages(settings.packages_dir):
        return NoTranslator()
    return ArgosTranslator.from_settings(settings)
