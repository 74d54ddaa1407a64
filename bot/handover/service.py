"""The hand-over service: from "I need a person" to a relayed conversation and back.

Flow: a trigger (the person asks, no answer after a clarification, a sensitive topic, an
emergency) → the person sees what will be shared and agrees → matching: a language mediator who
speaks the language, is available now, is cleared for the topic and is under their caps, least
recently assigned first; offers go out one at a time and time out → otherwise the team responsible
for the topic, in a forum topic of the staff group, with machine translation both ways.

State lives in the database (``bot.handover.models``): a restart loses nothing. Every relayed
message is an outbox row first and a mapping after delivery; its unique source id makes a repeated
Telegram update harmless. State transitions run under one lock in a worker thread, so fifty people
asking at once cannot push a mediator over their cap. The service never imports ``telegram``; it
talks to a :class:`~bot.ports.RelayPort`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from babel import Locale
from babel.dates import format_datetime
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handover.models import AuditEvent, Conversation, Helper, Offer, RelayMessage, utcnow
from bot.handover.registry import HelperView, InviteSpec, Registry
from bot.handover.teams import Team, Teams
from bot.handover.texts import helper_text
from bot.ports import Button, IncomingMessage, RelayPort, Reply
from bot.store import Store
from core.errors import DeliveryError, RecipientGoneError, ThreadGoneError, TranslationUnavailable
from translations.messages import engine_messages
from translations.translator import NoTranslator, Translator
from translations.ui import UiCatalog

log = logging.getLogger(__name__)

OPEN_STATES = ("consent", "offering", "queued", "active")
WAITING_STATES = ("offering", "queued")
LABEL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_RESOLUTION_CHARS = 500


@dataclass(frozen=True)
class HandoverSettings:
    staff_chat: str | None = None  # the staff supergroup (forum) id; None: no staff reachable via the bot
    offer_timeout_s: float = 180.0
    sweep_interval_s: float = 5.0
    queue_max_wait_s: float = 1800.0  # a person waits at most this long for a mediator, then staff take over
    consent_ttl_s: float = 24 * 3600.0  # an unanswered consent prompt is forgotten after this
    emergency_alert_every_s: float = 600.0  # one alert per person in this window


@dataclass(frozen=True)
class ConversationView:
    id: int
    label: str
    state: str
    mode: str | None
    lang: str
    topic: str | None
    helper_id: int | None
    team: str | None
    thread_id: int | None
    person_chat: str | None
    translated: bool

    @classmethod
    def of(cls, c: Conversation) -> ConversationView:
        return cls(c.id, c.label, c.state, c.mode, c.lang, c.topic, c.helper_id, c.team, c.thread_id, c.person_chat,
                   c.translated)


@dataclass(frozen=True)
class Routed:
    """The outcome of matching one conversation."""

    kind: str  # "offer" | "queued" | "staff" | "none"
    conversation: ConversationView
    helper: HelperView | None = None
    offer_id: int | None = None
    position: int = 0


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class HandoverService:
    def __init__(
        self,
        store: Store,
        teams: Teams,
        ui: UiCatalog,
        settings: HandoverSettings | None = None,
        translator: Translator | None = None,
        clock: Callable[[], datetime] = utcnow,
        known_topics: set[str] | None = None,
    ) -> None:
        self.store = store
        self.teams = teams
        self.ui = ui
        self.settings = settings or HandoverSettings()
        self.translator: Translator = translator or NoTranslator()
        self.clock = clock
        self.registry = Registry(store, teams.timezone, known_topics, set(teams.teams))
        self._session = store.sessions
        self._lock = threading.Lock()  # every state transition of offers and conversations
        self._flush_locks: dict[int, asyncio.Lock] = {}
        self._alerted: dict[str, datetime] = {}
        self._port: RelayPort | None = None
        self._language_names = engine_messages().language_names

    @property
    def enabled(self) -> bool:
        return self._port is not None

    def bind(self, port: RelayPort) -> None:
        """The channel the service delivers through (set by the transport at start)."""
        self._port = port

    @property
    def port(self) -> RelayPort:
        if self._port is None:
            raise DeliveryError("the hand-over service has no channel bound")
        return self._port

    # ================================================================== small helpers
    def t(self, lang: str | None, key: str, **values: object) -> str:
        return self.ui.get(lang, key, **values)

    def language_name(self, lang: str, in_lang: str | None = None) -> str:
        if in_lang is None:
            return self._language_names.get(lang, lang)
        try:
            return str(Locale.parse(in_lang).languages.get(lang) or lang)
        except (ValueError, TypeError):
            return lang

    def _topic_label(self, topic: str | None, lang: str | None) -> str:
        return self.t(lang, f"topic.{topic}") if topic else self.t(lang, "handover.topic_general")

    def _when(self, moment: datetime, lang: str) -> str:
        local = moment.astimezone(self.teams.teams[self.teams.default_team].hours.tz)
        for locale in (lang, "en"):
            try:
                return format_datetime(local, "EEEE, d MMMM, HH:mm", locale=locale)
            except (ValueError, TypeError, LookupError):
                continue
        return local.strftime("%A %d.%m. %H:%M")

    def _audit(self, s: Session, actor: str, action: str, conversation_id: int | None,
               detail: str | None = None) -> None:
        s.add(AuditEvent(actor=actor, action=action, conversation_id=conversation_id, detail=detail,
                         at=self.clock()))

    def _new_label(self, s: Session) -> str:
        while True:
            label = "#" + "".join(secrets.choice(LABEL_ALPHABET) for _ in range(5))
            if s.scalar(select(Conversation.id).where(Conversation.label == label)) is None:
                return label

    # ================================================================== person side
    def open_conversation(self, person_key: str) -> ConversationView | None:
        with self._session() as s:
            c = s.scalar(select(Conversation).where(Conversation.person_key == person_key,
                                                    Conversation.state.in_(OPEN_STATES[1:]))
                         .order_by(Conversation.id.desc()))
            return ConversationView.of(c) if c else None

    async def prompt(self, msg: IncomingMessage, lang: str, topic: str | None, reason: str,
                     question: str | None) -> Reply:
        """What will be shared, and the buttons to agree; the request waits in state ``consent``."""
        if not self.settings.staff_chat and not await asyncio.to_thread(self._any_mediator):
            return Reply(self.t(lang, "human.ack"), lang=lang)
        existing = await asyncio.to_thread(self.open_conversation, msg.user_key)
        if existing is not None:
            return Reply(self.t(lang, "handover.already_open"), lang=lang)
        await asyncio.to_thread(self._create_consent, msg.user_key, msg.chat, lang, topic, reason, question)
        buttons = [[Button(self.t(lang, "button.connect_yes"), "ho:y")],
                   [Button(self.t(lang, "button.connect_woman"), "ho:w")],
                   [Button(self.t(lang, "button.connect_no"), "ho:n")]]
        return Reply(self.t(lang, "handover.consent", topic=self._topic_label(topic, lang)), buttons, lang)

    def _any_mediator(self) -> bool:
        with self._session() as s:
            return s.scalar(select(Helper.id).where(Helper.role == "mediator", Helper.paused.is_(False))
                            .limit(1)) is not None

    def _create_consent(self, person_key: str, chat: str, lang: str, topic: str | None, reason: str,
                        question: str | None) -> None:
        with self._lock, self._session.begin() as s:
            # One pending prompt per person: a newer request replaces the older one.
            s.execute(delete(Conversation).where(Conversation.person_key == person_key,
                                                 Conversation.state == "consent"))
            s.add(Conversation(label=self._new_label(s), person_key=person_key, person_chat=chat, lang=lang,
                               topic=topic, reason=reason, state="consent", translated=False,
                               opening_text=(question or "")[:1000] or None, created_at=self.clock()))

    async def consent(self, msg: IncomingMessage, lang: str, choice: str) -> Reply:
        """``ho:y`` / ``ho:w`` (a woman, please) / ``ho:n`` on the person's own pending request."""
        if choice == "n":
            removed = await asyncio.to_thread(self._drop_consent, msg.user_key)
            return Reply(self.t(lang, "handover.declined" if removed else "handover.not_open"), lang=lang)
        conv = await asyncio.to_thread(self._accept_consent, msg.user_key, "f" if choice == "w" else None)
        if conv is None:
            existing = await asyncio.to_thread(self.open_conversation, msg.user_key)
            return Reply(self.t(lang, "handover.already_open" if existing else "handover.not_open"), lang=lang)
        routed = await self.route(conv.id)
        return self._status_reply(routed, lang)

    def _drop_consent(self, person_key: str) -> bool:
        with self._lock, self._session.begin() as s:
            result = s.execute(delete(Conversation).where(Conversation.person_key == person_key,
                                                          Conversation.state == "consent"))
            return bool(getattr(result, "rowcount", 0))

    def _accept_consent(self, person_key: str, want_gender: str | None) -> ConversationView | None:
        with self._lock, self._session.begin() as s:
            c = s.scalar(select(Conversation).where(Conversation.person_key == person_key,
                                                    Conversation.state == "consent"))
            if c is None:
                return None
            c.state, c.want_gender, c.requested_at = "offering", want_gender, self.clock()
            self._audit(s, "person", "consented", c.id, c.reason)
            return ConversationView.of(c)

    def _status_reply(self, routed: Routed, lang: str) -> Reply:
        conv = routed.conversation
        language = self.language_name(conv.lang, lang) if lang != conv.lang else self.language_name(conv.lang)
        if routed.kind == "offer":
            minutes = max(1, round(self.settings.offer_timeout_s / 60))
            return Reply(self.t(lang, "handover.offering", language=language, minutes=minutes), lang=lang)
        if routed.kind == "queued":
            return Reply(self.t(lang, "handover.queued", language=language, position=routed.position), lang=lang)
        if routed.kind == "staff":
            return Reply(self._team_status(conv, lang, routed.position), lang=lang)
        return Reply(self.t(lang, "human.ack"), lang=lang)

    def _team_status(self, conv: ConversationView, lang: str, position: int) -> str:
        team = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        now = self.clock()
        if team.hours.is_open(now):
            text = self.t(lang, "handover.with_team", team=team.name(lang), position=position)
        else:
            opening = team.hours.next_opening(now) or now
            text = self.t(lang, "handover.out_of_hours", team=team.name(lang), when=self._when(opening, lang))
        if conv.translated:
            text += "\n\n" + self.t(lang, "handover.translated_note")
        return text

    async def from_person(self, msg: IncomingMessage, conv: ConversationView, lang: str) -> Reply | None:
        """A message of a person in an open conversation: relayed (acknowledged quietly) or kept until
        someone takes over (a status reply). None means: acknowledged, no reply needed."""
        if msg.message_id is None:
            return Reply(self.t(lang, "input.unsupported"), lang=lang)
        text = msg.text if msg.kind in ("text", "command") else None
        stored = await asyncio.to_thread(self._enqueue, conv.id, "in", msg.chat, msg.message_id, text)
        if not stored:
            return None  # the same Telegram update again (e.g. after a restart): already handled
        if conv.state == "active":
            await self.flush(conv.id)
            await self._ack(msg)
            return None
        position = await asyncio.to_thread(self._position, conv.id)
        return Reply(self.t(lang, "handover.waiting", position=position), lang=lang)

    async def _ack(self, msg: IncomingMessage) -> None:
        if msg.message_id is None:
            return
        try:
            await self.port.acknowledge(msg.chat, msg.message_id)
        except DeliveryError as e:  # a missing reaction costs nothing
            log.info("handover.ack_failed error=%s", type(e).__name__)

    async def end_by_person(self, msg: IncomingMessage, lang: str) -> Reply:
        conv = await asyncio.to_thread(self.open_conversation, msg.user_key)
        if conv is None:
            return Reply(self.t(lang, "handover.not_open"), lang=lang)
        await self._close(conv.id, "person", helper_text("closed_by_person"), ask_person=False)
        return Reply(self.t(lang, "handover.ended"), lang=lang)

    async def feedback(self, msg: IncomingMessage, lang: str, label: str, helped: bool) -> Reply:
        ok = await asyncio.to_thread(self._store_feedback, msg.user_key, label, helped)
        if not ok:
            return Reply(self.t(lang, "input.unknown_command"), lang=lang)
        return Reply(self.t(lang, "feedback.thanks" if helped else "feedback.sorry"), lang=lang)

    def _store_feedback(self, person_key: str, label: str, helped: bool) -> bool:
        with self._session.begin() as s:
            c = s.scalar(select(Conversation).where(Conversation.label == label))
            if c is None or c.person_key != person_key or c.state != "closed" or c.helped is not None:
                return False
            c.helped = helped
            c.person_chat = None  # nothing more to tell the person: forget where they were
            self._audit(s, "person", "feedback", c.id, "helped" if helped else "not helped")
            return True

    async def forget_person(self, person_key: str) -> int:
        """/delete: open conversations are closed (the helper is told), then every row of the person goes."""
        conv = await asyncio.to_thread(self.open_conversation, person_key)
        if conv is not None:
            await self._close(conv.id, "person", helper_text("deleted_by_person"), ask_person=False)
        return await asyncio.to_thread(self._delete_person_rows, person_key)

    def _delete_person_rows(self, person_key: str) -> int:
        with self._lock, self._session.begin() as s:
            ids = list(s.scalars(select(Conversation.id).where(Conversation.person_key == person_key)))
            if not ids:
                return 0
            s.execute(delete(RelayMessage).where(RelayMessage.conversation_id.in_(ids)))
            s.execute(delete(Offer).where(Offer.conversation_id.in_(ids)))
            s.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            for cid in ids:
                self._audit(s, "person", "deleted", cid)
            return len(ids)

    async def alert_emergency(self, msg: IncomingMessage, lang: str, category: str | None) -> None:
        """Staff on duty learn that someone may be in danger: language and kind only, never the text."""
        if not self.settings.staff_chat or self._port is None:
            return
        now = self.clock()
        last = self._alerted.get(msg.user_key)
        if last is not None and (now - last).total_seconds() < self.settings.emergency_alert_every_s:
            return
        self._alerted[msg.user_key] = now
        text = helper_text("emergency_alert", language=self.language_name(lang, "de"), category=category or "?")
        try:
            await self.port.deliver(self.settings.staff_chat, Reply(text, lang="de"))
        except DeliveryError:
            log.exception("handover.emergency_alert_failed")
        await asyncio.to_thread(self._audit_only, "system", "emergency_alert", None, category)

    def _audit_only(self, actor: str, action: str, conversation_id: int | None, detail: str | None = None) -> None:
        with self._session.begin() as s:
            self._audit(s, actor, action, conversation_id, detail)

    # ================================================================== matching
    async def route(self, conversation_id: int, exclude_mediators: bool = False) -> Routed:
        """Match one waiting conversation and carry the outcome out (offer message or staff topic)."""
        routed = await asyncio.to_thread(self._match, conversation_id, exclude_mediators)
        await self._carry_out(routed)
        return routed

    async def _carry_out(self, routed: Routed) -> None:
        if routed.kind == "offer" and routed.helper is not None and routed.offer_id is not None:
            await self._send_offer(routed)
        elif routed.kind == "staff":
            await self._open_staff_topic(routed.conversation.id)

    def _match(self, conversation_id: int, exclude_mediators: bool = False) -> Routed:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                return Routed("none", _missing(conversation_id))
            return self._match_locked(s, c, self.clock(), exclude_mediators)

    def _match_first_queued(self) -> Routed | None:
        """The first person in the queue whom someone can take now (or whose wait is over), matched
        atomically, so that a mediator who becomes free goes to the head of the line."""
        now = self.clock()
        with self._lock, self._session.begin() as s:
            for c in s.scalars(select(Conversation).where(Conversation.state == "queued")
                               .order_by(Conversation.queue_seq)):
                routed = self._match_locked(s, c, now)
                if routed.kind in ("offer", "staff"):
                    return routed
            return None

    def _match_locked(self, s: Session, c: Conversation, now: datetime, exclude_mediators: bool = False) -> Routed:
        if c.state not in WAITING_STATES:
            return Routed("none", ConversationView.of(c))
        if s.scalar(select(Offer.id).where(Offer.conversation_id == c.id, Offer.state == "pending")) is not None:
            # Already offered to someone (a concurrent sweep or close got here first): one offer at a time.
            return Routed("none", ConversationView.of(c))
        if not exclude_mediators:
            candidates, capable = self._candidates(s, c, now)
            if candidates:
                helper = candidates[0]
                offer = Offer(conversation_id=c.id, helper_id=helper.id, state="pending", created_at=now,
                              expires_at=now + timedelta(seconds=self.settings.offer_timeout_s))
                s.add(offer)
                # Rotation: an offer counts as an assignment, so the next request goes to someone else.
                helper.last_assigned_at = now
                c.state = "offering"
                s.flush()
                self._audit(s, f"helper:{helper.id}", "offered", c.id)
                return Routed("offer", ConversationView.of(c), HelperView.of(helper), offer.id)
            waited = (now - (_aware(c.requested_at) or now)).total_seconds()
            if capable and waited < self.settings.queue_max_wait_s:
                return self._enqueue_conversation(s, c)
        if not self.settings.staff_chat:
            return self._enqueue_conversation(s, c)  # nobody else to ask: wait for a mediator
        team = self.teams.get(c.team) or self.teams.for_topic(c.topic)
        c.state, c.mode, c.team, c.helper_id, c.assigned_at = "active", "staff", team.id, None, now
        c.translated = c.lang != self.teams.staff_language
        s.flush()
        self._audit(s, "staff-group", "assigned", c.id, team.id)
        return Routed("staff", ConversationView.of(c), position=self._team_position(s, c))

    def _candidates(self, s: Session, c: Conversation, now: datetime) -> tuple[list[Helper], bool]:
        """(mediators who can take it now, fairest first; whether anyone could take it once free)."""
        tried = set(s.scalars(select(Offer.helper_id).where(Offer.conversation_id == c.id)))
        ready: list[tuple[datetime, int, Helper]] = []
        capable = False
        for h in s.scalars(select(Helper).where(Helper.role == "mediator", Helper.paused.is_(False),
                                                Helper.unreachable.is_(False))):
            view = HelperView.of(h)
            if not view.speaks(c.lang) or not view.cleared_for(c.topic):
                continue
            if c.want_gender and h.gender != c.want_gender:
                continue
            if not self.registry.hours(h.availability).is_open(now):
                continue
            if h.id in tried:
                continue
            capable = True
            open_now, this_week = self.registry.load(s, h, now)
            if open_now >= h.max_open or this_week >= h.max_per_week:
                continue
            ready.append((_aware(h.last_assigned_at) or datetime.min.replace(tzinfo=UTC), h.id, h))
        ready.sort(key=lambda x: (x[0], x[1]))
        return [h for _, _, h in ready], capable

    def _enqueue_conversation(self, s: Session, c: Conversation) -> Routed:
        c.state = "queued"
        if c.queue_seq is None:  # someone sent back to the queue keeps their place
            c.queue_seq = int(s.scalar(select(func.max(Conversation.queue_seq))) or 0) + 1
        s.flush()
        return Routed("queued", ConversationView.of(c), position=self._queue_position(s, c))

    def _queue_position(self, s: Session, c: Conversation) -> int:
        ahead = s.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.state == "queued", Conversation.lang == c.lang, Conversation.queue_seq < c.queue_seq))
        return int(ahead or 0) + 1

    def _team_position(self, s: Session, c: Conversation) -> int:
        """Staff conversations of the same team that nobody on staff has answered yet, this one included."""
        answered = select(RelayMessage.conversation_id).where(RelayMessage.direction == "out")
        ahead = s.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.state == "active", Conversation.mode == "staff", Conversation.team == c.team,
            Conversation.id < c.id, Conversation.id.not_in(answered)))
        return int(ahead or 0) + 1

    def _position(self, conversation_id: int) -> int:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                return 1
            if c.state == "queued":
                return self._queue_position(s, c)
            if c.mode == "staff":
                return self._team_position(s, c)
            return 1

    async def _send_offer(self, routed: Routed) -> None:
        helper, conv = routed.helper, routed.conversation
        assert helper is not None and routed.offer_id is not None
        reason = await asyncio.to_thread(self._reason, conv)
        text = helper_text("offer", label=conv.label, language=self.language_name(conv.lang, "de"),
                           topic=self._topic_label(conv.topic, "de"), reason=helper_text(f"reason.{reason}"),
                           minutes=max(1, round(self.settings.offer_timeout_s / 60)))
        buttons = [[Button(helper_text("button.accept"), f"of:a:{routed.offer_id}"),
                    Button(helper_text("button.decline"), f"of:d:{routed.offer_id}")]]
        try:
            await self.port.deliver(helper.chat, Reply(text, buttons, "de"))
        except RecipientGoneError:
            await self._helper_gone(helper.id)
        except DeliveryError:
            log.exception("handover.offer_not_delivered")
            await asyncio.to_thread(self._resolve_offer, routed.offer_id, "expired")
            await self.route(conv.id)

    def _reason(self, conv: ConversationView) -> str:
        with self._session() as s:
            c = s.get(Conversation, conv.id)
            return c.reason if c else "requested"

    # ================================================================== offers
    async def answer_offer(self, helper: HelperView, offer_id: int, accept: bool) -> Reply:
        outcome = await asyncio.to_thread(self._answer_offer, helper.id, offer_id, accept)
        if outcome is None:
            return Reply(helper_text("offer_gone"), lang="de")
        if not accept:
            await self.route(outcome.id)
            await self.drain_queue()
            return Reply(helper_text("declined"), lang="de")
        await self._connect_mediator(outcome, helper)
        return Reply(helper_text("accepted_help"), lang="de")

    def _answer_offer(self, helper_id: int, offer_id: int, accept: bool) -> ConversationView | None:
        """The conversation the offer was for, or None when it is not this helper's or no longer open."""
        now = self.clock()
        with self._lock, self._session.begin() as s:
            offer = s.get(Offer, offer_id)
            if offer is None or offer.helper_id != helper_id or offer.state != "pending":
                return None
            c = s.get(Conversation, offer.conversation_id)
            if c is None or c.state != "offering":
                offer.state = "withdrawn"
                return None
            if not accept:
                offer.state = "declined"
                self._audit(s, f"helper:{helper_id}", "declined", c.id)
                return ConversationView.of(c)
            offer.state = "accepted"
            c.state, c.mode, c.helper_id, c.assigned_at, c.translated = "active", "mediator", helper_id, now, False
            self._audit(s, f"helper:{helper_id}", "accepted", c.id)
            return ConversationView.of(c)

    def _resolve_offer(self, offer_id: int, state: str) -> None:
        with self._lock, self._session.begin() as s:
            offer = s.get(Offer, offer_id)
            if offer is not None and offer.state == "pending":
                offer.state = state

    async def _connect_mediator(self, conv: ConversationView, helper: HelperView) -> None:
        opening = await asyncio.to_thread(self._opening_text, conv.id)
        intro = helper_text("mediator_intro", label=conv.label, language=self.language_name(conv.lang, "de"),
                            topic=self._topic_label(conv.topic, "de"),
                            question=opening or helper_text("no_question"))
        try:
            intro_id = await self.port.deliver(helper.chat, Reply(intro, lang="de"))
        except RecipientGoneError:
            await self._helper_gone(helper.id)
            return
        await asyncio.to_thread(self._set_intro, conv.id, intro_id)
        if conv.person_chat:
            text = self.t(conv.lang, "handover.connected", alias=helper.alias)
            await self._to_person(conv, Reply(text, lang=conv.lang))
        await self.flush(conv.id)

    def _opening_text(self, conversation_id: int) -> str | None:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return c.opening_text if c else None

    def _set_intro(self, conversation_id: int, message_id: int) -> None:
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.intro_message_id = message_id

    # ================================================================== staff topics
    async def _open_staff_topic(self, conversation_id: int, note: str | None = None) -> None:
        staff_chat = self.settings.staff_chat
        if not staff_chat:
            return
        conv, opening, reason, want = await asyncio.to_thread(self._conv_details, conversation_id)
        team = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        name = self._topic_name(conv, team)
        thread = await self.port.create_topic(staff_chat, name)
        await asyncio.to_thread(self._set_thread, conv.id, thread)
        question = opening or helper_text("no_question")
        if opening and conv.translated:
            question += "\n" + await asyncio.to_thread(self._mt_for_staff, opening, conv.lang)
        intro = helper_text("staff_intro", label=conv.label, language=self.language_name(conv.lang, "de"),
                            topic=self._topic_label(conv.topic, "de"), team=team.name("de"),
                            reason=helper_text(f"reason.{reason}"), question=question,
                            translated=helper_text("mt_yes" if conv.translated else "mt_no"),
                            gender=helper_text("wants_woman") if want == "f" else "")
        if note:
            intro = note + "\n\n" + intro
        await self._to_staff(conv.id, Reply(intro, lang="de"))
        await self.flush(conv.id)

    def _topic_name(self, conv: ConversationView, team: Team) -> str:
        return f"{conv.label} · {conv.lang} · {self._topic_label(conv.topic, 'de')} · {team.name('de')}"[:128]

    def _conv_details(self, conversation_id: int) -> tuple[ConversationView, str | None, str, str | None]:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                raise DeliveryError(f"conversation {conversation_id} is gone")
            return ConversationView.of(c), c.opening_text, c.reason, c.want_gender

    def _set_thread(self, conversation_id: int, thread: int) -> None:
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.thread_id = thread
                self._audit(s, "staff-group", "topic_opened", c.id, str(thread))

    async def _to_staff(self, conversation_id: int, reply: Reply) -> int | None:
        """Post into the conversation's forum topic; a deleted topic is replaced and staff are told."""
        staff_chat = self.settings.staff_chat
        if not staff_chat:
            return None
        for _ in range(2):
            conv = await asyncio.to_thread(self._view, conversation_id)
            if conv is None:
                return None
            try:
                return await self.port.deliver(staff_chat, reply, thread=conv.thread_id)
            except ThreadGoneError:
                await self._replace_topic(conv)
        return None

    async def _replace_topic(self, conv: ConversationView) -> None:
        staff_chat = self.settings.staff_chat
        assert staff_chat is not None
        team = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        thread = await self.port.create_topic(staff_chat, self._topic_name(conv, team))
        await asyncio.to_thread(self._set_thread, conv.id, thread)
        await asyncio.to_thread(self._audit_only, "system", "topic_replaced", conv.id)
        notice = helper_text("topic_deleted", label=conv.label)
        try:
            await self.port.deliver(staff_chat, Reply(notice, lang="de"))
            await self.port.deliver(staff_chat, Reply(notice, lang="de"), thread=thread)
        except DeliveryError:
            log.exception("handover.topic_notice_failed")

    def _view(self, conversation_id: int) -> ConversationView | None:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return ConversationView.of(c) if c else None

    def _mt_for_staff(self, text: str, lang: str) -> str:
        try:
            translation = self.translator.translate(text, lang, self.teams.staff_language)
        except TranslationUnavailable:
            return helper_text("mt_missing", language=self.language_name(lang, "de"))
        return helper_text("mt_line", text=translation.text)

    # ================================================================== relay
    def _enqueue(self, conversation_id: int, direction: str, chat: str, message_id: int, text: str | None) -> bool:
        try:
            with self._session.begin() as s:
                s.add(RelayMessage(conversation_id=conversation_id, direction=direction, source_chat=chat,
                                   source_message_id=message_id, text=text, state="pending", created_at=self.clock()))
            return True
        except IntegrityError:
            return False

    def _pending(self, conversation_id: int) -> list[RelayMessage]:
        with self._session() as s:
            return list(s.scalars(select(RelayMessage).where(RelayMessage.conversation_id == conversation_id,
                                                             RelayMessage.state == "pending")
                                  .order_by(RelayMessage.id)))

    def _mark_sent(self, relay_id: int, target_chat: str, target_message_id: int | None, state: str = "sent") -> None:
        with self._session.begin() as s:
            row = s.get(RelayMessage, relay_id)
            if row is not None:
                row.state, row.target_chat, row.target_message_id = state, target_chat, target_message_id
                row.text = None

    async def flush(self, conversation_id: int) -> None:
        """Deliver the conversation's pending messages in order (one flush at a time per conversation)."""
        lock = self._flush_locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            conv = await asyncio.to_thread(self._view, conversation_id)
            if conv is None or conv.state != "active":
                return
            for row in await asyncio.to_thread(self._pending, conversation_id):
                try:
                    if row.direction == "in":
                        delivered = await self._relay_in(conv, row)
                    else:
                        delivered = await self._relay_out(conv, row)
                except RecipientGoneError:
                    if row.direction == "out":
                        await self._person_gone(conv)
                    elif conv.helper_id is not None:
                        await self._helper_gone(conv.helper_id)
                    return
                except DeliveryError:
                    log.exception("handover.relay_failed direction=%s", row.direction)
                    return  # stays pending: the sweeper tries again
                if not delivered:
                    return

    async def _relay_in(self, conv: ConversationView, row: RelayMessage) -> bool:
        """Person → helper. False when there is nowhere to deliver yet."""
        if conv.mode == "mediator" and conv.helper_id is not None:
            helper = await asyncio.to_thread(self.registry.get, conv.helper_id)
            if helper is None or not helper.chat:
                return False
            reply_to = await asyncio.to_thread(self._intro_of, conv.id)
            target = await self.port.copy(row.source_chat, row.source_message_id, helper.chat, reply_to=reply_to)
            await asyncio.to_thread(self._mark_sent, row.id, helper.chat, target)
            await asyncio.to_thread(self._audit_only, f"helper:{helper.id}", "message_in", conv.id)
            return True
        if conv.mode == "staff" and self.settings.staff_chat:
            staff_target: int | None
            if conv.translated and row.text:
                # Machine translation never runs on the event loop.
                mt = await asyncio.to_thread(self._mt_for_staff, row.text, conv.lang)
                text = helper_text("person_says", label=conv.label, text=row.text) + "\n" + mt
                staff_target = await self._to_staff(conv.id, Reply(text[:4096], lang="de"))
            else:
                staff_target = await self._copy_to_staff(conv, row)
            await asyncio.to_thread(self._mark_sent, row.id, self.settings.staff_chat, staff_target)
            return True
        return False

    async def _copy_to_staff(self, conv: ConversationView, row: RelayMessage) -> int | None:
        staff_chat = self.settings.staff_chat
        assert staff_chat is not None
        for _ in range(2):
            current = await asyncio.to_thread(self._view, conv.id)
            if current is None:
                return None
            try:
                return await self.port.copy(row.source_chat, row.source_message_id, staff_chat,
                                            thread=current.thread_id)
            except ThreadGoneError:
                await self._replace_topic(current)
        return None

    def _intro_of(self, conversation_id: int) -> int | None:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return c.intro_message_id if c else None

    async def _relay_out(self, conv: ConversationView, row: RelayMessage) -> bool:
        """Helper → person: a copy, or for staff writing German to someone who does not read it, a
        labelled machine translation with the original below."""
        if not conv.person_chat:
            await asyncio.to_thread(self._mark_sent, row.id, "", None, "failed")
            return True
        if conv.translated and row.text:
            text = await asyncio.to_thread(self._mt_for_person, row.text, conv.lang)
            target = await self.port.deliver(conv.person_chat, Reply(text[:4096], lang=conv.lang))
        else:
            target = await self.port.copy(row.source_chat, row.source_message_id, conv.person_chat)
        await asyncio.to_thread(self._mark_sent, row.id, conv.person_chat, target)
        return True

    def _mt_for_person(self, text: str, lang: str) -> str:
        try:
            translation = self.translator.translate(text, self.teams.staff_language, lang)
        except TranslationUnavailable:
            return text + "\n\n" + self.t(lang, "handover.mt_missing")
        return translation.text + "\n\n" + self.t(lang, "handover.mt_label") + "\n\n— Deutsch —\n" + text

    async def _to_person(self, conv: ConversationView, reply: Reply) -> None:
        if not conv.person_chat:
            return
        try:
            await self.port.deliver(conv.person_chat, reply)
        except RecipientGoneError:
            await self._person_gone(conv)
        except DeliveryError:
            log.exception("handover.person_notice_failed")

    # ================================================================== helper side
    async def join(self, msg: IncomingMessage, code: str) -> Reply:
        if not msg.private:
            return Reply(helper_text("join_private_only"), lang="de")
        helper = await asyncio.to_thread(self.registry.redeem, code, msg.user_key, msg.chat, self.clock())
        if helper is None:
            await asyncio.to_thread(self._audit_only, "unknown", "join_refused", None)
            return Reply(helper_text("join_refused"), lang="de")
        await asyncio.to_thread(self._audit_only, f"helper:{helper.id}", "joined", None, helper.role)
        key = "joined_mediator" if helper.role == "mediator" else "joined_staff"
        await self.drain_queue()
        return Reply(helper_text(key, alias=helper.alias), lang="de")

    async def from_helper(self, msg: IncomingMessage, helper: HelperView) -> Reply | None:
        """A staff member's or mediator's private chat with the bot."""
        if msg.kind == "callback":
            kind, _, rest = (msg.callback_data or "").partition(":")
            action, _, arg = rest.partition(":")
            if kind == "of" and action in ("a", "d") and arg.isdigit():
                return await self.answer_offer(helper, int(arg), action == "a")
            return Reply(helper_text("unknown"), lang="de")
        if msg.kind == "command":
            return await self._helper_command(msg, helper, None)
        conv = await asyncio.to_thread(self._helper_conversation, helper.id, msg.reply_to)
        if conv is None:
            return Reply(helper_text("no_conversation"), lang="de")
        return await self._from_helper_in(conv, msg, helper)

    async def _from_helper_in(self, conv: ConversationView, msg: IncomingMessage, helper: HelperView) -> Reply | None:
        text = msg.text or ""
        if text.lstrip().lower().startswith("!note"):
            await asyncio.to_thread(self._audit_only, f"helper:{helper.id}", "note", conv.id)
            return None  # internal: stays in the helper's chat / staff topic
        if msg.message_id is None:
            return Reply(helper_text("unknown"), lang="de")
        stored = await asyncio.to_thread(self._enqueue, conv.id, "out", msg.chat, msg.message_id,
                                         text if msg.kind == "text" else None)
        if stored:
            await asyncio.to_thread(self._audit_only, f"helper:{helper.id}", "message_out", conv.id)
            await self.flush(conv.id)
            await self._ack(msg)
        return None

    def _helper_conversation(self, helper_id: int, reply_to: int | None) -> ConversationView | None:
        with self._session() as s:
            active = list(s.scalars(select(Conversation).where(Conversation.helper_id == helper_id,
                                                               Conversation.state == "active")
                                    .order_by(Conversation.assigned_at.desc())))
            if reply_to is not None:
                for c in active:
                    if c.intro_message_id == reply_to:
                        return ConversationView.of(c)
                mapped = s.scalar(select(RelayMessage.conversation_id).where(
                    RelayMessage.target_message_id == reply_to, RelayMessage.direction == "in",
                    RelayMessage.conversation_id.in_([c.id for c in active])))
                if mapped is not None:
                    return next(ConversationView.of(c) for c in active if c.id == mapped)
            return ConversationView.of(active[0]) if len(active) == 1 else None

    async def _helper_command(self, msg: IncomingMessage, helper: HelperView,
                              conv: ConversationView | None) -> Reply | None:
        cmd = (msg.command or "").lower()
        arg = (msg.text or "").partition(" ")[2].strip()
        if cmd in ("start", "help"):
            return Reply(helper_text(f"help_{helper.role}"), lang="de")
        if cmd in ("pause", "resume"):
            await asyncio.to_thread(self.registry.set_paused, helper.id, cmd == "pause")
            if cmd == "resume":
                await self.drain_queue()
            return Reply(helper_text(f"{cmd}d"), lang="de")
        if cmd == "status":
            views = await asyncio.to_thread(self.registry.search, None, None, None, self.clock())
            me = next((v for v in views if v.id == helper.id), helper)
            return Reply(helper_text("status", alias=me.alias, open=me.open_now, max_open=me.max_open,
                                     week=me.this_week, max_week=me.max_per_week,
                                     paused=helper_text("yes" if me.paused else "no")), lang="de")
        if cmd in ("close", "handover"):
            if conv is None:
                conv = await asyncio.to_thread(self._helper_conversation, helper.id, msg.reply_to)
            if conv is None:
                return Reply(helper_text("no_conversation"), lang="de")
            if cmd == "close":
                await self._close(conv.id, f"helper:{helper.id}", arg or helper_text("no_resolution"))
                return Reply(helper_text("closed", label=conv.label), lang="de")
            return await self._handover(conv, helper, arg)
        return Reply(helper_text("unknown"), lang="de")

    async def from_staff_group(self, msg: IncomingMessage, helper: HelperView | None) -> Reply | None:
        """Anything in the staff supergroup: only registered staff act; a topic is one conversation."""
        if helper is None or helper.role != "staff":
            await asyncio.to_thread(self._audit_only, "unknown", "staff_group_refused", None)
            return Reply(helper_text("not_staff"), lang="de") if msg.kind in ("command", "text") else None
        if msg.kind == "callback":
            return Reply(helper_text("unknown"), lang="de")
        conv = await asyncio.to_thread(self._by_thread, msg.thread_id) if msg.thread_id else None
        if conv is None:
            if msg.kind == "command" and (msg.command or "") in ("help", "start", "status"):
                return await self._helper_command(msg, helper, None)
            return None  # ordinary talk among staff outside conversation topics
        if msg.kind == "command":
            return await self._helper_command(msg, helper, conv)
        return await self._from_helper_in(conv, msg, helper)

    def _by_thread(self, thread: int) -> ConversationView | None:
        with self._session() as s:
            c = s.scalar(select(Conversation).where(Conversation.thread_id == thread, Conversation.state == "active"))
            return ConversationView.of(c) if c else None

    async def _handover(self, conv: ConversationView, helper: HelperView, target: str) -> Reply:
        target = target.strip().lower()
        if target in ("mediator", "sprachmittlung"):
            if conv.mode != "staff":
                return Reply(helper_text("handover_usage", teams=", ".join(self.teams.teams)), lang="de")
            await asyncio.to_thread(self._reopen_for_mediators, conv.id, helper.id)
            routed = await self.route(conv.id)
            if routed.kind == "staff":
                return Reply(helper_text("no_mediator_free"), lang="de")
            return Reply(helper_text("handed_to_mediator", label=conv.label), lang="de")
        # Without a team named: back to the team that had it before, else the one for the topic.
        default = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        team = self.teams.get(target) or (default if target in ("", "staff", "team") else None)
        if team is None:
            return Reply(helper_text("handover_usage", teams=", ".join(self.teams.teams)), lang="de")
        was_mediator = conv.mode == "mediator"
        await asyncio.to_thread(self._move_to_team, conv.id, team.id, f"helper:{helper.id}")
        if was_mediator or conv.thread_id is None:
            await self._open_staff_topic(conv.id, helper_text("from_mediator", alias=helper.alias))
            await self._recopy_history(conv.id)
        else:
            staff_chat = self.settings.staff_chat
            if staff_chat and conv.thread_id is not None:
                moved = await asyncio.to_thread(self._view, conv.id)
                if moved is not None:
                    try:
                        await self.port.rename_topic(staff_chat, conv.thread_id, self._topic_name(moved, team))
                    except DeliveryError:
                        log.info("handover.rename_failed")
        await self._to_person(conv, Reply(self.t(conv.lang, "handover.moved", team=team.name(conv.lang)),
                                          lang=conv.lang))
        return Reply(helper_text("handed_to_team", label=conv.label, team=team.name("de")), lang="de")

    def _reopen_for_mediators(self, conversation_id: int, by: int) -> None:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.state, c.requested_at = "offering", self.clock()
                self._audit(s, f"helper:{by}", "handed_over", c.id, "mediator")

    def _move_to_team(self, conversation_id: int, team: str, actor: str) -> None:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                return
            c.state, c.mode, c.team, c.helper_id = "active", "staff", team, None
            c.translated = c.lang != self.teams.staff_language
            self._audit(s, actor, "handed_over", c.id, team)

    async def _recopy_history(self, conversation_id: int) -> None:
        """The person's earlier messages follow the conversation to the new team (copies, in order)."""
        staff_chat = self.settings.staff_chat
        conv = await asyncio.to_thread(self._view, conversation_id)
        if not staff_chat or conv is None:
            return
        with self._session() as s:
            rows = list(s.scalars(select(RelayMessage).where(RelayMessage.conversation_id == conversation_id,
                                                             RelayMessage.direction == "in",
                                                             RelayMessage.state == "sent")
                                  .order_by(RelayMessage.id)))
        for row in rows:
            try:
                await self.port.copy(row.source_chat, row.source_message_id, staff_chat, thread=conv.thread_id)
            except DeliveryError:
                log.info("handover.history_copy_failed")

    # ================================================================== closing
    async def _close(self, conversation_id: int, actor: str, resolution: str, ask_person: bool = True) -> None:
        conv, helper_chat = await asyncio.to_thread(self._mark_closed, conversation_id, actor, resolution)
        if conv is None:
            return
        if ask_person and conv.person_chat:
            buttons = [[Button(self.t(conv.lang, "button.helpful"), f"cl:y:{conv.label}"),
                        Button(self.t(conv.lang, "button.not_helpful"), f"cl:n:{conv.label}")]]
            await self._to_person(conv, Reply(self.t(conv.lang, "handover.closed", resolution=resolution), buttons,
                                              conv.lang))
        if not actor.startswith("helper:"):
            notice = Reply(helper_text("closed_notice", label=conv.label, resolution=resolution), lang="de")
            try:
                if conv.mode == "mediator" and helper_chat:
                    await self.port.deliver(helper_chat, notice)
                elif conv.mode == "staff":
                    await self._to_staff(conv.id, notice)
            except DeliveryError:
                log.info("handover.close_notice_failed")
        self._flush_locks.pop(conversation_id, None)
        await self.drain_queue()

    def _mark_closed(self, conversation_id: int, actor: str, resolution: str) -> tuple[ConversationView | None,
                                                                                       str | None]:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is None or c.state == "closed":
                return None, None
            c.state, c.closed_at, c.resolution = "closed", self.clock(), resolution[:MAX_RESOLUTION_CHARS]
            c.opening_text = None
            s.execute(update(Offer).where(Offer.conversation_id == c.id, Offer.state == "pending")
                      .values(state="withdrawn"))
            s.execute(update(RelayMessage).where(RelayMessage.conversation_id == c.id).values(text=None))
            helper = s.get(Helper, c.helper_id) if c.helper_id else None
            self._audit(s, actor, "closed", c.id)
            return ConversationView.of(c), helper.chat if helper else None

    async def _person_gone(self, conv: ConversationView) -> None:
        """The person blocked the bot: close, and tell whoever was helping."""
        await asyncio.to_thread(self._forget_chat, conv.id)
        await self._close(conv.id, "system", helper_text("person_blocked"), ask_person=False)

    def _forget_chat(self, conversation_id: int) -> None:
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.person_chat = None
                self._audit(s, "system", "person_blocked_bot", c.id)

    async def _helper_gone(self, helper_id: int) -> None:
        """A mediator blocked the bot (or was removed): their offers and conversations go on, staff are told."""
        moved = await asyncio.to_thread(self._release_helper, helper_id)
        if self.settings.staff_chat:
            try:
                await self.port.deliver(self.settings.staff_chat,
                                        Reply(helper_text("helper_unreachable", helper=helper_id), lang="de"))
            except DeliveryError:
                log.exception("handover.report_failed")
        for conv_id, was_active in moved:
            if was_active:
                await self._to_staff_after_mediator(conv_id)
            else:
                await self.route(conv_id)

    def _release_helper(self, helper_id: int) -> list[tuple[int, bool]]:
        with self._lock, self._session.begin() as s:
            h = s.get(Helper, helper_id)
            if h is not None:
                h.unreachable = True
            moved: list[tuple[int, bool]] = []
            for offer in s.scalars(select(Offer).where(Offer.helper_id == helper_id, Offer.state == "pending")):
                offer.state = "withdrawn"
                moved.append((offer.conversation_id, False))
            for c in s.scalars(select(Conversation).where(Conversation.helper_id == helper_id,
                                                          Conversation.state == "active")):
                moved.append((c.id, True))
            self._audit(s, "system", "helper_unreachable", None, str(helper_id))
            return moved

    async def _to_staff_after_mediator(self, conversation_id: int) -> None:
        conv = await asyncio.to_thread(self._view, conversation_id)
        if conv is None:
            return
        team = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        await asyncio.to_thread(self._move_to_team, conv.id, team.id, "system")
        if not self.settings.staff_chat:
            return
        await self._open_staff_topic(conv.id, helper_text("mediator_gone"))
        await self._recopy_history(conv.id)
        await self._to_person(conv, Reply(self.t(conv.lang, "handover.moved", team=team.name(conv.lang)),
                                          lang=conv.lang))

    # ================================================================== background
    async def drain_queue(self) -> None:
        """Queued conversations get the next free mediator (first come, first served)."""
        while (routed := await asyncio.to_thread(self._match_first_queued)) is not None:
            await self._carry_out(routed)
            if routed.kind in ("offer", "staff") and routed.conversation.person_chat:
                await self._to_person(routed.conversation, self._status_reply(routed, routed.conversation.lang))

    async def sweep(self) -> None:
        """Expired offers go to the next candidate; waiting people are re-matched; pending messages
        (e.g. from before a restart) are delivered; abandoned consent prompts are forgotten."""
        for offer_id, conv_id, helper_chat in await asyncio.to_thread(self._expire_offers):
            if helper_chat:
                try:
                    await self.port.deliver(helper_chat, Reply(helper_text("offer_expired"), lang="de"))
                except DeliveryError:
                    log.info("handover.expiry_notice_failed offer=%d", offer_id)
            routed = await self.route(conv_id)
            if routed.kind in ("staff", "queued") and routed.conversation.person_chat:
                await self._to_person(routed.conversation, self._status_reply(routed, routed.conversation.lang))
        await self.drain_queue()
        for conv_id in await asyncio.to_thread(self._orphaned):
            await self._to_staff_after_mediator(conv_id)
        for conv_id in await asyncio.to_thread(self._with_pending):
            await self.flush(conv_id)
        await asyncio.to_thread(self._forget_stale_consent)

    def _expire_offers(self) -> list[tuple[int, int, str | None]]:
        now = self.clock()
        with self._lock, self._session.begin() as s:
            out = []
            for offer in s.scalars(select(Offer).where(Offer.state == "pending", Offer.expires_at <= now)):
                offer.state = "expired"
                helper = s.get(Helper, offer.helper_id)
                self._audit(s, f"helper:{offer.helper_id}", "offer_expired", offer.conversation_id)
                out.append((offer.id, offer.conversation_id, helper.chat if helper else None))
            return out

    def _orphaned(self) -> list[int]:
        with self._session() as s:
            return list(s.scalars(select(Conversation.id).join(Helper, Conversation.helper_id == Helper.id).where(
                Conversation.state == "active", Conversation.mode == "mediator", Helper.unreachable.is_(True))))

    def _with_pending(self) -> list[int]:
        with self._session() as s:
            return list(s.scalars(select(RelayMessage.conversation_id).join(
                Conversation, RelayMessage.conversation_id == Conversation.id).where(
                RelayMessage.state == "pending", Conversation.state == "active").distinct()))

    def _forget_stale_consent(self) -> None:
        cutoff = self.clock() - timedelta(seconds=self.settings.consent_ttl_s)
        with self._lock, self._session.begin() as s:
            s.execute(delete(Conversation).where(Conversation.state == "consent", Conversation.created_at < cutoff))

    def purge_closed(self, older_than_days: int) -> int:
        """Closed conversations are kept for the retention period, then only the audit log remains."""
        cutoff = self.clock() - timedelta(days=older_than_days)
        with self._lock, self._session.begin() as s:
            ids = list(s.scalars(select(Conversation.id).where(Conversation.state == "closed",
                                                               Conversation.closed_at < cutoff)))
            if ids:
                s.execute(delete(RelayMessage).where(RelayMessage.conversation_id.in_(ids)))
                s.execute(delete(Offer).where(Offer.conversation_id.in_(ids)))
                s.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            return len(ids)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # the sweeper must survive one bad round
                log.exception("handover.sweep_failed")
            await asyncio.sleep(self.settings.sweep_interval_s)

    # ================================================================== admin
    def invite(self, spec: InviteSpec) -> str:
        return self.registry.invite(spec, self.clock())

    def audit(self, label: str | None = None) -> list[tuple[datetime, str, str, str | None, str | None]]:
        with self._session() as s:
            query = select(AuditEvent, Conversation.label).outerjoin(
                Conversation, AuditEvent.conversation_id == Conversation.id).order_by(AuditEvent.id)
            if label:
                query = query.where(Conversation.label == label)
            return [(_aware(e.at) or e.at, e.actor, e.action, lab, e.detail) for e, lab in s.execute(query)]


def _missing(conversation_id: int) -> ConversationView:
    return ConversationView(conversation_id, "?", "gone", None, "de", None, None, None, None, None, False)
