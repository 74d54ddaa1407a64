"""The dialogue service: one incoming message in, exactly one reply out.

It never imports ``telegram``: the Telegram transport, the terminal chat and the tests all hand it
an :class:`IncomingMessage` and an :class:`OutputPort`. Heavy work (embedding, search, database)
runs in worker threads so the event loop stays free for other people's messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.handover.service import HandoverService
from bot.handover.state import ConversationView
from bot.handover.texts import helper_text
from bot.ports import Button, IncomingMessage, OutputPort, Reply
from bot.store import Store
from core.errors import WegweiserError
from knowledge.schema import Entry
from nlu.intents import IntentResult, NluService
from nlu.language import SERVED_LANGUAGES, canonical_language
from retrieval.engine import AnswerEngine, AnswerResult, pick_answer_language
from translations.answers import answer_notes
from translations.messages import engine_messages
from translations.ui import UiCatalog, ui_catalog

log = logging.getLogger(__name__)

# Language picker order: the district's largest groups first; names in their own script.
PICKER_LANGUAGES = ("ar", "fa", "prs", "uk", "ru", "tr", "ps", "ti", "ku", "so", "fr", "en", "de")
COMMANDS = ("start", "language", "help", "human", "end", "privacy", "delete")
# Commands a person may use while talking to a human; everything else they type is passed on.
CONVERSATION_COMMANDS = {"start", "language", "help", "privacy", "delete"}
MAX_TEXT_CHARS = 4096
# Intents act only when the classifier is sure and the message is short; everything else goes to
# retrieval, whose thresholds were calibrated on real-looking questions.
INTENT_MIN_CONFIDENCE = 0.6
SMALLTALK_MAX_WORDS = 5
ACTION_MAX_WORDS = 12
# The last question per person, in memory only, so that a 👎 or "none of these" reaches the staff
# review queue with the question it was about (a restart forgets them; nothing links them to anyone).
RECENT_QUESTIONS = 5000


@dataclass(frozen=True)
class Recent:
    text: str
    lang: str | None
    entry_id: str | None
    review_row: int | None = None


@dataclass(frozen=True)
class DialogueSettings:
    district: str = "Bautzen"
    retention_days: int = 30
    allow_groups: bool = False
    flood_messages: int = 8  # at most this many messages …
    flood_window_s: float = 30.0  # … per person within this many seconds


def entry_code(entry_id: str) -> str:
    """A short, stable code for callback data (Telegram allows 64 bytes)."""
    return hashlib.sha1(entry_id.encode(), usedforsecurity=False).hexdigest()[:10]


class FloodGuard:
    """Sliding window per person; the first message over the limit gets one kind notice."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._window, self._clock = limit, window_s, clock
        self._seen: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    def check(self, user_key: str) -> str:
        """'ok', 'warn' (first over the limit) or 'drop' (already warned in this window)."""
        now = self._clock()
        times = self._seen.setdefault(user_key, deque())
        while times and now - times[0] > self._window:
            times.popleft()
        times.append(now)
        if len(times) <= self._limit:
            return "ok"
        if now - self._warned.get(user_key, -1e9) > self._window:
            self._warned[user_key] = now
            return "warn"
        return "drop"


class DialogueService:
    def __init__(
        self,
        engine: AnswerEngine,
        store: Store,
        settings: DialogueSettings | None = None,
        ui: UiCatalog | None = None,
        nlu: NluService | None = None,
        handover: HandoverService | None = None,
    ) -> None:
        self.engine = engine
        self.nlu = nlu
        self.handover = handover
        self.store = store
        self.settings = settings or DialogueSettings()
        self.ui = ui or ui_catalog()
        self.flood = FloodGuard(self.settings.flood_messages, self.settings.flood_window_s)
        self._language_names = engine_messages().language_names
        self._recent: OrderedDict[str, Recent] = OrderedDict()

    @property
    def engine(self) -> AnswerEngine:
        return self._engine

    @engine.setter
    def engine(self, engine: AnswerEngine) -> None:
        """Swapped by the content reloader after a publish; set on the event loop, between messages."""
        self._engine = engine
        self._entries = {entry_code(e.id): e for e in engine.pack.entries}

    def _remember(self, user_key: str, recent: Recent) -> None:
        self._recent[user_key] = recent
        self._recent.move_to_end(user_key)
        while len(self._recent) > RECENT_QUESTIONS:
            self._recent.popitem(last=False)

    async def _record(self, lang: str | None, topic: str | None, status: str) -> None:
        """Counts for the console; a failure here must never cost the person their reply."""
        try:
            await asyncio.to_thread(self.store.add_event, lang, topic, status)
        except Exception:
            log.exception("dialogue.record_failed")

    # ------------------------------------------------------------------ helpers
    def t(self, lang: str | None, key: str, **values: object) -> str:
        return self.ui.get(lang, key, **values)

    async def _chosen_language(self, msg: IncomingMessage) -> str | None:
        """The language the person picked (always wins), if any."""
        state = await asyncio.to_thread(self.store.person, msg.user_key)
        return state.language if state and state.language else None

    def picker(self, hint: str | None) -> Reply:
        first = canonical_language(hint)
        order = ([first] if first in PICKER_LANGUAGES else []) + [lang for lang in PICKER_LANGUAGES if lang != first]
        buttons = [
            Button(("✓ " if lang == first else "") + self._language_names[lang], f"lang:{lang}") for lang in order
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        # Before a choice, the prompt speaks the client's language and English.
        prompt = self.t(first, "start.choose_language")
        if first not in (None, "en"):
            prompt += "\n" + self.t("en", "start.choose_language")
        return Reply(prompt, rows, first)

    # ------------------------------------------------------------------ entry point
    async def handle(self, msg: IncomingMessage, out: OutputPort) -> None:
        """Answer one message with exactly one reply (a flood gets one notice per window), or pass it on
        to the person's helper with a quiet acknowledgement."""
        if self._handover_on and await self._helper_side(msg):
            return
        chosen = await self._chosen_language(msg)
        # Interface language: the person's choice, else their Telegram language.
        lang = chosen or canonical_language(msg.language_hint)
        if not msg.private and not self.settings.allow_groups:
            await out.send(msg.chat, Reply(self.t(lang, "group.private_only"), lang=lang))
            return
        verdict = self.flood.check(msg.user_key)
        if verdict != "ok":
            if verdict == "warn":
                await out.send(msg.chat, Reply(self.t(lang, "input.flood"), lang=lang))
            log.info("dialogue.flood verdict=%s", verdict)
            return
        reply: Reply | None
        try:
            reply = await self._dispatch(msg, lang, chosen)
        except Exception:
            # Whatever broke, the person still gets an answer and a way to a human.
            log.exception("dialogue.failed kind=%s", msg.kind)
            reply = Reply(self.t(lang, "no_answer.body"), [[Button(self.t(lang, "button.human"), "human")]], lang)
        if reply is not None:
            await out.send(msg.chat, reply)

    # ------------------------------------------------------------------ hand-over
    @property
    def _handover_on(self) -> bool:
        return self.handover is not None and self.handover.enabled

    async def _helper_side(self, msg: IncomingMessage) -> bool:
        """Staff group, /join, and the private chats of staff and mediators; True when handled here."""
        ho = self.handover
        assert ho is not None
        reply: Reply | None = None
        in_staff_group = ho.settings.staff_chat is not None and msg.chat == ho.settings.staff_chat
        try:
            if in_staff_group:
                helper = await asyncio.to_thread(ho.registry.by_key, msg.user_key)
                reply = await ho.from_staff_group(msg, helper)
            elif msg.kind == "command" and (msg.command or "") == "join":
                # Guessing codes is slowed down like any flood.
                if self.flood.check(msg.user_key) != "ok":
                    return True
                reply = await ho.join(msg, (msg.text or "").partition(" ")[2].strip())
            elif msg.private and (helper := await asyncio.to_thread(ho.registry.by_key, msg.user_key)) is not None:
                reply = await ho.from_helper(msg, helper)
            else:
                return False
        except Exception:
            # A helper, too, gets an answer when something inside breaks.
            log.exception("dialogue.helper_side_failed kind=%s", msg.kind)
            reply = Reply(helper_text("failed"), lang="de")
        if reply is not None:
            try:
                await ho.port.deliver(msg.chat, reply, thread=msg.thread_id)
            except WegweiserError as e:
                log.warning("dialogue.helper_reply_failed error=%s", type(e).__name__)
        return True

    async def _offer_person(self, msg: IncomingMessage, lang: str | None, topic: str | None, reason: str,
                            question: str | None = None) -> Reply:
        """The consent prompt (what will be shared), or the honest "not possible yet" without a hand-over."""
        lang = lang or "en"
        if not self._handover_on or self.handover is None:
            return Reply(self.t(lang, "human.ack"), lang=lang)
        return await self.handover.prompt(msg, lang, topic, reason, question)

    async def _in_conversation(self, msg: IncomingMessage, conv: ConversationView, lang: str | None) -> Reply | None:
        """A person who is talking to (or waiting for) a human: their messages go there."""
        ho = self.handover
        assert ho is not None
        person_lang = conv.lang
        if msg.kind == "command":
            cmd = (msg.command or "").lower()
            if cmd == "end":
                return await ho.end_by_person(msg, person_lang)
            if cmd == "human":
                return Reply(self.t(person_lang, "handover.already_open"), lang=person_lang)
            if cmd in CONVERSATION_COMMANDS:
                return await self._command(msg, lang)
            # Staff commands such as /close are not for people asking for help.
            return Reply(self.t(person_lang, "input.unknown_command"), lang=person_lang)
        if msg.kind == "callback":
            if (msg.callback_data or "").startswith(("human", "ho:")):
                return Reply(self.t(person_lang, "handover.already_open"), lang=person_lang)
            return await self._callback(msg, lang)
        if msg.kind == "edited":
            return Reply(self.t(person_lang, "input.edited"), lang=person_lang)
        try:
            crisis = await asyncio.to_thread(self.engine.crisis_category, msg.text or "")
        except Exception:
            # The lexicon alone, rather than a message that never reaches the helper.
            log.exception("dialogue.crisis_check_failed")
            match = self.engine.crisis.check(msg.text or "")
            crisis = match.category if match else None
        relayed = await ho.from_person(msg, conv, person_lang)
        if crisis is not None:
            # A helper may not be reading right now: the numbers go out at once, and staff are alerted.
            await ho.alert_emergency(msg, person_lang, crisis)
            _, numbers = self.engine.crisis.message(crisis, person_lang)
            return Reply(numbers, lang=person_lang)
        return relayed

    # ------------------------------------------------------------------ dispatch
    async def _dispatch(self, msg: IncomingMessage, lang: str | None, chosen: str | None) -> Reply | None:
        if self._handover_on and self.handover is not None and msg.private:
            conv = await asyncio.to_thread(self.handover.open_conversation, msg.user_key)
            if conv is not None:
                return await self._in_conversation(msg, conv, lang)
        if msg.kind == "command":
            return await self._command(msg, lang)
        if msg.kind == "callback":
            return await self._callback(msg, lang)
        if msg.kind == "text":
            return await self._question(msg, lang, chosen)
        key = {
            "voice": "input.voice", "photo": "input.photo", "sticker": "input.sticker",
            "location": "input.location", "document": "input.document", "edited": "input.edited",
        }.get(msg.kind, "input.unsupported")
        return Reply(self.t(lang, key), lang=lang)

    # ------------------------------------------------------------------ commands
    async def _command(self, msg: IncomingMessage, lang: str | None) -> Reply:
        cmd = (msg.command or "").lower()
        if cmd in {"start", "language"}:
            return self.picker(lang if cmd == "language" else (lang or msg.language_hint))
        if cmd == "help":
            return Reply(self.t(lang, "help.body"), lang=lang)
        if cmd == "privacy":
            return Reply(self.t(lang, "privacy.body", days=self.settings.retention_days), lang=lang)
        if cmd == "human":
            return await self._offer_person(msg, lang, None, "requested")
        if cmd == "end":
            return Reply(self.t(lang, "handover.not_open"), lang=lang)
        if cmd == "delete":
            buttons = [[Button(self.t(lang, "delete.confirm_button"), "del:yes"),
                        Button(self.t(lang, "delete.cancel_button"), "del:no")]]
            return Reply(self.t(lang, "delete.confirm"), buttons, lang)
        return Reply(self.t(lang, "input.unknown_command"), lang=lang)

    # ------------------------------------------------------------------ buttons
    async def _callback(self, msg: IncomingMessage, lang: str | None) -> Reply:
        data = msg.callback_data or ""
        kind, _, arg = data.partition(":")
        if kind == "lang" and arg in SERVED_LANGUAGES:
            await asyncio.to_thread(self.store.set_language, msg.user_key, arg)
            text = "\n\n".join(
                [self.t(arg, "language.changed", language=self._language_names[arg]),
                 self.t(arg, "welcome.body", district=self.settings.district),
                 self.t(arg, "privacy.body", days=self.settings.retention_days)]
            )
            return Reply(text, [[Button(self.t(arg, "privacy.accept_button"), "ok:privacy")]], arg)
        if data == "ok:privacy":
            await asyncio.to_thread(self.store.set_consent, msg.user_key)
            return Reply(self.t(lang, "help.body"), lang=lang)
        if kind in {"up", "down"} and arg in self._entries:
            helpful = kind == "up"
            entry_id = self._entries[arg].id
            await asyncio.to_thread(self.store.add_feedback, msg.user_key, entry_id, helpful)
            recent = self._recent.pop(msg.user_key, None)
            if not helpful and recent is not None and recent.entry_id == entry_id:
                await asyncio.to_thread(self.store.add_unanswered, recent.text, recent.lang, "not_helpful", entry_id)
            if helpful:
                return Reply(self.t(lang, "feedback.thanks"), lang=lang)
            return Reply(self.t(lang, "feedback.sorry"), [[Button(self.t(lang, "button.human"), "human")]], lang)
        if kind == "de" and arg in self._entries:
            entry = self._entries[arg]
            return Reply(entry.answers["de"].text + "\n\n" + self._source_line(entry, "de"), lang="de")
        if kind == "topic" and arg in self._entries:
            # May machine-translate the answer (a model call): off the event loop.
            picked = await asyncio.to_thread(self.engine.answer_entry, self._entries[arg], lang)
            return self._answer_reply(self._entries[arg], lang, picked)
        if kind == "human":
            # "human:<entry>" after an answer, "human:e:<entry>" after the emergency numbers.
            emergency = arg.startswith("e:")
            about = self._entries.get(arg.removeprefix("e:"))
            reason = "emergency" if emergency else (
                "always" if about is not None and about.escalation == "always" else "requested")
            return await self._offer_person(msg, lang, about.topic if about else None, reason)
        if data == "none":
            recent = self._recent.pop(msg.user_key, None)
            if recent is not None and recent.review_row is not None:
                await asyncio.to_thread(self.store.set_review_kind, recent.review_row, "none_of_these")
            return await self._offer_person(msg, lang, None, "unanswered")
        if kind == "ho" and arg in {"y", "w", "n"} and self._handover_on and self.handover is not None:
            return await self.handover.consent(msg, lang or "en", arg)
        if kind == "cl" and self._handover_on and self.handover is not None:
            verdict, _, label = arg.partition(":")
            return await self.handover.feedback(msg, lang or "en", label, verdict == "y")
        if data == "del:yes":
            self._recent.pop(msg.user_key, None)
            if self.handover is not None:
                await self.handover.forget_person(msg.user_key)
            deleted = await asyncio.to_thread(self.store.delete_person, msg.user_key)
            # Unanswered questions carry no link to anyone, so none can be counted here.
            return Reply(self.t(lang, "delete.done", feedback=deleted.feedback, questions=0), lang=lang)
        if data == "del:no":
            return Reply(self.t(lang, "delete.cancelled"), lang=lang)
        # Forged or outdated button data: say nothing happened rather than guess.
        return Reply(self.t(lang, "input.unknown_command"), lang=lang)

    # ------------------------------------------------------------------ questions
    async def _question(self, msg: IncomingMessage, lang: str | None, chosen: str | None) -> Reply:
        text = msg.text or ""
        if msg.text and msg.text.startswith("/"):
            return Reply(self.t(lang, "input.unknown_command"), lang=lang)
        # Without a choice the text's own language decides (Telegram's language is only a prior).
        # The engine runs first: its crisis checks must win over any intent ("I need someone to talk
        # to, I have the pills here" is not a request for a person).
        result: AnswerResult = await asyncio.to_thread(self.engine.ask, text, chosen, msg.language_hint)
        if result.status != "emergency":
            by_intent = await self._intent_reply(msg, text, chosen)
            if by_intent is not None:
                return by_intent
        person_lang = result.lang or lang
        await self._record(person_lang, result.topic, result.status)
        prefix = self.t(person_lang, "input.too_long") + "\n\n" if len(text) > MAX_TEXT_CHARS else ""
        possible = result.status == "emergency" and (result.reason or "").startswith("crisis_possible")
        if possible and result.entry_id and (result.machine_translated or result.answer_lang
                                             in self.engine.pack.by_id(result.entry_id).answers):
            # Unsure: the numbers come first inside the answer, which keeps its labels and buttons;
            # staff are not alerted for a maybe.
            entry = self.engine.pack.by_id(result.entry_id)
            reply = self._answer_reply(entry, person_lang, result)
            return Reply(prefix + reply.text, reply.buttons, reply.lang)
        if result.status == "emergency":
            if self._handover_on and self.handover is not None:
                category = (result.reason or "").partition(":")[2] or None
                await self.handover.alert_emergency(msg, person_lang or "en", category)
            code = entry_code(result.entry_id) if result.entry_id else ""
            return Reply(prefix + (result.answer or ""),
                         [[Button(self.t(person_lang, "button.human"), f"human:e:{code}")]], person_lang)
        if result.reason == "empty":
            return Reply(self.t(person_lang, "input.empty"), lang=person_lang)
        if result.status == "answered" and result.entry_id:
            entry = self.engine.pack.by_id(result.entry_id)
            self._remember(msg.user_key, Recent(text[:MAX_TEXT_CHARS], person_lang, entry.id))
            reply = self._answer_reply(entry, person_lang, result)
            return Reply(prefix + reply.text, reply.buttons, reply.lang)
        if result.status == "clarify":
            rows = [[Button(self.t(person_lang, f"topic.{c.topic}"), f"topic:{entry_code(c.entry_id)}")]
                    for c in result.candidates[:3]]
            rows.append([Button(self.t(person_lang, "button.none_of_these"), "none")])
            row = await asyncio.to_thread(self.store.add_unanswered, text[:MAX_TEXT_CHARS], person_lang, "clarify",
                                          result.entry_id)
            self._remember(msg.user_key, Recent(text[:MAX_TEXT_CHARS], person_lang, result.entry_id, row))
            return Reply(prefix + self.t(person_lang, "clarify.prompt"), rows, person_lang)
        if result.reason == "requested":
            return await self._offer_person(msg, person_lang, None, "requested", text[:1000])
        # No reliable answer: keep the question (text only, no identity) so staff can add one.
        await asyncio.to_thread(self.store.add_unanswered, text[:MAX_TEXT_CHARS], person_lang)
        return Reply(prefix + self.t(person_lang, "no_answer.body"),
                     [[Button(self.t(person_lang, "button.human"), "human")]], person_lang)

    async def _intent_reply(self, msg: IncomingMessage, text: str, chosen: str | None) -> Reply | None:
        """Greetings, thanks, goodbyes, language changes, deletion and person requests by intent;
        None hands the message to retrieval (questions, complaints, emergencies, anything unsure)."""
        if self.nlu is None or not text.strip():
            return None
        try:
            intent: IntentResult = await asyncio.to_thread(self.nlu.parse, text)
        except Exception:
            log.exception("dialogue.nlu_failed")
            return None
        words = len(text.split())
        if intent.intent == "emergency" or intent.confidence < INTENT_MIN_CONFIDENCE or words > ACTION_MAX_WORDS:
            return None
        reply_lang = chosen or self.engine.languages.identify(text, msg.language_hint).lang
        if intent.intent in {"greet", "thanks", "goodbye"} and words <= SMALLTALK_MAX_WORDS:
            return Reply(self.t(reply_lang, f"smalltalk.{intent.intent}"), lang=reply_lang)
        if intent.intent == "change_language" and (code := intent.entity("language")) in SERVED_LANGUAGES:
            return await self._callback(
                IncomingMessage(msg.user_key, msg.chat, "callback", callback_data=f"lang:{code}"), reply_lang
            )
        if intent.intent == "delete_my_data":
            return await self._command(
                IncomingMessage(msg.user_key, msg.chat, "command", command="delete"), reply_lang
            )
        if intent.intent == "ask_human":
            return await self._offer_person(msg, reply_lang, None, "requested", text[:1000])
        return None

    def _source_line(self, entry: Entry, lang: str | None) -> str:
        source = entry.sources[0]
        return self.t(lang, "answer.source", source=source.title, date=entry.facts_as_of.strftime("%d.%m.%Y"))

    def _answer_reply(self, entry: Entry, lang: str | None, result: AnswerResult | None = None) -> Reply:
        if result is not None and result.answer:
            text, answer_lang = result.answer, result.answer_lang or "de"
        else:
            answer_lang = pick_answer_language(entry, lang)
            text = entry.answers[answer_lang].text
        parts = [text]
        machine = result is not None and result.machine_translated
        if machine and result is not None:
            parts.extend(answer_notes(self.ui, lang, result.terms))
        elif not entry.checked(answer_lang):
            parts.append("ⓘ " + self.t(lang, "answer.label.unreviewed"))
        if result is not None and result.translation_unavailable:
            parts.append("ⓘ " + self.t(lang, "answer.no_translation"))
        parts.append(self._source_line(entry, lang) + " · " + self.t(lang, "answer.general_info"))
        if entry.escalation == "always":
            # Deadlines, deportation, Dublin: the answer alone is not enough, so a person is offered at once.
            parts.append(self.t(lang, "handover.sensitive"))
        code = entry_code(entry.id)
        rows = [
            [Button(self.t(lang, "button.helpful"), f"up:{code}"), Button(self.t(lang, "button.not_helpful"),
                                                                          f"down:{code}")],
            [Button(self.t(lang, "button.human"), f"human:{code}")],
        ]
        if answer_lang != "de":
            label = "button.show_original" if machine else "button.show_german"
            rows[1].append(Button(self.t(lang, label), f"de:{code}"))
        return Reply("\n\n".join(parts), rows, lang)
