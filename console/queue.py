"""The staff review queue: what the bot could not answer well, grouped by meaning.

Items are questions without an answer, clarifications, "none of these" and answers that got 👎 —
text, language and date only (``unanswered_questions``; no identity). Grouping uses the embedder the
bot already has: "23 people asked something like this, in ar, fa, tr" is one group, whatever the
language. Greedy, newest first: an item joins the first group whose first item is close enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store import UnansweredQuestion
from console.publish import audit
from retrieval.embedder import Embedder, MemoEmbedder
from retrieval.engine import AnswerEngine

# Cosine of e5 query vectors above which two questions count as "the same question" (paraphrases
# across languages score about 0.88–0.95; different questions on the same topic about 0.80–0.86).
SAME_MEANING = 0.88
KIND_LABELS = {"unanswered": "keine Antwort", "clarify": "Rückfrage", "none_of_these": "„nichts davon“",
               "not_helpful": "👎 nicht hilfreich"}


@dataclass(frozen=True)
class QueueItem:
    id: int
    text: str
    lang: str | None
    kind: str
    entry_id: str | None
    at: datetime


@dataclass
class QueueGroup:
    items: list[QueueItem] = field(default_factory=list)
    suggestion: str | None = None  # the entry the bot itself found closest

    @property
    def languages(self) -> list[str]:
        return sorted({i.lang or "?" for i in self.items})

    @property
    def kinds(self) -> list[str]:
        return sorted({KIND_LABELS.get(i.kind, i.kind) for i in self.items})

    @property
    def ids(self) -> str:
        return ",".join(str(i.id) for i in self.items)


class ReviewQueue:
    def __init__(self, sessions: sessionmaker[Session], embedder: Embedder) -> None:
        self.sessions = sessions
        self.embedder = MemoEmbedder(embedder, max_items=5000)

    def open_items(self, limit: int = 500) -> list[QueueItem]:
        with self.sessions() as s:
            rows = s.scalars(select(UnansweredQuestion).where(UnansweredQuestion.state == "open")
                             .order_by(UnansweredQuestion.id.desc()).limit(limit))
            return [QueueItem(r.id, r.text, r.lang, r.kind, r.entry_id, r.created_at) for r in rows]

    def groups(self, engine: AnswerEngine | None = None, limit: int = 500) -> list[QueueGroup]:
        items = self.open_items(limit)
        if not items:
            return []
        vectors = self.embedder.embed_queries([i.text for i in items])
        groups: list[QueueGroup] = []
        heads: list[np.ndarray] = []
        for item, vector in zip(items, vectors, strict=True):
            sims = [float(vector @ head) for head in heads]
            best = int(np.argmax(sims)) if sims else -1
            if best >= 0 and sims[best] >= SAME_MEANING:
                groups[best].items.append(item)
            else:
                groups.append(QueueGroup([item]))
                heads.append(vector)
        groups.sort(key=lambda g: (-len(g.items), -g.items[0].id))
        if engine is not None:
            for group in groups:
                group.suggestion = self.suggest(engine, group)
        return groups

    @staticmethod
    def suggest(engine: AnswerEngine, group: QueueGroup) -> str | None:
        """The entry a 👎 was about, else the bot's own best candidate for the newest question."""
        for item in group.items:
            if item.kind == "not_helpful" and item.entry_id:
                return item.entry_id
        result = engine.ask(group.items[0].text)
        if result.entry_id:
            return result.entry_id
        return result.candidates[0].entry_id if result.candidates else None

    def items(self, ids: list[int]) -> list[QueueItem]:
        with self.sessions() as s:
            rows = s.scalars(select(UnansweredQuestion).where(UnansweredQuestion.id.in_(ids)))
            return [QueueItem(r.id, r.text, r.lang, r.kind, r.entry_id, r.created_at) for r in rows]

    def close(self, ids: list[int], state: str, actor: str, detail: str) -> int:
        """Mark items ``added`` (became variants) or ``dismissed``; they leave the queue."""
        with self.sessions.begin() as s:
            result = s.execute(update(UnansweredQuestion).where(UnansweredQuestion.id.in_(ids),
                                                                UnansweredQuestion.state == "open")
                               .values(state=state))
            count = int(getattr(result, "rowcount", 0) or 0)
            audit(s, actor, f"queue.{state}", f"{count} question(s): {detail}")
            return count
