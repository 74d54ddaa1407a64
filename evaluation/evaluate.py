"""``wegweiser eval``: how well the engine answers the held-out evaluation questions.

Metrics (per language and overall):
* top-1 accuracy – the engine's best topic is the expected one (in-scope questions);
* answer precision – answered with the right topic / all answered (out-of-scope answers count wrong);
* coverage – share of in-scope questions answered outright (the rest are clarified or handed over);
* out-of-scope rejection – share of out-of-scope questions not answered;
* emergency recall – share of acute emergencies that got the emergency reply;
* human-request recall – share of explicit requests for a person that were handed over.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ContentError
from nlu.crisis_semantic import CRISIS_TOPICS
from retrieval.engine import AnswerEngine, AnswerResult, Mode

DEFAULT_EVAL_FILE = Path(__file__).with_name("data") / "bautzen.jsonl"
# Written blind (see data/blind/README.md and WRITERS.md): reported, never tuned or calibrated on.
BLIND_DIR = Path(__file__).with_name("data") / "blind"
# Situations written apart from the content and the variants, by someone who saw only the topic list;
# tuned on (thresholds, crisis detector), unlike the blind set.
DEV_FILE = Path(__file__).with_name("data") / "dev_situations.jsonl"
EVAL_SETS = {"own": (DEFAULT_EVAL_FILE,), "dev": (DEV_FILE,), "tuning": (DEFAULT_EVAL_FILE, DEV_FILE),
             "blind": tuple(sorted(BLIND_DIR.glob("*.jsonl")))}
KINDS = ("in_scope", "out_of_scope", "emergency", "human")


@dataclass(frozen=True)
class EvalItem:
    text: str
    lang: str
    kind: str
    topic: str | None
    line: int


def load_eval_set(name: str) -> list[EvalItem]:
    if name not in EVAL_SETS or not EVAL_SETS[name]:
        raise ContentError(f"unknown or empty evaluation set {name!r} ({', '.join(EVAL_SETS)})")
    return [item for path in EVAL_SETS[name] for item in load_eval(path)]


def load_eval(path: Path) -> list[EvalItem]:
    items: list[EvalItem] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            item = EvalItem(str(raw["text"]), str(raw["lang"]), str(raw["kind"]), raw.get("topic"), n)
        except (ValueError, KeyError, TypeError) as e:
            raise ContentError(f"{path}:{n}: not an evaluation item: {e}") from e
        if item.kind not in KINDS:
            raise ContentError(f"{path}:{n}: unknown kind {item.kind!r}")
        items.append(item)
    return items


def top_topic(result: AnswerResult) -> str | None:
    if result.status == "emergency" or not result.candidates:
        return result.topic
    return result.candidates[0].topic


@dataclass
class _Counter:
    n: int = 0
    top1: int = 0
    answered: int = 0
    answered_right: int = 0
    clarify_hit: int = 0


@dataclass
class Report:
    mode: str
    per_lang: dict[str, dict[str, float]] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "overall": self.overall, "per_language": self.per_lang}


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else float("nan")


def evaluate(engine: AnswerEngine, items: list[EvalItem], mode: Mode = "hybrid", use_lang: bool = False) -> Report:
    """Run every item through the engine (language detected unless ``use_lang``)."""
    in_scope: dict[str, _Counter] = defaultdict(_Counter)
    oos_total = oos_rejected = emerg_total = emerg_hit = human_total = human_hit = 0
    # Per language: ordinary messages (anything not an emergency) that got the emergency reply,
    # and emergencies that did.
    ordinary: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    emergencies: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    answered_total = answered_right = 0
    latencies: list[float] = []
    report = Report(mode)
    for item in items:
        result = engine.ask(item.text, lang=item.lang if use_lang else None, mode=mode)
        latencies.append(result.latency_ms)
        answered = result.status == "answered"
        alarm = result.status == "emergency"
        # Questions on the crisis topics ("my husband beats me, where is help?") rightly get the
        # crisis reply; they are neither emergencies nor ordinary here.
        crisis_topic = item.kind == "in_scope" and item.topic in CRISIS_TOPICS
        if not crisis_topic:
            tally = emergencies[item.lang] if item.kind == "emergency" else ordinary[item.lang]
            tally[0] += 1
            tally[1] += alarm
        if alarm and item.kind != "emergency" and not crisis_topic:
            report.failures.append({"line": item.line, "lang": item.lang, "expected": item.kind,
                                    "status": "emergency", "reason": result.reason})
        if answered:
            answered_total += 1
        if item.kind == "in_scope":
            c = in_scope[item.lang]
            c.n += 1
            right = top_topic(result) == item.topic
            c.top1 += right
            if answered:
                c.answered += 1
                c.answered_right += right
                answered_right += right
            if result.status == "clarify" and any(x.topic == item.topic for x in result.candidates):
                c.clarify_hit += 1
            if not right or not answered:
                report.failures.append(
                    {"line": item.line, "lang": item.lang, "expected": item.topic, "got": top_topic(result),
                     "status": result.status, "score": round(result.score, 3)}
                )
        elif item.kind == "out_of_scope":
            oos_total += 1
            oos_rejected += not answered
            if answered:
                report.failures.append({"line": item.line, "lang": item.lang, "expected": None,
                                        "got": result.topic, "status": result.status})
        elif item.kind == "emergency":
            emerg_total += 1
            emerg_hit += result.status == "emergency"
            if result.status != "emergency":
                report.failures.append({"line": item.line, "lang": item.lang, "expected": "emergency",
                                        "status": result.status})
        else:
            human_total += 1
            human_hit += result.status == "escalate" and result.reason == "requested"
    for lang, c in sorted(in_scope.items()):
        report.per_lang[lang] = {
            "n": c.n,
            "top1": _ratio(c.top1, c.n),
            "coverage": _ratio(c.answered, c.n),
            "precision": _ratio(c.answered_right, c.answered),
        }
    for lang in sorted(set(ordinary) | set(emergencies)):
        row = report.per_lang.setdefault(lang, {"n": 0})
        row["ordinary"], row["false_alarms"] = ordinary[lang][0], _ratio(ordinary[lang][1], ordinary[lang][0])
        row["emergencies"], row["emergency_recall"] = (emergencies[lang][0],
                                                       _ratio(emergencies[lang][1], emergencies[lang][0]))
    n_in = sum(c.n for c in in_scope.values())
    ordered = sorted(latencies)
    report.overall = {
        "in_scope": n_in,
        "top1": _ratio(sum(c.top1 for c in in_scope.values()), n_in),
        "coverage": _ratio(sum(c.answered for c in in_scope.values()), n_in),
        "clarify_with_right_topic": _ratio(sum(c.clarify_hit for c in in_scope.values()), n_in),
        "answer_precision": _ratio(answered_right, answered_total),
        "out_of_scope": oos_total,
        "out_of_scope_rejection": _ratio(oos_rejected, oos_total),
        "emergencies": emerg_total,
        "emergency_recall": _ratio(emerg_hit, emerg_total),
        "ordinary": sum(v[0] for v in ordinary.values()),
        "false_alarms": _ratio(sum(v[1] for v in ordinary.values()), sum(v[0] for v in ordinary.values())),
        "human_requests": human_total,
        "human_request_recall": _ratio(human_hit, human_total),
        "latency_ms_p50": round(statistics.median(ordered), 2) if ordered else 0.0,
        "latency_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else 0.0,
    }
    return report


def format_report(report: Report) -> str:
    lines = [f"mode: {report.mode}", "",
             f"{'lang':<6}{'n':>5}{'top-1':>8}{'answered':>10}{'precision':>11}{'emerg.':>8}{'recall':>8}"
             f"{'ordin.':>8}{'alarms':>8}"]
    for lang, m in report.per_lang.items():
        nan = float("nan")
        lines.append(
            f"{lang:<6}{m['n']:>5}{m.get('top1', nan):>8.1%}{m.get('coverage', nan):>10.1%}"
            f"{m.get('precision', nan):>11.1%}{m.get('emergencies', 0):>8}{m.get('emergency_recall', nan):>8.1%}"
            f"{m.get('ordinary', 0):>8}{m.get('false_alarms', nan):>8.1%}")
    o = report.overall
    lines += [
        "",
        f"in-scope questions        {o['in_scope']}",
        f"top-1 accuracy            {o['top1']:.1%}",
        f"answered (coverage)       {o['coverage']:.1%}   clarified with the right topic offered: "
        f"{o['clarify_with_right_topic']:.1%}",
        f"answer precision          {o['answer_precision']:.1%}",
        f"out-of-scope rejection    {o['out_of_scope_rejection']:.1%}   (n={o['out_of_scope']})",
        f"emergency recall          {o['emergency_recall']:.1%}   (n={o['emergencies']})",
        f"false alarms (ordinary)   {o['false_alarms']:.1%}   (n={o['ordinary']})",
        f"human-request recall      {o['human_request_recall']:.1%}   (n={o['human_requests']})",
        f"latency p50 / p95         {o['latency_ms_p50']} ms / {o['latency_ms_p95']} ms",
    ]
    return "\n".join(lines)
