"""Answer-engine benchmark: prints one JSON document.

For the hybrid engine and the dense-only and lexical-only baselines: cold start to first answer
(a fresh process), p50/p95/p99 latency over 1,000 questions in-process, throughput, resident
memory; plus index build time for the bundled content pack and for a synthetic pack.

    .venv/bin/python bench/answer.py                   # full run (several minutes: 10,000 synthetic entries)
    .venv/bin/python bench/answer.py --synthetic 1000  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import psutil

from core.config import Settings
from evaluation.evaluate import DEFAULT_EVAL_FILE, load_eval
from retrieval.embedder import create_embedder
from retrieval.engine import AnswerEngine, Mode, index_rows
from retrieval.index import FaissIndex, embed_in_batches
from retrieval.lexical import LexicalRanker

MODES: tuple[Mode, ...] = ("hybrid", "dense", "lexical")


def _rss_mib() -> float:
    return round(float(psutil.Process().memory_info().rss) / 2**20, 1)


def _typo(text: str, rng: random.Random) -> str:
    """A realistic slip (swap two neighbouring letters) so that no question repeats verbatim."""
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def questions(n: int, seed: int = 13) -> list[str]:
    base = [i.text for i in load_eval(DEFAULT_EVAL_FILE)]
    rng = random.Random(seed)
    out = list(base)
    while len(out) < n:
        out.append(_typo(rng.choice(base), rng))
    return out[:n]


def child(mode: str) -> None:
    """Cold start in a fresh process: imports, model, cached index, first answer."""
    started = time.perf_counter()
    engine = AnswerEngine.build(Settings.from_env())
    engine.ask("Wo bekomme ich einen Krankenschein?", mode=mode)  # type: ignore[arg-type]
    print(json.dumps({"cold_start_s": round(time.perf_counter() - started, 3), "rss_mib": _rss_mib()}))


def latency(engine: AnswerEngine, mode: Mode, qs: list[str]) -> dict[str, float]:
    for q in qs[:20]:  # warm caches; not counted
        engine.ask(q, mode=mode)
    times = []
    started = time.perf_counter()
    for q in qs:
        t = time.perf_counter()
        engine.ask(q, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - started
    p = np.percentile(times, [50, 95, 99])
    return {"p50_ms": round(float(p[0]), 2), "p95_ms": round(float(p[1]), 2), "p99_ms": round(float(p[2]), 2),
            "mean_ms": round(statistics.fmean(times), 2), "throughput_qps": round(len(qs) / total, 1)}


def build_times(texts: list[str], embedder_spec: str) -> dict[str, dict[str, float]]:
    embedder = create_embedder(embedder_spec)
    t = time.perf_counter()
    LexicalRanker(texts)
    lexical_s = time.perf_counter() - t
    t = time.perf_counter()
    vectors = embed_in_batches(embedder, texts, progress=sys.stderr.isatty(), desc="synthetic")
    embed_s = time.perf_counter() - t
    t = time.perf_counter()
    FaissIndex(vectors)
    faiss_s = time.perf_counter() - t
    return {
        "hybrid": {"build_s": round(lexical_s + embed_s + faiss_s, 3)},
        "dense": {
            "build_s": round(embed_s + faiss_s, 3), "embed_s": round(embed_s, 3), "faiss_add_s": round(faiss_s, 4)
        },
        "lexical": {"build_s": round(lexical_s, 3)},
        "rows": {"n": len(texts)},
    }


def synthetic_texts(n_entries: int, seed: int = 5) -> list[str]:
    """One question variant per synthetic entry, recombined from real variants' words."""
    pack_texts = index_rows(AnswerEngine.build(Settings.from_env()).pack).texts
    words = [w for t in pack_texts for w in t.split()]
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 10))) for _ in range(n_entries)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--synthetic", type=int, default=10_000, help="entries in the synthetic pack")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    settings = Settings.from_env()
    result: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}

    # Index build for the bundled pack, from nothing, into a throw-away folder.
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Settings(**{**settings.__dict__, "data_dir": Path(tmp)})
        t = time.perf_counter()
        engine = AnswerEngine.build(fresh)
        pack_build_s = time.perf_counter() - t
    result["content_pack"] = {"entries": len(engine.pack.entries), "variants": engine.ranker.index.size,
                              "index_build_s": round(pack_build_s, 2), "embedder": engine.ranker.embedder.name}

    engine = AnswerEngine.build(settings)
    qs = questions(args.questions)
    modes: dict[str, dict[str, object]] = {}
    for mode in MODES:
        cold = subprocess.run([sys.executable, __file__, "--child", mode], capture_output=True, text=True,
                              check=True)
        modes[mode] = {**json.loads(cold.stdout.strip().splitlines()[-1]), **latency(engine, mode, qs)}
    modes["lexical"]["note"] = "the lexical-only process still loads the embedder; rss is an upper bound"
    result["in_process_rss_mib"] = _rss_mib()

    synth = build_times(synthetic_texts(args.synthetic), settings.embedder)
    for mode in MODES:
        modes[mode]["synthetic_index_build_s"] = synth[mode]["build_s"]
    result["synthetic_pack"] = {"entries": args.synthetic, **synth["dense"]}
    result["modes"] = modes
    result["questions"] = len(qs)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
