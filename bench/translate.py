"""Machine-translation benchmark: prints one JSON document.

Runs the real translator (argostranslate → CTranslate2) over the tiny test packages that
``tests/translations/argos_fixture.py`` builds (no real package can be downloaded here): model load
time, per-sentence latency (direct and through the English pivot, cache off), resident memory with
one and two models loaded, and the latency of a cache hit. The tiny models (d_model 32, one layer)
say nothing about real translation speed; they do measure our own overhead (masking, routing,
locking, argostranslate's sentence splitting, the cache), which is what a cache hit costs.

    .venv/bin/python bench/translate.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from tests.translations.argos_fixture import build_test_packages, load_pairs
from translations.cache import TranslationCache
from translations.machine import ArgosTranslator
from translations.packages import install_package

ROUNDS = 20
# Published by Argos' community (no size is listed in the package index itself).
PUBLISHED = {
    "package_size": "about 100 MB per language pair (github.com/TechnologyClassroom/SetupNotes, argos-translate.md)",
    "pairs_in_index": "argospm-index index.json (commit c9738fc): en↔ar, en↔fa, en↔uk, en↔ru, en↔tr, en↔fr, en↔de; "
                      "no package for ps, so, ku or ti",
}


def _rss_mib() -> float:
    return round(float(psutil.Process().memory_info().rss) / 2**20, 1)


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3)}


def main() -> None:
    started = time.perf_counter()
    archives = build_test_packages()
    build_s = time.perf_counter() - started
    pairs = load_pairs()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for archive in archives.values():
            install_package(archive, root / "packages")
        rss_start = _rss_mib()
        uncached = ArgosTranslator(root / "packages", root / "argos", cache=None, max_loaded=2)
        first = time.perf_counter()
        uncached.translate(pairs[("de", "en")][0][0], "de", "en")
        # The first call imports argostranslate (which imports stanza, and with it torch) and loads a model.
        first_call_s = time.perf_counter() - first
        rss_one = _rss_mib()
        direct = [a for a, _ in pairs[("de", "en")]]
        english_to_german = {a for a, _ in pairs[("en", "de")]}
        pivot = [a for a, b in pairs[("ps", "en")] if b in english_to_german]
        latency_direct, latency_pivot = [], []
        for _ in range(ROUNDS):
            for text in direct:
                t = time.perf_counter()
                uncached.translate(text, "de", "en")
                latency_direct.append(time.perf_counter() - t)
        for _ in range(ROUNDS):
            for text in pivot:
                t = time.perf_counter()
                uncached.translate(text, "ps", "de")  # ps → en → de: two models
                latency_pivot.append(time.perf_counter() - t)
        rss_two = _rss_mib()
        load_s = uncached.stats.load_seconds / max(1, uncached.stats.loads)

        cached = ArgosTranslator(root / "packages", root / "argos", TranslationCache(root / "cache.sqlite"))
        for text in direct:
            cached.translate(text, "de", "en")
        hits = []
        for _ in range(ROUNDS * 5):
            for text in direct:
                t = time.perf_counter()
                cached.translate(text, "de", "en")
                hits.append(time.perf_counter() - t)
        answer = " ".join(a for a, _ in pairs[("en", "ps")][-7:])
        cached.translate(answer, "en", "ps")
        answer_hits = []
        for _ in range(ROUNDS * 5):
            t = time.perf_counter()
            cached.translate(answer, "en", "ps")
            answer_hits.append(time.perf_counter() - t)
        report = {
            "note": "tiny test models (d_model 32, 1 layer): latency and memory are NOT representative of real "
                    "Argos packages; our own overhead and the cache are.",
            "fixture_build_s": round(build_s, 1),
            "first_call_s": round(first_call_s, 2),
            "model_load_s": round(load_s, 3),
            "rss_mib": {"before": rss_start, "one_model": rss_one, "two_models": rss_two,
                        "note": "most of the jump is importing argostranslate (stanza → torch), not the model"},
            "direct_de_en_per_sentence": _ms(latency_direct),
            "pivot_ps_en_de_per_sentence": _ms(latency_pivot),
            "cache_hit_sentence": _ms(hits),
            "cache_hit_answer_7_sentences": _ms(answer_hits),
            "published": PUBLISHED,
        }
        uncached.close()
        cached.close()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
