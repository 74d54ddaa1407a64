"""The hand-over service: from "I need a person" to a relayed conversation and back.

Flow: a trigger (the person asks, no answer after a clarification, a sensitive topic, an
emergency) → the person sees what will be shared and agrees → matching: a language mediator who
speaks the language, is available now, is cleared for the topic and is under their caps, least
recently assigned first; offers go out one at a time and time out → otherwise the team responsible
for the topic, in a forum topic of the staff group, with machine translation both ways.

State lives in the database and changes only in ``bot.handover.state`` (under one lock, in a worker
thread): a restart loses nothing. Every relayed message is an outbox row first and a mapping after
delivery; its unique source id makes a repeated Telegram update harmless. This module does the
talking: it never imports ``telegram`` and delivers through a :class:`~bot.ports.RelayPort`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

from bot.handover.models import RelayMessage, utcnow
from bot.handover.registry import HelperView, InviteSpec, Registry
from bot.handover.state import ConversationView, HandoverSettings, HandoverState, Routed
from bot.handover.teams import Team, Teams
from bot.handover.texts import helper_text
from bot.ports import Button, IncomingMessage, RelayPort, Reply
from bot.store import Store
from core.errors import DeliveryError, RecipientGoneError, RejectedError, ThreadGoneError, TranslationUnavailable
from translations.messages import engine_messages
from translations.translator import NoTranslator, Translator
from translations.ui import UiCatalog

log = logging.getLogger(__name__)
# What is passed between the person and their helper (copied as it is); anything else gets a reply.
RELAYED_KINDS = frozenset({"text", "voice", "photo", "sticker", "location", "document"})


# Babel names Dari "fa_AF"; it has no "prs" locale.
BABEL_LOCALES = {"prs": "fa_AF"}

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
        self.state = HandoverState(store, teams, self.settings, clock, self.registry)
        self._flush_locks: dict[int, asyncio.Lock] = {}
        self._alerted: dict[str, datetime] = {}
        self._refused: dict[str, datetime] = {}
        self._opening: set[int] = set()  # conversations whose forum topic is being created right now
        self._moving: set[int] = set()  # conversations being moved from a lost mediator to staff
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

    # ================================================================== state the callers read
    def open_conversation(self, person_key: str) -> ConversationView | None:
        return self.state.open_conversation(person_key)

    def purge_closed(self, older_than_days: int) -> int:
        return self.state.purge_closed(older_than_days)

    def audit(self, label: str | None = None) -> list[tuple[datetime, str, str, str | None, str | None]]:
        return self.state.audit(label)

    # ================================================================== small helpers
    def t(self, lang: str | None, key: str, **values: object) -> str:
        return self.ui.get(lang, key, **values)

    def language_name(self, lang: str, in_lang: str | None = None) -> str:
        if in_lang is None:
            return self._language_names.get(lang, lang)
        try:
            names = Locale.parse(BABEL_LOCALES.get(in_lang, in_lang)).languages
            return str(names.get(lang) or names.get(BABEL_LOCALES.get(lang, lang)) or lang)
        except (ValueError, TypeError, UnknownLocaleError):
            return lang

    def _topic_label(self, topic: str | None, lang: str | None) -> str:
        return self.t(lang, f"topic.{topic}") if topic else self.t(lang, "handover.topic_general")

    def _when(self, moment: datetime, lang: str) -> str:
        local = moment.astimezone(self.teams.teams[self.teams.default_team].hours.tz)
        for locale in (BABEL_LOCALES.get(lang, lang), "en"):
            try:
                return format_datetime(local, "EEEE, d MMMM, HH:mm", locale=locale)
            except (ValueError, TypeError, LookupError, UnknownLocaleError):
                continue
        return local.strftime("%A %d.%m. %H:%M")

    async def prompt(self, msg: IncomingMessage, lang: str, topic: str | None, reason: str,
                     question: str | None) -> Reply:
        """What will be shared, and the buttons to agree; the request waits in state ``consent``."""
        if not self.settings.staff_chat and not await asyncio.to_thread(self.state.any_mediator):
            return Reply(self.t(lang, "human.ack"), lang=lang)
        existing = await asyncio.to_thread(self.open_conversation, msg.user_key)
        if existing is not None:
            return Reply(self.t(lang, "handover.already_open"), lang=lang)
        await asyncio.to_thread(self.state.create_consent, msg.user_key, msg.chat, lang, topic, reason, question)
        buttons = [[Button(self.t(lang, "button.connect_yes"), "ho:y")],
                   [Button(self.t(lang, "button.connect_woman"), "ho:w")],
                   [Button(self.t(lang, "button.connect_no"), "ho:n")]]
        return Reply(self.t(lang, "handover.consent", topic=self._topic_label(topic, lang)), buttons, lang)

    async def consent(self, msg: IncomingMessage, lang: str, choice: str) -> Reply:
        """``ho:y`` / ``ho:w`` (a woman, please) / ``ho:n`` on the person's own pending request."""
        if choice == "n":
            removed = await asyncio.to_thread(self.state.drop_consent, msg.user_key)
            return Reply(self.t(lang, "handover.declined" if removed else "handover.not_open"), lang=lang)
        conv = await asyncio.to_thread(self.state.accept_consent, msg.user_key, "f" if choice == "w" else None)
        if conv is None:
            existing = await asyncio.to_thread(self.open_conversation, msg.user_key)
            return Reply(self.t(lang, "handover.already_open" if existing else "handover.not_open"), lang=lang)
        routed = await self.route(conv.id)
        if routed.kind == "none":  # matched meanwhile by the sweeper, which told the person
            position = await asyncio.to_thread(self.state.position, conv.id)
            return Reply(self.t(lang, "handover.waiting", position=position), lang=lang)
        return self._status_reply(routed, lang)

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
        if msg.message_id is None or msg.kind not in RELAYED_KINDS:
            return Reply(self.t(lang, "input.unsupported"), lang=lang)
        text = msg.text if msg.kind == "text" else None
        stored = await asyncio.to_thread(self.state.enqueue, conv.id, "in", msg.chat, msg.message_id, text)
        if not stored:
            return None  # the same Telegram update again (e.g. after a restart): already handled
        if conv.state == "active" and await self.flush(conv.id):
            await self._ack(msg)
            return None
        position = await asyncio.to_thread(self.state.position, conv.id)
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
        ok = await asyncio.to_thread(self.state.store_feedback, msg.user_key, label, helped)
        if not ok:
            return Reply(self.t(lang, "input.unknown_command"), lang=lang)
        return Reply(self.t(lang, "feedback.thanks" if helped else "feedback.sorry"), lang=lang)

    async def forget_person(self, person_key: str) -> int:
        """/delete: open conversations are closed (the helper is told), then every row of the person goes."""
        conv = await asyncio.to_thread(self.open_conversation, person_key)
        if conv is not None:
            await self._close(conv.id, "person", helper_text("deleted_by_person"), ask_person=False)
        return await asyncio.to_thread(self.state.delete_person_rows, person_key)

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
        await asyncio.to_thread(self.state.audit_only, "system", "emergency_alert", None, category)

    async def route(self, conversation_id: int) -> Routed:
        """Match one waiting conversation and carry the outcome out (offer message or staff topic)."""
        routed = await asyncio.to_thread(self.state.match, conversation_id)
        await self._carry_out(routed)
        return routed

    async def _reroute(self, conversation_id: int) -> None:
        """Match again after an offer fell through, and tell the person where they stand now."""
        routed = await self.route(conversation_id)
        if routed.kind in ("staff", "queued", "unavailable") and routed.conversation.person_chat:
            await self._to_person(routed.conversation, self._status_reply(routed, routed.conversation.lang))

    async def _carry_out(self, routed: Routed) -> None:
        if routed.kind == "offer" and routed.helper is not None and routed.offer_id is not None:
            await self._send_offer(routed)
        elif routed.kind == "staff":
            await self._open_staff_topic(routed.conversation.id)

    async def _send_offer(self, routed: Routed) -> None:
        helper, conv = routed.helper, routed.conversation
        assert helper is not None and routed.offer_id is not None
        reason = await asyncio.to_thread(self.state.reason, conv)
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
            await asyncio.to_thread(self.state.resolve_offer, routed.offer_id, "expired")
            await self._reroute(conv.id)

    async def answer_offer(self, helper: HelperView, offer_id: int, accept: bool) -> Reply:
        outcome = await asyncio.to_thread(self.state.answer_offer, helper.id, offer_id, accept)
        if outcome is None:
            return Reply(helper_text("offer_gone"), lang="de")
        if not accept:
            await self._reroute(outcome.id)
            await self.drain_queue()
            return Reply(helper_text("declined"), lang="de")
        await self._connect_mediator(outcome, helper)
        return Reply(helper_text("accepted_help"), lang="de")

    async def _connect_mediator(self, conv: ConversationView, helper: HelperView) -> None:
        opening = await asyncio.to_thread(self.state.opening_text, conv.id)
        intro = helper_text("mediator_intro", label=conv.label, language=self.language_name(conv.lang, "de"),
                            topic=self._topic_label(conv.topic, "de"),
                            question=opening or helper_text("no_question"))
        try:
            intro_id = await self.port.deliver(helper.chat, Reply(intro, lang="de"))
        except RecipientGoneError:
            await self._helper_gone(helper.id)
            return
        await asyncio.to_thread(self.state.set_intro, conv.id, intro_id)
        if conv.person_chat:
            text = self.t(conv.lang, "handover.connected", alias=helper.alias)
            await self._to_person(conv, Reply(text, lang=conv.lang))
        await self.flush(conv.id)

    async def _open_staff_topic(self, conversation_id: int, note: str | None = None) -> None:
        staff_chat = self.settings.staff_chat
        if not staff_chat or conversation_id in self._opening:
            return  # the sweeper must not open a second topic while the first is being created
        self._opening.add(conversation_id)
        try:
            await self._open_staff_topic_now(staff_chat, conversation_id, note)
        finally:
            self._opening.discard(conversation_id)

    async def _open_staff_topic_now(self, staff_chat: str, conversation_id: int, note: str | None) -> None:
        conv, opening, reason, want = await asyncio.to_thread(self.state.conv_details, conversation_id)
        team = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        name = self._topic_name(conv, team)
        if conv.thread_id is None:
            try:
                thread = await self.port.create_topic(staff_chat, name)
            except DeliveryError:
                # E.g. the bot lost its right to manage topics: messages wait, the sweeper tries again.
                log.exception("handover.topic_not_created")
                return
            await asyncio.to_thread(self.state.set_thread, conv.id, thread)
        else:
            # Back with staff (e.g. from a mediator): the same topic, so the history stays in one place.
            try:
                await self.port.rename_topic(staff_chat, conv.thread_id, name)
            except DeliveryError as e:
                log.info("handover.rename_failed error=%s", type(e).__name__)
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

    async def _to_staff(self, conversation_id: int, reply: Reply) -> int | None:
        """Post into the conversation's forum topic; a deleted topic is replaced and staff are told."""
        staff_chat = self.settings.staff_chat
        if not staff_chat:
            return None
        for _ in range(2):
            conv = await asyncio.to_thread(self.state.view, conversation_id)
            if conv is None or conv.thread_id is None:
                return None  # never into the group's general topic
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
        await asyncio.to_thread(self.state.set_thread, conv.id, thread)
        await asyncio.to_thread(self.state.audit_only, "system", "topic_replaced", conv.id)
        notice = helper_text("topic_deleted", label=conv.label)
        try:
            await self.port.deliver(staff_chat, Reply(notice, lang="de"))
            await self.port.deliver(staff_chat, Reply(notice, lang="de"), thread=thread)
        except DeliveryError:
            log.exception("handover.topic_notice_failed")

    def _mt_for_staff(self, text: str, lang: str) -> str:
        try:
            translation = self.translator.translate(text, lang, self.teams.staff_language)
        except TranslationUnavailable:
            return helper_text("mt_missing", language=self.language_name(lang, "de"))
        return helper_text("mt_line", text=translation.text)

    # ================================================================== relay
    async def flush(self, conversation_id: int) -> bool:
        """Deliver the conversation's pending messages in order (one flush at a time per conversation);
        True when nothing is left pending. A blocked bot is handled after the lock is released, because
        handing the conversation on flushes it again."""
        gone: str | None = None
        lock = self._flush_locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            conv = await asyncio.to_thread(self.state.view, conversation_id)
            if conv is None or conv.state != "active":
                return False
            for row in await asyncio.to_thread(self.state.pending, conversation_id):
                try:
                    if row.direction == "in":
                        delivered = await self._relay_in(conv, row)
                    else:
                        delivered = await self._relay_out(conv, row)
                except RecipientGoneError:
                    gone = "person" if row.direction == "out" else "helper"
                    break
                except RejectedError as e:
                    # This one message cannot be passed on (deleted meanwhile, a kind Telegram will not
                    # copy): it must not hold up the ones after it.
                    log.warning("handover.relay_rejected direction=%s error=%s", row.direction, e)
                    await asyncio.to_thread(self.state.mark_sent, row.id, "", None, "failed")
                    continue
                except DeliveryError:
                    log.exception("handover.relay_failed direction=%s", row.direction)
                    return False  # stays pending: the sweeper tries again
                if not delivered:
                    return False
        if gone == "person":
            await self._person_gone(conv)
            return False
        if gone == "helper" and conv.helper_id is not None:
            await self._helper_gone(conv.helper_id)
            return False
        return gone is None

    async def _relay_in(self, conv: ConversationView, row: RelayMessage) -> bool:
        """Person → helper. False when there is nowhere to deliver yet (it stays pending)."""
        if conv.mode == "mediator" and conv.helper_id is not None:
            helper = await asyncio.to_thread(self.registry.get, conv.helper_id)
            if helper is None or not helper.chat:
                return False
            reply_to = await asyncio.to_thread(self.state.intro_of, conv.id)
            target = await self.port.copy(row.source_chat, row.source_message_id, helper.chat, reply_to=reply_to)
            await asyncio.to_thread(self.state.mark_sent, row.id, helper.chat, target)
            await asyncio.to_thread(self.state.audit_only, f"helper:{helper.id}", "message_in", conv.id)
            return True
        if conv.mode == "staff" and self.settings.staff_chat and conv.thread_id is not None:
            staff_target: int | None
            if conv.translated and row.text:
                # Machine translation never runs on the event loop; staff read the translation first.
                mt = await asyncio.to_thread(self._mt_for_staff, row.text, conv.lang)
                text = mt + "\n" + helper_text("person_says", label=conv.label, text=row.text)
                staff_target = await self._to_staff(conv.id, Reply(text, lang="de"))
            else:
                staff_target = await self._copy_to_staff(conv, row)
            if staff_target is None:
                return False
            await asyncio.to_thread(self.state.mark_sent, row.id, self.settings.staff_chat, staff_target)
            return True
        return False

    async def _copy_to_staff(self, conv: ConversationView, row: RelayMessage) -> int | None:
        staff_chat = self.settings.staff_chat
        assert staff_chat is not None
        for _ in range(2):
            current = await asyncio.to_thread(self.state.view, conv.id)
            if current is None or current.thread_id is None:
                return None
            try:
                return await self.port.copy(row.source_chat, row.source_message_id, staff_chat,
                                            thread=current.thread_id)
            except ThreadGoneError:
                await self._replace_topic(current)
        return None

    async def _relay_out(self, conv: ConversationView, row: RelayMessage) -> bool:
        """Helper → person: a copy, or for staff writing German to someone who does not read it, a
        labelled machine translation with the original below."""
        if not conv.person_chat:
            await asyncio.to_thread(self.state.mark_sent, row.id, "", None, "failed")
            return True
        if conv.translated and row.text:
            text = await asyncio.to_thread(self._mt_for_person, row.text, conv.lang)
            target = await self.port.deliver(conv.person_chat, Reply(text, lang=conv.lang))
        else:
            target = await self.port.copy(row.source_chat, row.source_message_id, conv.person_chat)
        await asyncio.to_thread(self.state.mark_sent, row.id, conv.person_chat, target)
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
            await asyncio.to_thread(self.state.audit_only, "unknown", "join_refused", None)
            return Reply(helper_text("join_refused"), lang="de")
        await asyncio.to_thread(self.state.audit_only, f"helper:{helper.id}", "joined", None, helper.role)
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
        conv = await asyncio.to_thread(self.state.helper_conversation, helper.id, helper.chat, msg.reply_to)
        if conv is None:
            return Reply(helper_text("no_conversation"), lang="de")
        return await self._from_helper_in(conv, msg, helper)

    async def _from_helper_in(self, conv: ConversationView, msg: IncomingMessage, helper: HelperView) -> Reply | None:
        text = msg.text or ""
        if text.lstrip().lower().startswith("!note"):
            await asyncio.to_thread(self.state.audit_only, f"helper:{helper.id}", "note", conv.id)
            await self._ack(msg)  # kept, not passed on: stays in the helper's chat / staff topic
            return None
        if msg.message_id is None or msg.kind not in RELAYED_KINDS:
            return Reply(helper_text("unknown"), lang="de")
        stored = await asyncio.to_thread(self.state.enqueue, conv.id, "out", msg.chat, msg.message_id,
                                         text if msg.kind == "text" else None)
        if stored:
            await asyncio.to_thread(self.state.audit_only, f"helper:{helper.id}", "message_out", conv.id)
            if await self.flush(conv.id):
                await self._ack(msg)
        return None

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
                conv = await asyncio.to_thread(self.state.helper_conversation, helper.id, helper.chat,
                                               msg.reply_to)
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
            # Said once per person and hour, so that a chatty group member is not answered every time.
            now = self.clock()
            last = self._refused.get(msg.user_key)
            if msg.kind not in ("command", "text") or (last and (now - last).total_seconds() < 3600):
                return None
            self._refused[msg.user_key] = now
            await asyncio.to_thread(self.state.audit_only, "unknown", "staff_group_refused", None)
            return Reply(helper_text("not_staff"), lang="de")
        if msg.kind == "callback":
            return Reply(helper_text("unknown"), lang="de")
        conv = await asyncio.to_thread(self.state.by_thread, msg.thread_id) if msg.thread_id else None
        if conv is None:
            if msg.kind == "command" and (msg.command or "") in ("help", "start", "status"):
                return await self._helper_command(msg, helper, None)
            return None  # ordinary talk among staff outside conversation topics
        if conv.state != "active" or conv.mode != "staff":
            # The topic of a conversation that ended or went to a mediator: nothing is passed on.
            if msg.kind == "text" and (msg.text or "").lstrip().lower().startswith("!note"):
                return None
            return Reply(helper_text("topic_inactive", label=conv.label), lang="de")
        if msg.kind == "command":
            return await self._helper_command(msg, helper, conv)
        return await self._from_helper_in(conv, msg, helper)

    async def _handover(self, conv: ConversationView, helper: HelperView, target: str) -> Reply:
        target = target.strip().lower()
        if target in ("mediator", "sprachmittlung"):
            if conv.mode != "staff":
                return Reply(helper_text("handover_usage", teams=", ".join(self.teams.teams)), lang="de")
            if not await asyncio.to_thread(self.state.mediator_free, conv.id):
                return Reply(helper_text("no_mediator_free"), lang="de")  # nothing changes
            await asyncio.to_thread(self.state.reopen_for_mediators, conv.id, f"helper:{helper.id}")
            routed = await self.route(conv.id)
            if routed.kind == "staff":
                return Reply(helper_text("no_mediator_free"), lang="de")
            return Reply(helper_text("handed_to_mediator", label=conv.label), lang="de")
        # Without a team named: back to the team that had it before, else the one for the topic.
        default = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        team = self.teams.get(target) or (default if target in ("", "staff", "team") else None)
        if not self.settings.staff_chat:
            return Reply(helper_text("no_staff_group"), lang="de")
        if team is None:
            return Reply(helper_text("handover_usage", teams=", ".join(self.teams.teams)), lang="de")
        was_mediator = conv.mode == "mediator"
        await asyncio.to_thread(self.state.move_to_team, conv.id, team.id, f"helper:{helper.id}")
        if was_mediator or conv.thread_id is None:
            await self._open_staff_topic(conv.id, helper_text("from_mediator", alias=helper.alias))
            await self._recopy_history(conv.id)
        else:
            staff_chat = self.settings.staff_chat
            if staff_chat and conv.thread_id is not None:
                moved = await asyncio.to_thread(self.state.view, conv.id)
                if moved is not None:
                    try:
                        await self.port.rename_topic(staff_chat, conv.thread_id, self._topic_name(moved, team))
                    except DeliveryError:
                        log.info("handover.rename_failed")
        await self._to_person(conv, Reply(self.t(conv.lang, "handover.moved", team=team.name(conv.lang)),
                                          lang=conv.lang))
        return Reply(helper_text("handed_to_team", label=conv.label, team=team.name("de")), lang="de")

    async def _recopy_history(self, conversation_id: int) -> None:
        """The person's earlier messages follow the conversation to the new team (copies, in order)."""
        staff_chat = self.settings.staff_chat
        conv = await asyncio.to_thread(self.state.view, conversation_id)
        if not staff_chat or conv is None:
            return
        for row in await asyncio.to_thread(self.state.delivered_from_person, conversation_id, staff_chat):
            try:
                await self.port.copy(row.source_chat, row.source_message_id, staff_chat, thread=conv.thread_id)
            except DeliveryError:
                log.info("handover.history_copy_failed")

    # ================================================================== closing
    async def _close(self, conversation_id: int, actor: str, resolution: str, ask_person: bool = True) -> None:
        conv, helper_chat = await asyncio.to_thread(self.state.mark_closed, conversation_id, actor, resolution)
        if conv is None:
            return
        if ask_person and conv.person_chat:
            buttons = [[Button(self.t(conv.lang, "button.helpful"), f"cl:y:{conv.label}"),
                        Button(self.t(conv.lang, "button.not_helpful"), f"cl:n:{conv.label}")]]
            note = resolution
            if conv.translated:  # staff write the note in German
                note = await asyncio.to_thread(self._mt_for_person, resolution, conv.lang)
            await self._to_person(conv, Reply(self.t(conv.lang, "handover.closed", resolution=note), buttons,
                                              conv.lang))
        # The feedback answer comes back as a button press: the person's chat id is no longer needed.
        await asyncio.to_thread(self.state.drop_chat, conv.id)
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

    async def _person_gone(self, conv: ConversationView) -> None:
        """The person blocked the bot: close, and tell whoever was helping."""
        await asyncio.to_thread(self.state.forget_chat, conv.id)
        await self._close(conv.id, "system", helper_text("person_blocked"), ask_person=False)

    async def _helper_gone(self, helper_id: int) -> None:
        """A mediator blocked the bot (or was removed): their offers and conversations go on, staff are told."""
        moved = await asyncio.to_thread(self.state.release_helper, helper_id)
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
                await self._reroute(conv_id)

    async def _to_staff_after_mediator(self, conversation_id: int) -> None:
        # The sweeper may find the same orphaned conversation while this runs: move it once.
        if conversation_id in self._moving:
            return
        self._moving.add(conversation_id)
        try:
            await self._move_from_mediator(conversation_id)
        finally:
            self._moving.discard(conversation_id)

    async def _move_from_mediator(self, conversation_id: int) -> None:
        conv = await asyncio.to_thread(self.state.view, conversation_id)
        if conv is None or conv.mode != "mediator" or conv.state != "active":
            return
        if not self.settings.staff_chat:
            # No staff group: another mediator, or an honest "nobody can be reached".
            await asyncio.to_thread(self.state.reopen_for_mediators, conv.id, "system")
            await self._reroute(conv.id)
            return
        team = self.teams.get(conv.team) or self.teams.for_topic(conv.topic)
        await asyncio.to_thread(self.state.move_to_team, conv.id, team.id, "system")
        await self._open_staff_topic(conv.id, helper_text("mediator_gone"))
        await self._recopy_history(conv.id)
        await self._to_person(conv, Reply(self.t(conv.lang, "handover.moved", team=team.name(conv.lang)),
                                          lang=conv.lang))

    # ================================================================== background
    async def drain_queue(self) -> None:
        """Queued conversations get the next free mediator (first come, first served)."""
        while (routed := await asyncio.to_thread(self.state.match_first_queued)) is not None:
            await self._carry_out(routed)
            if routed.kind in ("offer", "staff") and routed.conversation.person_chat:
                await self._to_person(routed.conversation, self._status_reply(routed, routed.conversation.lang))

    async def sweep(self) -> None:
        """Expired offers go to the next candidate; waiting people are re-matched; pending messages
        (e.g. from before a restart) are delivered; abandoned consent prompts are forgotten."""
        for offer_id, conv_id, helper_chat in await asyncio.to_thread(self.state.expire_offers):
            if helper_chat:
                try:
                    await self.port.deliver(helper_chat, Reply(helper_text("offer_expired"), lang="de"))
                except DeliveryError:
                    log.info("handover.expiry_notice_failed offer=%d", offer_id)
            await self._reroute(conv_id)
        # Waiting without an open offer (e.g. a restart between a decline and the next offer).
        for conv_id in await asyncio.to_thread(self.state.stalled):
            await self._reroute(conv_id)
        await self.drain_queue()
        for conv_id in await asyncio.to_thread(self.state.orphaned):
            await self._to_staff_after_mediator(conv_id)
        for conv_id in await asyncio.to_thread(self.state.staff_without_topic):
            await self._open_staff_topic(conv_id)
        for conv_id in await asyncio.to_thread(self.state.with_pending):
            await self.flush(conv_id)
        await asyncio.to_thread(self.state.forget_stale_consent)

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
