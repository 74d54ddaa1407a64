"""The hand-over's state and its transitions, in the database: consent, matching, offers, queue,
relayed messages, closing, the audit log.

Synchronous on purpose (the service calls it through ``asyncio.to_thread``). Every transition of
offers and conversations runs under one lock inside one transaction, so fifty people asking at once
cannot push a mediator over their cap and a free mediator goes to the head of the queue. (One bot
process per database: the lock is in-process.)
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handover.models import AuditEvent, Conversation, Helper, Offer, RelayMessage, as_utc
from bot.handover.registry import HelperView, Registry
from bot.handover.teams import Teams
from bot.store import Store
from core.errors import DeliveryError

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

    kind: str  # "offer" | "queued" | "staff" | "unavailable" (nobody at all) | "none" (nothing to do)
    conversation: ConversationView
    helper: HelperView | None = None
    offer_id: int | None = None
    position: int = 0


NEVER = datetime.min.replace(tzinfo=UTC)  # a helper never asked comes first


class HandoverState:
    def __init__(self, store: Store, teams: Teams, settings: HandoverSettings, clock: Callable[[], datetime],
                 registry: Registry) -> None:
        self.teams = teams
        self.settings = settings
        self.clock = clock
        self.registry = registry
        self._session = store.sessions
        self._lock = threading.Lock()  # every state transition of offers and conversations

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

    def any_mediator(self) -> bool:
        with self._session() as s:
            return s.scalar(select(Helper.id).where(Helper.role == "mediator", Helper.paused.is_(False))
                            .limit(1)) is not None

    def create_consent(self, person_key: str, chat: str, lang: str, topic: str | None, reason: str,
                        question: str | None) -> None:
        with self._lock, self._session.begin() as s:
            # One pending prompt per person: a newer request replaces the older one.
            s.execute(delete(Conversation).where(Conversation.person_key == person_key,
                                                 Conversation.state == "consent"))
            s.add(Conversation(label=self._new_label(s), person_key=person_key, person_chat=chat, lang=lang,
                               topic=topic, reason=reason, state="consent", translated=False,
                               opening_text=(question or "")[:1000] or None, created_at=self.clock()))

    def drop_consent(self, person_key: str) -> bool:
        with self._lock, self._session.begin() as s:
            result = s.execute(delete(Conversation).where(Conversation.person_key == person_key,
                                                          Conversation.state == "consent"))
            return bool(getattr(result, "rowcount", 0))

    def accept_consent(self, person_key: str, want_gender: str | None) -> ConversationView | None:
        with self._lock, self._session.begin() as s:
            c = s.scalar(select(Conversation).where(Conversation.person_key == person_key,
                                                    Conversation.state == "consent"))
            if c is None:
                return None
            c.state, c.want_gender, c.requested_at = "offering", want_gender, self.clock()
            self._audit(s, "person", "consented", c.id, c.reason)
            return ConversationView.of(c)

    def store_feedback(self, person_key: str, label: str, helped: bool) -> bool:
        with self._session.begin() as s:
            c = s.scalar(select(Conversation).where(Conversation.label == label))
            if c is None or c.person_key != person_key or c.state != "closed" or c.helped is not None:
                return False
            c.helped = helped
            c.person_chat = None  # nothing more to tell the person: forget where they were
            self._audit(s, "person", "feedback", c.id, "helped" if helped else "not helped")
            return True

    def delete_person_rows(self, person_key: str) -> int:
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

    def audit_only(self, actor: str, action: str, conversation_id: int | None, detail: str | None = None) -> None:
        with self._session.begin() as s:
            self._audit(s, actor, action, conversation_id, detail)

    # ================================================================== matching
    def match(self, conversation_id: int) -> Routed:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                return Routed("none", _missing(conversation_id))
            return self._match_locked(s, c, self.clock())

    def match_first_queued(self) -> Routed | None:
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

    def _match_locked(self, s: Session, c: Conversation, now: datetime) -> Routed:
        if c.state not in WAITING_STATES:
            return Routed("none", ConversationView.of(c))
        if s.scalar(select(Offer.id).where(Offer.conversation_id == c.id, Offer.state == "pending")) is not None:
            # Already offered to someone (a concurrent sweep or close got here first): one offer at a time.
            return Routed("none", ConversationView.of(c))
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
        waited = (now - (as_utc(c.requested_at) if c.requested_at else now)).total_seconds()
        if capable and waited < self.settings.queue_max_wait_s:
            return self._enqueue_conversation(s, c)
        if not self.settings.staff_chat:
            if capable:
                return self._enqueue_conversation(s, c)  # nobody else to ask: keep waiting for a mediator
            # Nobody at all for this language or topic: say so honestly instead of a queue without end.
            c.state, c.closed_at, c.resolution = "closed", now, "nobody available"
            self._audit(s, "system", "unavailable", c.id)
            s.flush()
            return Routed("unavailable", ConversationView.of(c))
        team = self.teams.get(c.team) or self.teams.for_topic(c.topic)
        c.state, c.mode, c.team, c.helper_id, c.assigned_at = "active", "staff", team.id, None, now
        c.translated = c.lang != self.teams.staff_language
        s.flush()
        self._audit(s, "staff-group", "assigned", c.id, team.id)
        return Routed("staff", ConversationView.of(c), position=self._team_position(s, c))

    def _candidates(self, s: Session, c: Conversation, now: datetime) -> tuple[list[Helper], bool]:
        """(mediators who can take it now, fairest first; whether anyone could take it once free)."""
        # Who declined or let the offer lapse is not asked again for a while (then they may be free).
        recent = now - timedelta(seconds=self.settings.queue_max_wait_s)
        tried = set(s.scalars(select(Offer.helper_id).where(Offer.conversation_id == c.id,
                                                            Offer.created_at >= recent)))
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
            last = as_utc(h.last_assigned_at) if h.last_assigned_at else NEVER
            ready.append((last, h.id, h))
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

    def position(self, conversation_id: int) -> int:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                return 1
            if c.state == "queued":
                return self._queue_position(s, c)
            if c.mode == "staff":
                return self._team_position(s, c)
            return 1

    def reason(self, conv: ConversationView) -> str:
        with self._session() as s:
            c = s.get(Conversation, conv.id)
            return c.reason if c else "requested"

    # ================================================================== offers
    def answer_offer(self, helper_id: int, offer_id: int, accept: bool) -> ConversationView | None:
        """The conversation the offer was for, or None when it is not this helper's or no longer open."""
        now = self.clock()
        with self._lock, self._session.begin() as s:
            offer = s.get(Offer, offer_id)
            if offer is None or offer.helper_id != helper_id or offer.state != "pending":
                return None
            helper = s.get(Helper, helper_id)
            if accept and (helper is None or helper.paused or helper.unreachable):
                return None  # paused or removed meanwhile: the offer lapses and goes on
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

    def resolve_offer(self, offer_id: int, state: str) -> None:
        with self._lock, self._session.begin() as s:
            offer = s.get(Offer, offer_id)
            if offer is not None and offer.state == "pending":
                offer.state = state

    def opening_text(self, conversation_id: int) -> str | None:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return c.opening_text if c else None

    def set_intro(self, conversation_id: int, message_id: int) -> None:
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.intro_message_id = message_id

    # ================================================================== conversations and relayed messages
    def conv_details(self, conversation_id: int) -> tuple[ConversationView, str | None, str, str | None]:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                raise DeliveryError(f"conversation {conversation_id} is gone")
            return ConversationView.of(c), c.opening_text, c.reason, c.want_gender

    def set_thread(self, conversation_id: int, thread: int) -> None:
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.thread_id = thread
                self._audit(s, "staff-group", "topic_opened", c.id, str(thread))

    def view(self, conversation_id: int) -> ConversationView | None:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return ConversationView.of(c) if c else None

    def enqueue(self, conversation_id: int, direction: str, chat: str, message_id: int, text: str | None) -> bool:
        try:
            with self._session.begin() as s:
                s.add(RelayMessage(conversation_id=conversation_id, direction=direction, source_chat=chat,
                                   source_message_id=message_id, text=text, state="pending", created_at=self.clock()))
            return True
        except IntegrityError:
            return False

    def pending(self, conversation_id: int) -> list[RelayMessage]:
        with self._session() as s:
            return list(s.scalars(select(RelayMessage).where(RelayMessage.conversation_id == conversation_id,
                                                             RelayMessage.state == "pending")
                                  .order_by(RelayMessage.id)))

    def mark_sent(self, relay_id: int, target_chat: str, target_message_id: int | None, state: str = "sent") -> None:
        with self._session.begin() as s:
            row = s.get(RelayMessage, relay_id)
            if row is not None:
                row.state, row.target_chat, row.target_message_id = state, target_chat, target_message_id
                row.text = None

    def intro_of(self, conversation_id: int) -> int | None:
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return c.intro_message_id if c else None

    def helper_conversation(self, helper_id: int, helper_chat: str,
                            reply_to: int | None) -> ConversationView | None:
        """The conversation a mediator's message belongs to: the one whose message they replied to;
        without a reply, their only active one. A reply to anything else (e.g. a closed conversation)
        matches nothing rather than reaching someone else."""
        with self._session() as s:
            active = list(s.scalars(select(Conversation).where(Conversation.helper_id == helper_id,
                                                               Conversation.state == "active")
                                    .order_by(Conversation.assigned_at.desc())))
            if reply_to is None:
                return ConversationView.of(active[0]) if len(active) == 1 else None
            for c in active:
                if c.intro_message_id == reply_to:
                    return ConversationView.of(c)
            mapped = s.scalar(select(RelayMessage.conversation_id).where(
                RelayMessage.target_chat == helper_chat, RelayMessage.target_message_id == reply_to,
                RelayMessage.direction == "in"))
            if mapped is None:
                mapped = s.scalar(select(Conversation.id).where(Conversation.helper_id == helper_id,
                                                                Conversation.intro_message_id == reply_to))
            if mapped is not None:
                return next((ConversationView.of(c) for c in active if c.id == mapped), None)
            # A reply to something that belongs to no conversation (e.g. the bot's welcome).
            return ConversationView.of(active[0]) if len(active) == 1 else None

    def by_thread(self, thread: int) -> ConversationView | None:
        with self._session() as s:
            c = s.scalar(select(Conversation).where(Conversation.thread_id == thread)
                         .order_by(Conversation.id.desc()))
            return ConversationView.of(c) if c else None

    # ================================================================== hand-on, closing, background
    def reopen_for_mediators(self, conversation_id: int, actor: str) -> None:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.state, c.mode, c.helper_id, c.requested_at = "offering", None, None, self.clock()
                self._audit(s, actor, "handed_over", c.id, "mediator")

    def mediator_free(self, conversation_id: int) -> bool:
        """Would a mediator get an offer for this conversation right now? (Changes nothing.)"""
        with self._session() as s:
            c = s.get(Conversation, conversation_id)
            return c is not None and bool(self._candidates(s, c, self.clock())[0])

    def stalled(self, older_than_s: float = 10.0) -> list[int]:
        """Waiting for a mediator without an open offer and not queued: an interrupted hand-on."""
        cutoff = self.clock() - timedelta(seconds=older_than_s)
        pending = select(Offer.conversation_id).where(Offer.state == "pending")
        with self._session() as s:
            return list(s.scalars(select(Conversation.id).where(
                Conversation.state == "offering", Conversation.id.not_in(pending),
                Conversation.requested_at < cutoff)))

    def move_to_team(self, conversation_id: int, team: str, actor: str) -> None:
        with self._lock, self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is None:
                return
            c.state, c.mode, c.team, c.helper_id = "active", "staff", team, None
            c.translated = c.lang != self.teams.staff_language
            self._audit(s, actor, "handed_over", c.id, team)

    def mark_closed(self, conversation_id: int, actor: str, resolution: str) -> tuple[ConversationView | None,
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

    def drop_chat(self, conversation_id: int) -> None:
        """Nothing more will be sent to the person: forget where they are."""
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.person_chat = None

    def forget_chat(self, conversation_id: int) -> None:
        with self._session.begin() as s:
            c = s.get(Conversation, conversation_id)
            if c is not None:
                c.person_chat = None
                self._audit(s, "system", "person_blocked_bot", c.id)

    def release_helper(self, helper_id: int) -> list[tuple[int, bool]]:
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

    def expire_offers(self) -> list[tuple[int, int, str | None]]:
        now = self.clock()
        with self._lock, self._session.begin() as s:
            out = []
            for offer in s.scalars(select(Offer).where(Offer.state == "pending", Offer.expires_at <= now)):
                offer.state = "expired"
                helper = s.get(Helper, offer.helper_id)
                self._audit(s, f"helper:{offer.helper_id}", "offer_expired", offer.conversation_id)
                out.append((offer.id, offer.conversation_id, helper.chat if helper else None))
            return out

    def orphaned(self) -> list[int]:
        with self._session() as s:
            return list(s.scalars(select(Conversation.id).join(Helper, Conversation.helper_id == Helper.id).where(
                Conversation.state == "active", Conversation.mode == "mediator", Helper.unreachable.is_(True))))

    def with_pending(self) -> list[int]:
        with self._session() as s:
            return list(s.scalars(select(RelayMessage.conversation_id).join(
                Conversation, RelayMessage.conversation_id == Conversation.id).where(
                RelayMessage.state == "pending", Conversation.state == "active").distinct()))

    def forget_stale_consent(self) -> None:
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

    def audit(self, label: str | None = None) -> list[tuple[datetime, str, str, str | None, str | None]]:
        with self._session() as s:
            query = select(AuditEvent, Conversation.label).outerjoin(
                Conversation, AuditEvent.conversation_id == Conversation.id).order_by(AuditEvent.id)
            if label:
                query = query.where(Conversation.label == label)
            return [(as_utc(e.at), e.actor, e.action, lab, e.detail) for e, lab in s.execute(query)]

    def delivered_from_person(self, conversation_id: int, not_to: str) -> list[RelayMessage]:
        """The person's messages that went elsewhere than ``not_to`` (e.g. to a mediator), in order."""
        with self._session() as s:
            return list(s.scalars(select(RelayMessage).where(RelayMessage.conversation_id == conversation_id,
                                                             RelayMessage.direction == "in",
                                                             RelayMessage.state == "sent",
                                                             RelayMessage.target_chat != not_to)
                                  .order_by(RelayMessage.id)))

    def staff_without_topic(self) -> list[int]:
        if not self.settings.staff_chat:
            return []
        with self._session() as s:
            return list(s.scalars(select(Conversation.id).where(
                Conversation.state == "active", Conversation.mode == "staff", Conversation.thread_id.is_(None))))


def _missing(conversation_id: int) -> ConversationView:
    return ConversationView(conversation_id, "?", "gone", None, "de", None, None, None, None, None, False)
