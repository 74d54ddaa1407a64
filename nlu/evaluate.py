"""``wegweiser nlu eval``: accuracy per intent and per language on the held-out file, and latency."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any

from nlu.intents import IntentBackend
from nlu.language import LanguageIdentifier
from nlu.training_data import TrainingData


def evaluate_backend(backend: IntentBackend, test: TrainingData) -> dict[str, Any]:
    languages = LanguageIdentifier()
    per_intent: dict[str, list[bool]] = defaultdict(list)
    per_lang: dict[str, list[bool]] = defaultdict(list)
    entity_hits: list[bool] = []
    times: list[float] = []
    for ex in test.examples:
        started = time.perf_counter()
        result = backend.parse(ex.text)
        times.append((time.perf_counter() - started) * 1000)
        ok = result.intent == ex.intent
        per_intent[ex.intent].append(ok)
        per_lang[languages.identify(ex.text).lang or "?"].append(ok)
        for ent in ex.entities:
            wanted = test.synonyms.get(ent.value.casefold(), ent.value)
            entity_hits.append(result.entity(ent.entity) == wanted)
    ordered = sorted(times)
    correct = sum(ok for oks in per_intent.values() for ok in oks)
    return {
        "backend": backend.name,
        "n": len(test.examples),
        "accuracy": round(correct / max(len(test.examples), 1), 4),
        "per_intent": {k: round(sum(v) / len(v), 3) for k, v in sorted(per_intent.items())},
        "per_language": {k: round(sum(v) / len(v), 3) for k, v in sorted(per_lang.items())},
        "language_entity_accuracy": round(sum(entity_hits) / len(entity_hits), 3) if entity_hits else None,
        "latency_ms_p50": round(statistics.median(ordered), 2),
        "latency_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


def format_table(reports: list[dict[str, Any]]) -> str:
    names = [r["backend"] for r in reports]
    lines = [f"{'':<18}" + "".join(f"{n:>10}" for n in names)]
    lines.append(f"{'accuracy':<18}" + "".join(f"{r['accuracy']:>10.1%}" for r in reports))
    for intent in reports[0]["per_intent"]:
        lines.append(f"  {intent:<16}" + "".join(f"{r['per_intent'].get(intent, 0):>10.1%}" for r in reports))
    langs = sorted({lang for r in reports for lang in r["per_language"]})
    for lang in langs:
        lines.append(f"  lang {lang:<11}" + "".join(f"{r['per_language'].get(lang, 0):>10.1%}" for r in reports))
    entity = "".join(f"{(r['language_entity_accuracy'] or 0):>10.1%}" for r in reports)
    lines.append(f"{'language entity':<18}" + entity)
    lines.append(f"{'p50 ms':<18}" + "".join(f"{r['latency_ms_p50']:>10}" for r in reports))
    lines.append(f"{'p95 ms':<18}" + "".join(f"{r['latency_ms_p95']:>10}" for r in reports))
    return "\n".join(lines)
