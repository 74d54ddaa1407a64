"""Publish benchmark: from "publish" in the staff console to the bot answering from it. Prints JSON.

On a copy of the bundled pack (the real files are never touched) with the real engine, index cache
and regression gate:

* a new question variant: publish (validate, incremental index, gate, write, swap) and the time
  until the running engine answers the new question from the new entry;
* one changed German answer: the same, and how many texts had to be embedded;
* the gate's one-off baseline for the live content (the console computes it at start).

    .venv/bin/python bench/publish.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store import Store
from console.publish import ContentService, LiveContent, RegressionGate
from core.config import Settings
from knowledge.editor import EntryEdit, add_variants, edit_entry
from retrieval.engine import AnswerEngine
from retrieval.index import IndexStore
from translations.translator import NoTranslator

# A number new every run: the embedding cache must not already know the text, or nothing is embedded.
QUESTION = f"Darf ich im Heim mein Fahrrad im Keller {int(time.time()) % 100000} abstellen?"


def main() -> None:
    settings = Settings.from_env()
    started = time.perf_counter()
    engine = AnswerEngine.build(settings, translator=NoTranslator())
    load_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="wegweiser-bench-") as tmp:
        root = Path(tmp)
        content = root / "bautzen"
        shutil.copytree(settings.content_dir, content)
        engine.index_store = IndexStore(root / "index")  # never overwrite the real index
        live = LiveContent(engine)
        store = Store(f"sqlite:///{root / 'bench.db'}")
        service = ContentService(content, store.sessions, live, RegressionGate())
        t = time.perf_counter()
        service.gate.baseline(engine)
        baseline_s = time.perf_counter() - t

        target = next(e.id for e in engine.pack.entries if e.topic == "accommodation_in_district")
        before = live.engine.ask(QUESTION)
        t = time.perf_counter()
        result = service.publish(lambda files: add_variants(files, live.engine.pack, target, [("de", QUESTION)]),
                                 "bench", "one new variant")
        answered = live.engine.ask(QUESTION)
        variant_s = time.perf_counter() - t
        variant = {"status": result.status, "before": before.status, "after": answered.status,
                   "answered_from_new_entry": answered.entry_id == target,
                   "publish_to_answer_s": round(variant_s, 2),
                   "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
                   "texts_embedded": live.engine.index_embedded}

        entry = live.engine.pack.by_id(target)
        note = f"\n\nStand {int(time.time())}: bitte im Heim nachfragen."
        edit = EntryEdit(answers={"de": entry.answers["de"].text + note})
        t = time.perf_counter()
        result = service.publish(lambda files: edit_entry(files, target, edit), "bench", "one changed answer")
        changed_s = time.perf_counter() - t
        changed = {"status": result.status, "publish_s": round(changed_s, 2),
                   "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
                   "texts_embedded": live.engine.index_embedded,
                   "index_rows": live.engine.ranker.index.size}
    print(json.dumps({
        "embedder": engine.ranker.embedder.name, "cores": os.cpu_count(), "engine_load_s": round(load_s, 2),
        "gate_items": len(service.gate.items), "gate_baseline_once_s": round(baseline_s, 2),
        "new_variant": variant, "changed_answer": changed,
    }, indent=2))


if __name__ == "__main__":
    main()
