"""Read NLU training data in Rasa 3 YAML (``version: "3.1"``, ``nlu:`` intents, entities, synonyms)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import ContentError

DATA_DIR = Path(__file__).with_name("data")
TRAIN_FILE = DATA_DIR / "nlu.yml"
TEST_FILE = DATA_DIR / "test.yml"
# "[arabisch](language)" – Rasa's short entity annotation. Also accepts {"entity": …, "value": …}.
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+)\]\((?P<entity>[A-Za-z_][\w-]*)\)|\[(?P<jtext>[^\]]+)\](?P<json>\{[^}]*\})"
)


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[Entity, ...] = ()


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # surface form (case-folded) → value
    fingerprint: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


def _strip_annotations(raw: str) -> tuple[str, tuple[Entity, ...]]:
    out, entities, pos = [], [], 0
    for m in _ANNOTATION.finditer(raw):
        out.append(raw[pos : m.start()])
        start = sum(len(p) for p in out)
        if m.group("text") is not None:
            text, entity, value = m.group("text"), m.group("entity"), m.group("text")
        else:
            import json

            spec = json.loads(m.group("json"))
            text, entity, value = m.group("jtext"), str(spec["entity"]), str(spec.get("value", m.group("jtext")))
        out.append(text)
        entities.append(Entity(entity, value, text, start, start + len(text)))
        pos = m.end()
    out.append(raw[pos:])
    return "".join(out), tuple(entities)


def _examples_block(block: Any, where: str) -> list[str]:
    if not isinstance(block, str):
        raise ContentError(f"{where}: 'examples' must be a block string of '- ' lines")
    items = []
    for line in block.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise ContentError(f"{where}: example line does not start with '- ': {line!r}")
        items.append(line[2:].strip())
    return items


def load_training_data(*paths: Path) -> TrainingData:
    """Parse one or more Rasa NLU files; errors name the file and, for YAML syntax, the line."""
    data = TrainingData()
    digest = hashlib.sha256()
    for path in paths:
        raw_text = path.read_text(encoding="utf-8")
        digest.update(raw_text.encode())
        try:
            doc = yaml.safe_load(raw_text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f"line {mark.line + 1}" if mark is not None else "unknown line"
            raise ContentError(f"{path}: {line}: invalid YAML: {getattr(e, 'problem', e)}") from e
        if not isinstance(doc, dict) or str(doc.get("version", "")) not in {"3.1", "3.0"}:
            raise ContentError(f'{path}: expected a Rasa 3 file with version: "3.1"')
        for n, item in enumerate(doc.get("nlu") or [], start=1):
            where = f"{path}: nlu item {n}"
            if not isinstance(item, dict):
                raise ContentError(f"{where}: not a mapping")
            if "intent" in item:
                for line in _examples_block(item.get("examples"), f"{where} (intent {item['intent']})"):
                    text, entities = _strip_annotations(line)
                    data.examples.append(Example(text, str(item["intent"]), entities))
            elif "synonym" in item:
                for form in _examples_block(item.get("examples"), f"{where} (synonym {item['synonym']})"):
                    data.synonyms[form.casefold()] = str(item["synonym"])
            elif "regex" in item or "lookup" in item:
                continue  # understood by Rasa; the built-in backend does not need them
            else:
                raise ContentError(f"{where}: expected intent, synonym, regex or lookup")
    data.fingerprint = digest.hexdigest()[:16]
    return data
