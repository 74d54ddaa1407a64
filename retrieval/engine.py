"""The answer engine: a question in any served language → a curated answer, a clarification,
an honest "I have none" (escalate), or the emergency numbers.

Order matters and is fixed: the deterministic crisis check runs first, before any model; then an
explicit request for a person; only then retrieval. The engine is synchronous and thread-safe;
async callers run :meth:`AnswerEngine.ask` in a worker thread.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from core.config import Settings
from core.errors import InputError
from core.languages import FINAL_FALLBACKS, fallback_chain
from core.text import has_letters
from knowledge.loader import load_pack
from knowledge.schema import CURATED_ANSWER_LANGUAGES, Entry, KnowledgePack
from nlu.crisis_semantic import SemanticCrisis, SemanticCrisisDetector
from nlu.language import LanguageIdentifier, canonical_language
from nlu.safety import CrisisDetector, HumanRequestDetector
from nlu.transliterate import to_script
from retrieval.crisis import build_semantic_crisis, message_parts
from retrieval.embedder import Embedder, Vectors, create_embedder
from retrieval.index import FaissIndex, IndexStore, Manifest, embed_in_batches
from retrieval.ranking import EntryScores, HybridRanker, Thresholds
from retrieval.vector_cache import VectorCache
from translations.answers import machine_answer
from translations.messages import EngineMessages, engine_messages
from translations.translator import NoTranslator, Translator

log = logging.getLogger(__name__)

Status = Literal["answered", "clarify", "escalate", "emergency"]
Mode = Literal["hybrid", "dense", "lexical"]
# The authored originals: an answer in one of them gives way to a machine translation.
DEFAULT_FALLBACK = FINAL_FALLBACKS
# Questions in languages without curated answers are also searched in this language (if a package exists).
QUERY_LANGUAGE = "en"
# After the emergency reply, the entry that helps next: chosen by retrieval among these topics.
CRISIS_TOPICS: dict[str, tuple[str, ...]] = {
    "medical": ("emergency_numbers", "hospitals_emergency_rooms", "pregnancy_and_birth", "children_health"),
    "suicidal": ("suicidal_thoughts_crisis", "mental_health_psychosocial_support"),
    "violence": ("violence_against_women", "racist_violence_discrimination"),
}


@dataclass(frozen=True)
class Candidate:
    topic: str
    entry_id: str
    score: float


@dataclass
class AnswerResult:
    status: Status
    lang: str | None
    answer_lang: str | None
    answer: str | None
    topic: str | None = None
    entry_id: str | None = None
    score: float = 0.0
    machine_translated: bool = False
    answer_reviewed: bool = False
    language_fallback: bool = False
    # Machine translation: the curated original it was made from, the protected glossary terms in
    # it, and whether the person's language has neither curated text nor a translation package.
    source_lang: str | None = None
    terms: list[str] = field(default_factory=list)
    translation_unavailable: bool = False
    query_translated: bool = False  # retrieval used the question machine-translated into English
    escalation: str = "none"
    reason: str | None = None
    contact: str | None = None
    facts_as_of: str | None = None
    sources: list[dict[str, str]] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    truncated: bool = False
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["score"] = round(self.score, 4)
        out["latency_ms"] = round(self.latency_ms, 2)
        out["candidates"] = [{**asdict(c), "score": round(c.score, 4)} for c in self.candidates]
        return out


@dataclass(frozen=True)
class IndexRows:
    """What the index holds: one row per question variant, then one per answer text."""

    entry: list[int]
    is_answer: list[bool]
    texts: list[str]


def index_rows(pack: KnowledgePack) -> IndexRows:
    rows = IndexRows([], [], [])
    for is_answer in (False, True):
        for i, entry in enumerate(pack.entries):
            texts = [a.text for a in entry.answers.values()] if is_answer else [q for _, q in entry.variants()]
            rows.entry.extend([i] * len(texts))
            rows.is_answer.extend([is_answer] * len(texts))
            rows.texts.extend(texts)
    return rows


class AnswerEngine:
    def __init__(
        self,
        pack: KnowledgePack,
        ranker: HybridRanker,
        thresholds: Thresholds,
        languages: LanguageIdentifier | None = None,
        crisis: CrisisDetector | None = None,
        human: HumanRequestDetector | None = None,
        messages: EngineMessages | None = None,
        max_input_chars: int = 4096,
        translator: Translator | None = None,
        semantic: SemanticCrisisDetector | None = None,
        crisis_cache: Path | None = None,
        index_store: IndexStore | None = None,
        vector_cache: VectorCache | None = None,
    ) -> None:
        # Per message the engine multiplies a vector by a few thousand rows: one BLAS thread is plenty,
        # and idle OpenBLAS threads spinning after each product slowed the next embedding fivefold.
        threadpool_limits(1, user_api="blas")
        self.pack = pack
        # The second crisis check, on the query embedding; None (lexicon only) in tests that ask so.
        self.semantic = semantic
        self.ranker = ranker
        self.thresholds = thresholds
        self.languages = languages or LanguageIdentifier()
        self.crisis = crisis or CrisisDetector()
        self.human = human or HumanRequestDetector()
        self.messages = messages or engine_messages()
        self.max_input_chars = max_input_chars
        self.translator: Translator = translator or NoTranslator()
        self._topic_of = [e.topic for e in pack.entries]
        # Where the crisis detector's training vectors are cached (calibration reuses them).
        self.crisis_cache = crisis_cache
        # Where a new pack's index goes, and the embeddings it is rebuilt from (see with_pack).
        self.index_store = index_store
        self.vector_cache = vector_cache
        # How many texts the last index (re)build had to embed (publishes: only new or changed ones).
        self.index_embedded = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        progress: bool = False,
        on_index: Callable[[bool], None] | None = None,
        translator: Translator | None = None,
    ) -> AnswerEngine:
        """``translator`` defaults to argostranslate when packages are installed, else none."""
        pack = load_pack(settings.content_dir)
        embedder = embedder or create_embedder(settings.embedder, settings.max_query_tokens)
        store = IndexStore(settings.data_dir / "index" / _safe_name(embedder.name) / _safe_name(pack_name(settings)))
        cache = VectorCache(store.folder.parent / "vectors.sqlite")
        ranker, rebuilt = _ranker(embedder, pack, store, cache, progress=progress)
        if on_index:
            on_index(rebuilt)
        crisis_cache = store.folder.parent / "crisis"
        semantic = build_semantic_crisis(embedder, pack, crisis_cache, progress=progress, cache=cache)
        if translator is None:
            from translations.machine import create_translator

            translator = create_translator(settings)
        return cls(pack, ranker, Thresholds.load(settings.thresholds_file), max_input_chars=settings.max_input_chars,
                   translator=translator, semantic=semantic, crisis_cache=crisis_cache, index_store=store,
                   vector_cache=cache)

    def with_pack(self, pack: KnowledgePack, save: bool = True) -> AnswerEngine:
        """The same engine on other content (a publish from the staff console): models, thresholds and
        the crisis detector are shared; the index is rebuilt from cached embeddings, so only new or
        changed texts are embedded. ``save=False`` for a candidate the regression gate may hold back."""
        embedder = self.ranker.embedder
        ranker, _ = _ranker(embedder, pack, self.index_store, self.vector_cache, save=save)
        embedded = self.vector_cache.last_embedded if self.vector_cache is not None else ranker.index.size
        semantic = self.semantic
        if semantic is not None and self.crisis_cache is not None:
            # The detector learns the pack's variants as ordinary questions: retrained on the new pack,
            # as a restart would, so the regression gate sees what a variant does to emergencies.
            semantic = build_semantic_crisis(embedder, pack, self.crisis_cache, cache=self.vector_cache, save=save,
                                             thresholds=semantic.thresholds)
        engine = AnswerEngine(
            pack, ranker, self.thresholds, self.languages, self.crisis, self.human, self.messages,
            self.max_input_chars, self.translator, semantic, self.crisis_cache, self.index_store,
            self.vector_cache,
        )
        engine.index_embedded = embedded
        return engine

    def save_index(self) -> None:
        """Write this engine's index where the next start looks for it (after a publish)."""
        index = self.ranker.index
        if self.index_store is None or not isinstance(index, FaissIndex):
            return
        embedder = self.ranker.embedder
        self.index_store.save(index, Manifest(embedder.name, embedder.dim, self.pack.content_hash, index.size))

    def for_evaluation(self, embedder: Embedder) -> AnswerEngine:
        """The same content and index, with another query embedder (a memo) and no machine translation:
        what the regression gate compares packs with."""
        ranker = copy.copy(self.ranker)
        ranker.embedder = embedder
        return AnswerEngine(
            self.pack, ranker, self.thresholds, self.languages, self.crisis, self.human, self.messages,
            self.max_input_chars, NoTranslator(), self.semantic, self.crisis_cache,
        )

    # ------------------------------------------------------------------ answering
    def ask(self, text: str, lang: str | None = None, hint: str | None = None, mode: Mode = "hybrid") -> AnswerResult:
        """Answer one message. ``lang`` is the person's own choice and always wins; ``hint`` is a prior
        such as Telegram's ``language_code``. Raises :class:`InputError` only for non-text input."""
        started = time.perf_counter()
        if not isinstance(text, str):
            raise InputError("text must be a string")
        chosen = canonical_language(lang) if lang else None
        truncated = len(text) > self.max_input_chars
        # The crisis check sees the whole message: a cry for help may come after a long story.
        crisis = self.crisis.check(text) if text.strip() else None
        text = text[: self.max_input_chars]
        person_lang = chosen or self.languages.identify(text, hint).lang or canonical_language(hint)

        if crisis is not None:
            result = self._emergency(text, person_lang, crisis.category, mode, None)
        elif not has_letters(text):
            empty = self.messages.get("empty_input", person_lang)
            result = AnswerResult(
                status="clarify", lang=person_lang, answer_lang=empty.lang, answer=empty.text, reason="empty",
                answer_reviewed=empty.reviewed,
            )
        else:
            # One embedding per message, shared by the semantic crisis check and retrieval.
            vector = self._query_vector(text, mode)
            semantic = self._semantic_check(text, vector, person_lang)
            if semantic is not None and semantic.confident:
                result = self._emergency(text, person_lang, semantic.category, mode, vector)
            elif self.human.check(text) and semantic is None:
                handover = self.messages.get("human_requested", person_lang)
                result = AnswerResult(
                    status="escalate", lang=person_lang, answer_lang=handover.lang, answer=handover.text,
                    reason="requested", escalation="always", answer_reviewed=handover.reviewed,
                )
            else:
                result = self._retrieve(text, person_lang, mode, vector)
                if semantic is not None:
                    result = self._numbers_first(result, text, person_lang, semantic, mode, vector)
        result.truncated = truncated
        result.latency_ms = (time.perf_counter() - started) * 1000
        log.debug("answer status=%s topic=%s lang=%s ms=%.1f", result.status, result.topic, result.lang,
                  result.latency_ms)
        return result

    def _query_vector(self, text: str, mode: Mode) -> Vectors | None:
        if mode == "lexical" and self.semantic is None:
            return None
        return self.ranker.embedder.embed_queries([text])

    def _semantic_check(self, text: str, vector: Vectors | None, lang: str | None) -> SemanticCrisis | None:
        if self.semantic is None or vector is None:
            return None
        parts = message_parts(text)
        # Arabizi and Finglish are read much better by the model in Arabic or Persian script.
        if (script := to_script(text, lang)) is not None:
            parts.append(script)
        # A long story's later sentences are embedded too: the cry for help may come last.
        vectors = np.vstack([vector, self.ranker.embedder.embed_queries(parts)]) if parts else vector
        return self.semantic.check(vectors)

    def crisis_category(self, text: str) -> str | None:
        """Lexicon, then the semantic check: the crisis category of a message, or None. For messages
        that do not go through :meth:`ask` (a person writing inside a hand-over conversation)."""
        if not text.strip():
            return None
        match = self.crisis.check(text)
        if match is not None:
            return match.category
        if not has_letters(text):
            return None
        lang = self.languages.identify(text).lang
        semantic = self._semantic_check(text, self._query_vector(text, "hybrid"), lang)
        # Inside a conversation a person is already reading: only a confident crisis interrupts it.
        return semantic.category if semantic is not None and semantic.confident else None

    def _emergency(self, text: str, person_lang: str | None, category: str, mode: Mode,
                   vector: Vectors | None, reason: str = "crisis") -> AnswerResult:
        msg_lang, msg = self.crisis.message(category, person_lang or "en")
        related = self._related_entry(text, category, mode, vector)
        return AnswerResult(
            status="emergency", lang=person_lang, answer_lang=msg_lang, answer=msg, topic=related.topic,
            entry_id=related.id, escalation="always", reason=f"{reason}:{category}",
            answer_reviewed=msg_lang in {"de", "en"}, contact="emergency_services",
        )

    def _numbers_first(self, result: AnswerResult, text: str, person_lang: str | None, semantic: SemanticCrisis,
                       mode: Mode, vector: Vectors | None) -> AnswerResult:
        """Unsure between an emergency and an ordinary question: the numbers first, the topic after."""
        if result.status != "answered" or not result.answer:
            # Nothing else to give: the emergency reply as for a confident crisis.
            return self._emergency(text, person_lang, semantic.category, mode, vector)
        _, msg = self.crisis.message(semantic.category, person_lang or "en")
        result.status = "emergency"
        result.reason = f"crisis_possible:{semantic.category}"
        result.answer = f"{msg}\n\n{result.answer}"
        result.escalation = "always"
        return result

    def _related_entry(self, text: str, category: str, mode: Mode, vector: Vectors | None = None) -> Entry:
        """The entry to offer after the emergency numbers (the numbers never wait for this)."""
        allowed = CRISIS_TOPICS[category]
        default_topic = allowed[0]
        fused = self.scores(text, mode, vector).fused(self.thresholds)
        candidates = [i for i, topic in enumerate(self._topic_of) if topic in allowed]
        if not candidates:
            candidates = [i for i, topic in enumerate(self._topic_of) if topic == default_topic] or [0]
        return self.pack.entries[max(candidates, key=lambda i: float(fused[i]))]

    def scores(self, text: str, mode: Mode = "hybrid", vector: Vectors | None = None) -> EntryScores:
        return self.ranker.score(text, dense=mode != "lexical", lexical=mode != "dense", vector=vector)

    def decide(self, scores: EntryScores, thresholds: Thresholds | None = None) -> tuple[Status, list[Candidate]]:
        """Pure decision on per-entry scores; shared by answering and calibration."""
        th = thresholds or self.thresholds
        fused = scores.fused(th)
        order = np.argsort(-fused, kind="stable")
        best = int(order[0])
        best_score = float(fused[best])
        # Candidates: the best entry of each topic, best topics first.
        candidates: list[Candidate] = []
        seen: set[str] = set()
        for i in order[:50]:
            topic = self._topic_of[int(i)]
            if topic in seen:
                continue
            seen.add(topic)
            candidates.append(Candidate(topic, self.pack.entries[int(i)].id, float(fused[int(i)])))
            if len(candidates) == 3:
                break
        runner_up = candidates[1].score if len(candidates) > 1 else -1.0
        if best_score >= th.answer and best_score - runner_up >= th.margin:
            return "answered", candidates
        if best_score >= th.clarify:
            close = [c for c in candidates if best_score - c.score <= th.clarify_window]
            return "clarify", close
        return "escalate", candidates

    def _translated_query(self, text: str, person_lang: str | None) -> str | None:
        """The question in English, for languages the content has no curated answers in (Pashto,
        Somali, Kurdish, Tigrinya …): the embedder and the lexical ranker both know English best."""
        # Dari is read (and embedded) as Farsi: only languages without a curated relative are translated.
        if person_lang is None or any(lang in CURATED_ANSWER_LANGUAGES for lang in fallback_chain(person_lang, ())):
            return None
        try:
            if not self.translator.can_translate(person_lang, QUERY_LANGUAGE):
                return None
            return self.translator.translate(text, person_lang, QUERY_LANGUAGE).text
        except Exception:
            log.exception("answer.query_translation_failed lang=%s", person_lang)
            return None

    def _retrieve(self, text: str, person_lang: str | None, mode: Mode, vector: Vectors | None = None) -> AnswerResult:
        status, candidates = self.decide(self.scores(text, mode, vector))
        # Arabizi and Finglish: the same question in Arabic or Persian script, the better match wins.
        if status != "answered" or candidates[0].score < self.thresholds.answer + self.thresholds.clarify_window:
            script = to_script(text, person_lang)
            if script is not None:
                s_status, s_candidates = self.decide(self.scores(script, mode))
                if s_candidates[0].score > candidates[0].score:
                    status, candidates = s_status, s_candidates
        query_translated = False
        # Only when the question alone is not answered: a confident answer never waits for a model.
        if status != "answered" and (english := self._translated_query(text, person_lang)) is not None:
            t_status, t_candidates = self.decide(self.scores(english, mode))
            if t_candidates[0].score > candidates[0].score:
                status, candidates, query_translated = t_status, t_candidates, True
        result = self._decided(status, candidates, person_lang)
        result.query_translated = query_translated
        return result

    def _decided(self, status: Status, candidates: list[Candidate], person_lang: str | None) -> AnswerResult:
        top = candidates[0]
        if status == "answered":
            entry = self.pack.by_id(top.entry_id)
            return self._answer(entry, person_lang, top.score, candidates)
        if status == "clarify":
            msg = self.messages.get("clarify", person_lang)
            return AnswerResult(
                status="clarify", lang=person_lang, answer_lang=msg.lang, answer=msg.text, topic=top.topic,
                entry_id=top.entry_id, score=top.score, candidates=candidates, reason="ambiguous",
                answer_reviewed=msg.reviewed,
            )
        msg = self.messages.get("no_answer", person_lang)
        return AnswerResult(
            status="escalate", lang=person_lang, answer_lang=msg.lang, answer=msg.text, score=top.score,
            candidates=candidates, reason="no_answer", escalation="offer", answer_reviewed=msg.reviewed,
        )

    def answer_entry(self, entry: Entry, person_lang: str | None) -> AnswerResult:
        """One entry's answer for the person (used when they pick a topic); may run a model."""
        return self._answer(entry, person_lang, 0.0, [])

    def _answer(self, entry: Entry, person_lang: str | None, score: float, candidates: list[Candidate]) -> (
        AnswerResult
    ):
        answer_lang = pick_answer_language(entry, person_lang)
        answer = entry.answers[answer_lang]
        result = AnswerResult(
            status="answered", lang=person_lang, answer_lang=answer_lang, answer=answer.text, topic=entry.topic,
            entry_id=entry.id, score=score, answer_reviewed=entry.checked(answer_lang),
            escalation=entry.escalation, contact=entry.contact, facts_as_of=entry.facts_as_of.isoformat(),
            sources=[{"url": s.url, "title": s.title, "date": s.date} for s in entry.sources],
            candidates=candidates,
        )
        if person_lang is None or answer_lang == person_lang:
            return result
        # Curated text in a close language (Dari → Farsi) beats a machine translation; only the
        # authored originals (English, German) give way to one.
        if answer_lang in DEFAULT_FALLBACK:
            try:
                machine = machine_answer(entry, person_lang, self.translator)
            except Exception:
                # A broken package must not cost the person their answer: the curated fallback follows.
                log.exception("answer.machine_translation_failed lang=%s", person_lang)
                machine = None
            if machine is not None:
                result.answer, result.answer_lang, result.source_lang = machine.text, person_lang, machine.source_lang
                result.machine_translated, result.answer_reviewed = True, False
                result.terms = list(machine.terms)
                return result
            result.translation_unavailable = True
        name = self.messages.language_names.get(answer_lang, answer_lang)
        notice = self.messages.get("fallback_language", person_lang, lang_name=name)
        result.answer = f"{notice.text}\n\n{answer.text}"
        result.language_fallback = True
        return result


def _ranker(embedder: Embedder, pack: KnowledgePack, store: IndexStore | None, cache: VectorCache | None,
            progress: bool = False, save: bool = True) -> tuple[HybridRanker, bool]:
    rows = index_rows(pack)
    if store is None:
        index, rebuilt = FaissIndex(cache.embed(embedder, rows.texts) if cache is not None
                                     else embed_in_batches(embedder, rows.texts, progress=False)), True
    else:
        index, rebuilt = store.build_or_load(embedder, rows.texts, pack.content_hash, progress=progress, cache=cache,
                                             save=save)
        if not rebuilt and cache is not None and save:
            cache.seed(rows.texts, index.vectors())  # an index from before the cache: later publishes reuse it
    return HybridRanker(embedder, index, rows.entry, rows.is_answer, rows.texts, len(pack.entries)), rebuilt


def pick_answer_language(entry: Entry, person_lang: str | None) -> str:
    """The person's language if curated, else the closest curated one, else English, else German."""
    for lang in fallback_chain(person_lang):
        if lang in entry.answers:
            return lang
    return "de"


def pack_name(settings: Settings) -> str:
    return Path(settings.content_dir).name or "pack"


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
