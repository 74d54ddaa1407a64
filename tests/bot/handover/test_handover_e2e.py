"""The hand-over end to end: the real python-telegram-bot over HTTP against the fake Bot API, with
several accounts — people asking for help, volunteer language mediators, staff in a forum group."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.dialogue import DialogueService, DialogueSettings
from bot.handover.models import Conversation, Offer, RelayMessage
from bot.handover.service import HandoverService
from bot.handover.texts import helper_text
from bot.store import Pseudonymizer, Store
from bot.telegram_app import ACK_EMOJI, TelegramBot
from nlu.intents import NluService
from retrieval.engine import AnswerEngine
from tests.bot.handover.conftest import STAFF_CHAT, WEEKEND, Clock, HandoverFactory, invite
from tests.bot.tg import bot_settings, buttons, start, stop
from tests.fakes.bot_api import FakeBotApi, FakeUser, SentRecord

STAFF = int(STAFF_CHAT)
RELAYED = ("sendMessage", "copyMessage")


class World:
    """One district: the bot, its database, and the people around it."""

    def __init__(self, fake: FakeBotApi, engine: AnswerEngine, store: Store, nlu: NluService,
                 make_handover: HandoverFactory, tmp_path: Path, clock: Clock) -> None:
        self.fake, self.engine, self.store, self.nlu = fake, engine, store, nlu
        self.make_handover, self.tmp_path, self.clock = make_handover, tmp_path, clock
        self.pseudonyms = Pseudonymizer(b"test-key-of-sufficient-length!!")
        self.handover_settings: dict[str, Any] = {}
        self.bot: TelegramBot | None = None
        self.handover: HandoverService

    async def start(self) -> None:
        self.handover = self.make_handover(**self.handover_settings)
        dialogue = DialogueService(self.engine, self.store, DialogueSettings(), nlu=self.nlu, handover=self.handover)
        self.bot = await start(TelegramBot(bot_settings(self.fake, self.tmp_path), dialogue, self.store,
                                           self.pseudonyms))

    async def stop(self) -> None:
        if self.bot is not None:
            await stop(self.bot)
            self.bot = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # ------------------------------------------------------------------ waiting
    async def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 15) -> Any:
        return await self.fake.wait_for(predicate, timeout, what, fail_fast=self.fake.strict)

    async def next_to(self, user: FakeUser | int, after: int, methods: tuple[str, ...] = ("sendMessage",),
                      what: str = "a message") -> SentRecord:
        chat = user if isinstance(user, int) else user.id

        def found() -> SentRecord | None:
            records = self.fake.messages_to(chat, methods)
            return records[after] if len(records) > after else None

        return await self.wait(found, f"{what} to {chat} (#{after + 1})")

    def count(self, user: FakeUser | int, methods: tuple[str, ...] = ("sendMessage",)) -> int:
        return len(self.fake.messages_to(user if isinstance(user, int) else user.id, methods))

    # ------------------------------------------------------------------ actors
    async def join(self, user: FakeUser, role: str = "mediator", languages: str = "", **kw: object) -> int:
        code = invite(self.handover, role, languages, **kw)
        n = self.count(user)
        self.fake.push_command(user, f"/join {code}")
        reply = await self.next_to(user, n, what="welcome")
        helper = self.handover.registry.by_key(self.pseudonyms.key("telegram", user.id))
        assert helper is not None, reply["text"]
        return helper.id

    async def connected(self, mediator: FakeUser, languages: str, person: FakeUser) -> None:
        """A mediator joins, the person asks, the mediator accepts: a conversation in progress."""
        await self.join(mediator, languages=languages)
        await self.request(person)
        await self.press(mediator, await self.offer_to(mediator), "of:a:")
        await self.next_to(person, 2, what="connected")

    async def request(self, person: FakeUser, choice: str = "ho:y") -> SentRecord:
        """/human, then agree on the consent prompt; returns the status reply."""
        n = self.count(person)
        self.fake.push_command(person, "/human")
        prompt = await self.next_to(person, n, what="consent prompt")
        assert buttons(prompt) == ["ho:y", "ho:w", "ho:n"]
        self.fake.push_callback(person, choice, message_id=prompt["message_id"])
        return await self.next_to(person, n + 1, what="hand-over status")

    def offers(self, helper: FakeUser) -> list[SentRecord]:
        return [r for r in self.fake.messages_to(helper.id) if any(d.startswith("of:a:") for d in buttons(r))]

    async def offer_to(self, helper: FakeUser, n: int = 1) -> SentRecord:
        return await self.wait(lambda: self.offers(helper)[n - 1] if len(self.offers(helper)) >= n else None,
                               f"offer #{n} to {helper.first_name}")

    async def press(self, user: FakeUser, record: SentRecord, prefix: str) -> None:
        data = next(d for d in buttons(record) if d.startswith(prefix))
        self.fake.push_callback(user, data, message_id=record["message_id"])

    def say(self, user: FakeUser, text: str, **kw: Any) -> int:
        """Push a text; returns its message id."""
        self.fake.push_text(user, text, **kw)
        return int(self.fake.pushed[-1]["message"]["message_id"])

    def conversations(self) -> list[Conversation]:
        with self.store.sessions() as s:
            return list(s.scalars(select(Conversation).order_by(Conversation.id)))

    def topic_thread(self) -> int:
        threads = list(self.fake.topics.get(STAFF, {}))
        assert threads, "no forum topic was created"
        return threads[-1]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        api.add_chat(STAFF, "supergroup", "Wegweiser – Team Landkreis", is_forum=True)
        yield api


@pytest.fixture
async def world(fake: FakeBotApi, engine: AnswerEngine, store: Store, nlu: NluService,
                make_handover: HandoverFactory, tmp_path: Path, clock: Clock) -> AsyncIterator[World]:
    w = World(fake, engine, store, nlu, make_handover, tmp_path, clock)
    await w.start()
    yield w
    await w.stop()


def leaks(fake: FakeBotApi, chat: int, others: list[FakeUser]) -> list[str]:
    """Names, usernames or ids of ``others`` in anything the client of ``chat`` received."""
    found = []
    for record in fake.sent:
        if record["chat_id"] != chat or record["message"] is None:
            continue
        seen = json.dumps(record["message"], ensure_ascii=False)
        for other in others:
            for token in (other.first_name, other.last_name, other.username, str(other.id)):
                if token and token in seen:
                    found.append(f"{token!r} in {record['method']} to {chat}")
    return found


# ====================================================================== matching and relay
async def test_matched_by_language_relayed_both_ways_closed_and_nobody_learns_who_the_other_is(world: World) -> None:
    fake = world.fake
    karim = fake.user(7_770_101, "Karim", language_code="de", username="karim_ar", last_name="Haddad")
    leyla = fake.user(7_770_102, "Leyla", language_code="de", username="leyla_fa", last_name="Rahimi")
    await world.join(karim, languages="ar")
    leyla_id = await world.join(leyla, languages="fa,prs", alias="Sprachmittlung Dari 1")
    zahra = fake.user(7_770_201, "Zahra", language_code="fa", username="zahra_a", last_name="Ahmadi")

    status = await world.request(zahra)
    assert status["text"] == world.handover.t("fa", "handover.offering", language="فارسی", minutes=3)
    offer = await world.offer_to(leyla)
    assert world.offers(karim) == [], "the Arabic mediator is not asked for a Dari/Farsi request"
    assert "Persisch" in (offer["text"] or "") and "#" in (offer["text"] or "")

    await world.press(leyla, offer, "of:a:")
    connected = await world.next_to(zahra, 2, what="connected notice")
    assert "Sprachmittlung Dari 1" in (connected["text"] or "")

    question = "سلام، برای وقت گرفتن از اداره اتباع کمک میخواهم"
    asked = world.say(zahra, question)
    copied = await world.next_to(leyla, 0, ("copyMessage",), "the person's message")
    assert copied["message"] is not None and copied["message"]["text"] == question
    await world.wait(lambda: fake.reactions.get((zahra.id, asked)), "the quiet 👌 on the relayed message")
    assert fake.reactions[(zahra.id, asked)] == [{"type": "emoji", "emoji": ACK_EMOJI}]

    answer = "سلام! حتماً. فردا با هم فرم را پر می‌کنیم."
    world.say(leyla, answer, reply_to=copied["message_id"])
    back = await world.next_to(zahra, 0, ("copyMessage",), "the mediator's answer")
    assert back["message"] is not None and back["message"]["text"] == answer

    world.say(leyla, "!note Termin am Dienstag vereinbaren")
    fake.push_command(leyla, "/close Termin bei der Ausländerbehörde erklärt")
    closing = await world.next_to(zahra, 3, what="closing question")
    assert "Termin bei der Ausländerbehörde erklärt" in (closing["text"] or "")
    assert all("Dienstag" not in (r["text"] or "") for r in fake.messages_to(zahra.id, RELAYED))
    await world.press(zahra, closing, "cl:y:")
    thanks = await world.next_to(zahra, 4, what="thanks")
    assert thanks["text"] == world.handover.t("fa", "feedback.thanks")

    [conv] = world.conversations()
    assert (conv.state, conv.helped, conv.person_chat, conv.helper_id) == ("closed", True, None, leyla_id)
    actions = [(actor, action) for _, actor, action, _, _ in world.handover.audit(conv.label)]
    for expected in [("person", "consented"), (f"helper:{leyla_id}", "offered"), (f"helper:{leyla_id}", "accepted"),
                     (f"helper:{leyla_id}", "message_in"), (f"helper:{leyla_id}", "note"),
                     (f"helper:{leyla_id}", "closed")]:
        assert expected in actions
    assert leaks(fake, zahra.id, [leyla, karim]) == []
    assert leaks(fake, leyla.id, [zahra]) == []


async def test_decline_and_timeout_hand_the_offer_to_the_next_mediator(world: World) -> None:
    fake = world.fake
    amal, badr, cemal = (fake.user(7_770_111 + i, name, language_code="de") for i, name in
                         enumerate(("Amal", "Badr", "Cemal")))
    for mediator in (amal, badr, cemal):
        await world.join(mediator, languages="ar")
    omar = fake.user(7_770_211, "Omar", language_code="ar")
    await world.request(omar)

    first = await world.offer_to(amal)
    assert world.offers(badr) == world.offers(cemal) == [], "one offer at a time"
    await world.press(amal, first, "of:d:")
    second = await world.offer_to(badr)
    assert world.offers(cemal) == []

    world.clock.advance(181)  # Badr does not answer within the 3 minutes
    third = await world.offer_to(cemal)
    await world.wait(lambda: helper_text("offer_expired") in fake.texts_to(badr.id), "expiry notice to Badr")
    await world.press(badr, second, "of:a:")  # too late
    await world.wait(lambda: helper_text("offer_gone") in fake.texts_to(badr.id), "late accept refused")
    await world.press(cemal, third, "of:a:")
    await world.wait(lambda: world.conversations()[0].state == "active", "Cemal takes over")
    with world.store.sessions() as s:
        states = [o.state for o in s.scalars(select(Offer).order_by(Offer.id))]
    assert states == ["declined", "expired", "accepted"]


async def test_fifty_simultaneous_requests_never_push_a_mediator_over_their_caps(world: World) -> None:
    fake = world.fake
    mediators = [fake.user(7_770_121 + i, f"Mediator{i}", language_code="de") for i in range(3)]
    caps = [(2, 5), (2, 5), (2, 1)]  # (open conversations, conversations per week)
    for user, (max_open, max_week) in zip(mediators, caps, strict=True):
        await world.join(user, languages="ar", max_open=max_open, max_per_week=max_week)
    people = [fake.user(7_771_000 + i, f"Person{i}", language_code="ar") for i in range(50)]
    for person in people:
        fake.push_command(person, "/human")
    prompts = [await world.next_to(p, 0, what="consent prompt") for p in people]
    for person, prompt in zip(people, prompts, strict=True):
        fake.push_callback(person, "ho:y", message_id=prompt["message_id"])
    statuses = [(await world.next_to(p, 1, what="status"))["text"] or "" for p in people]

    t = world.handover.t
    offering = t("ar", "handover.offering", language="العربية", minutes=3)
    queued = sorted(s for s in statuses if s != offering)
    assert statuses.count(offering) == 5  # 2 + 2 + 1: every cap reached, none exceeded
    assert queued == sorted(t("ar", "handover.queued", language="العربية", position=n) for n in range(1, 46))
    offers = [len(world.offers(m)) for m in mediators]
    assert offers == [2, 2, 1]
    for view in world.handover.registry.search(role="mediator"):
        assert view.open_now <= view.max_open and view.this_week <= view.max_per_week

    # A mediator finishes a conversation: the first in line is offered to them next, and told so.
    first = world.offers(mediators[0])[0]
    await world.press(mediators[0], first, "of:a:")
    await world.wait(lambda: sum(c.state == "active" for c in world.conversations()) == 1, "accepted")
    head = next(p for p, s in zip(people, statuses, strict=True)
                if s == t("ar", "handover.queued", language="العربية", position=1))
    fake.push_command(mediators[0], "/close erledigt")
    await world.offer_to(mediators[0], 3)
    told = await world.next_to(head, 2, what="the first in line hears that a mediator is asked")
    assert told["text"] == offering
    assert [v.open_now for v in world.handover.registry.search(role="mediator")] == [2, 2, 1]


# ====================================================================== staff
async def test_without_a_mediator_the_team_answers_with_machine_translation_both_ways(
    world: World, make_translator: Callable[..., Any]
) -> None:
    """Pashto has no mediator here: the default team answers in its forum topic, through the tiny real
    Argos packages built for the tests (ps→en→de and de→en→ps, English as the pivot)."""
    world.handover_settings = {"translator": make_translator()}
    await world.restart()
    fake = world.fake
    sabine = fake.user(7_770_301, "Sabine", language_code="de", username="sabine_lra", last_name="Krause")
    await world.join(sabine, role="staff", team="social_services")
    gul = fake.user(7_770_401, "Gul", language_code="ps", username="gul_p", last_name="Khan")
    status = await world.request(gul)
    team = world.handover.teams.teams["social_services"]  # no topic yet: the default team
    assert status["text"] == (world.handover.t("ps", "handover.with_team", team=team.name("ps"), position=1)
                              + "\n\n" + world.handover.t("ps", "handover.translated_note"))
    thread = world.topic_thread()
    [conv] = world.conversations()
    name = fake.topics[STAFF][thread]["name"]
    assert conv.label in name and "Gul" not in name and "gul_p" not in name
    intro = await world.next_to(STAFF, 0, what="topic intro")
    assert intro["params"].get("message_thread_id") == thread and "Paschtu" in (intro["text"] or "")

    world.say(gul, "زه د خپلې پېژندپاڼې په اړه پوښتنه لرم.")
    relayed = await world.next_to(STAFF, 1, what="the person's message in the topic")
    assert relayed["params"].get("message_thread_id") == thread
    assert relayed["text"] == (helper_text("mt_line", text="Ich habe eine Frage zu meinem Ausweisdokument.")
                               + f"\n{conv.label}: زه د خپلې پېژندپاڼې په اړه پوښتنه لرم.")

    before = world.count(gul, RELAYED)
    world.say(sabine, "!note Akte liegt bei Frau K.", chat_type="supergroup", chat_id=STAFF, message_thread_id=thread)
    world.say(sabine, "Danke, wir melden uns morgen.", chat_type="supergroup", chat_id=STAFF,
              message_thread_id=thread)
    answer = await world.next_to(gul, before, RELAYED, "the staff answer, machine-translated")
    assert answer["text"] == ("مننه، سبا به درسره اړیکه ونیسو.\n\n" + world.handover.t("ps", "handover.mt_label")
                              + "\n\n— Deutsch —\nDanke, wir melden uns morgen.")
    # A protected term survives both ways verbatim.
    world.say(sabine, "Bitte bringen Sie Ihre Aufenthaltsgestattung mit.", chat_type="supergroup", chat_id=STAFF,
              message_thread_id=thread)
    term = await world.next_to(gul, before + 1, RELAYED, "the second staff answer")
    assert (term["text"] or "").startswith("مهرباني وکړئ خپل Aufenthaltsgestattung راوړئ.")
    assert "Akte" not in " ".join(r["text"] or "" for r in fake.messages_to(gul.id, RELAYED))
    assert leaks(fake, gul.id, [sabine]) == [] and leaks(fake, STAFF, [gul]) == []


async def test_without_a_translation_package_staff_see_the_original_and_the_person_is_told(world: World) -> None:
    fake = world.fake
    uwe = fake.user(7_770_307, "Uwe", language_code="de")
    await world.join(uwe, role="staff", team="social_services")
    hawa = fake.user(7_770_407, "Hawa", language_code="so")
    await world.request(hawa)
    thread = world.topic_thread()
    await world.next_to(STAFF, 0, what="topic intro")
    world.say(hawa, "Waxaan u baahanahay caawimaad")
    relayed = await world.next_to(STAFF, 1, what="the Somali message")
    assert "Waxaan u baahanahay caawimaad" in (relayed["text"] or "")
    assert helper_text("mt_missing", language="Somali") in (relayed["text"] or "")
    before = world.count(hawa, RELAYED)
    world.say(uwe, "Wir rufen Sie an.", chat_type="supergroup", chat_id=STAFF, message_thread_id=thread)
    answer = await world.next_to(hawa, before, RELAYED, "the German answer with a notice")
    assert answer["text"] == "Wir rufen Sie an.\n\n" + world.handover.t("so", "handover.mt_missing")


async def test_outside_office_hours_the_person_hears_when_the_office_opens(world: World) -> None:
    world.clock.now = WEEKEND
    fake = world.fake
    await world.join(fake.user(7_770_302, "Jana", language_code="de"), role="staff", team="social_services")
    lena = fake.user(7_770_402, "Lena", language_code="de")
    status = await world.request(lena)
    text = status["text"] or ""
    assert "Montag" in text and "08:00" in text and "112" in text and "110" in text
    await world.next_to(STAFF, 0, what="topic intro")  # staff find it when they are back


async def test_an_emergency_alerts_staff_without_sharing_the_message(world: World) -> None:
    fake = world.fake
    await world.join(fake.user(7_770_303, "Tom", language_code="de"), role="staff", team="health_office")
    mona = fake.user(7_770_403, "Mona", language_code="ar")
    text = "ساعدوني، زوجي يضربني الآن"
    world.say(mona, text)
    reply = await world.next_to(mona, 0, what="emergency numbers")
    assert "110" in (reply["text"] or "") and any(d.startswith("human") for d in buttons(reply))
    alert = await world.next_to(STAFF, 0, what="staff alert")
    assert "🚨" in (alert["text"] or "") and "Arabisch" in (alert["text"] or "")
    assert text not in (alert["text"] or "") and "يضربني" not in (alert["text"] or "")


# ====================================================================== durability
async def test_restart_mid_conversation_loses_nothing_and_sends_nothing_twice(world: World) -> None:
    fake = world.fake
    farid = fake.user(7_770_131, "Farid", language_code="de")
    huda = fake.user(7_770_231, "Huda", language_code="ar")
    await world.connected(farid, "ar", huda)

    await world.stop()
    world.say(huda, "هل أنت هناك؟")  # written while the bot is down
    before = fake.pushed[-1]
    await world.start()
    copied = await world.next_to(farid, 0, ("copyMessage",), "the message from the downtime")
    assert copied["message"] is not None and copied["message"]["text"] == "هل أنت هناك؟"

    # Telegram delivers the same message again (e.g. the offset was not confirmed before a crash).
    fake.push_raw({"message": before["message"]})
    world.say(huda, "شكراً")
    await world.next_to(farid, 1, ("copyMessage",), "the next message")
    await asyncio.sleep(1.5)
    texts = [r["message"]["text"] for r in fake.messages_to(farid.id, ("copyMessage",)) if r["message"]]
    assert texts == ["هل أنت هناك؟", "شكراً"], "nothing lost, nothing twice"
    with world.store.sessions() as s:
        assert s.scalar(select(RelayMessage.id).where(RelayMessage.state == "pending")) is None


async def test_a_pending_offer_survives_a_restart_and_still_times_out(world: World) -> None:
    fake = world.fake
    await world.join(fake.user(7_770_304, "Ines", language_code="de"), role="staff", team="social_services")
    nadia = fake.user(7_770_132, "Nadia", language_code="de")
    await world.join(nadia, languages="uk,ru")
    ivan = fake.user(7_770_232, "Ivan", language_code="uk")
    await world.request(ivan)
    await world.offer_to(nadia)
    await world.restart()
    world.clock.advance(200)
    moved = await world.next_to(ivan, 2, what="status after the timeout")
    assert "Sozialamt" in (moved["text"] or "") or "social services" in (moved["text"] or "").lower() or \
        world.handover.t("uk", "handover.translated_note") in (moved["text"] or "")
    assert world.conversations()[0].mode == "staff"


async def test_blocked_bot_on_either_side_is_handled_and_reported(world: World) -> None:
    fake = world.fake
    await world.join(fake.user(7_770_305, "Uwe", language_code="de"), role="staff", team="social_services")
    gone = fake.user(7_770_133, "Gone", language_code="de")
    await world.join(gone, languages="tr")
    fake.block_user(gone.id)
    ali = fake.user(7_770_233, "Ali", language_code="tr")
    await world.request(ali)
    report = await world.wait(lambda: next((t for t in fake.texts_to(STAFF) if "blockiert" in t), None),
                              "report to staff")
    assert "Gone" not in report
    await world.wait(lambda: world.conversations()[0].mode == "staff", "the team took over")

    # Now the person blocks the bot while the team is writing to them.
    fake.block_user(ali.id)
    thread = world.topic_thread()
    uwe = fake.user(7_770_305, "Uwe", language_code="de")
    world.say(uwe, "Guten Tag, wie können wir helfen?", chat_type="supergroup", chat_id=STAFF,
              message_thread_id=thread)
    await world.wait(lambda: world.conversations()[0].state == "closed", "conversation closed")
    await world.wait(lambda: any(helper_text("person_blocked") in t for t in fake.texts_to(STAFF)),
                     "staff told that the person blocked the bot")


async def test_a_deleted_forum_topic_is_replaced_and_reported(fake: FakeBotApi, world: World) -> None:
    fake.strict = False  # the bot's first try at the deleted topic is answered 400 on purpose
    await world.join(fake.user(7_770_306, "Vera", language_code="de"), role="staff", team="social_services")
    sara = fake.user(7_770_234, "Sara", language_code="de")
    await world.request(sara)
    old = world.topic_thread()
    await world.next_to(STAFF, 0, what="intro")
    fake.delete_topic(STAFF, old)
    world.say(sara, "Ich brauche Hilfe mit dem Brief.")
    await world.wait(lambda: len(fake.topics[STAFF]) == 1 and world.topic_thread() != old, "a new topic")
    new = world.topic_thread()
    copied = await world.next_to(STAFF, 0, ("copyMessage",), "the message in the new topic")
    assert copied["params"].get("message_thread_id") == new
    assert any("gelöscht" in t for t in fake.texts_to(STAFF))
    assert world.conversations()[0].thread_id == new


# ====================================================================== authorization
async def test_impersonation_attempts_are_refused(world: World) -> None:
    fake = world.fake
    t = world.handover.t
    mediator = fake.user(7_770_141, "Rana", language_code="de")
    other = fake.user(7_770_142, "Samir", language_code="de")
    code = invite(world.handover, "mediator", "ar")
    fake.push_command(mediator, f"/join {code}")
    await world.next_to(mediator, 0, what="welcome")
    fake.push_command(other, f"/join {code}")  # the same code again
    used = await world.next_to(other, 0, what="refusal")
    fake.push_command(other, "/join ABCD-EFGH-JKLM")
    unknown = await world.next_to(other, 1, what="refusal")
    assert used["text"] == unknown["text"] == helper_text("join_refused")

    yusuf = fake.user(7_770_241, "Yusuf", language_code="ar")
    await world.request(yusuf)
    offer = await world.offer_to(mediator)
    offer_data = next(d for d in buttons(offer) if d.startswith("of:a:"))
    refused = t("ar", "input.unknown_command")
    # A person forges the mediator's accept button, sends a staff command, reads someone else's conversation.
    fake.push_callback(yusuf, offer_data, check_button=False)
    fake.push_command(yusuf, "/close fertig")
    fake.push_callback(yusuf, "cl:y:#ZZZZZ", check_button=False)
    replies = [await world.next_to(yusuf, n, what="refusal") for n in (2, 3, 4)]
    assert [r["text"] for r in replies[:1]] == [t("ar", "handover.waiting", position=1)] or \
        replies[0]["text"] in (refused, t("ar", "handover.waiting", position=1))
    assert replies[1]["text"] == refused
    # The staff command was not passed on to the mediator either.
    assert all("/close" not in (r["message"] or {}).get("text", "") for r in fake.messages_to(mediator.id, RELAYED))
    [conv] = world.conversations()
    assert conv.state == "offering"
    with world.store.sessions() as s:
        assert s.scalar(select(Offer.state)) == "pending"

    # Another helper presses this mediator's offer.
    intruder = fake.user(7_770_143, "Malik", language_code="de")
    await world.join(intruder, languages="ar")
    fake.push_callback(intruder, offer_data, check_button=False)
    await world.wait(lambda: helper_text("offer_gone") in fake.texts_to(intruder.id), "refused")

    # Someone in the staff group who is not registered staff cannot write to anyone.
    stranger = fake.user(7_770_144, "Stranger", language_code="de")
    world.say(stranger, "Hallo an alle", chat_type="supergroup", chat_id=STAFF)
    await world.wait(lambda: helper_text("not_staff") in fake.texts_to(STAFF), "refused in the staff group")
    assert all("Hallo an alle" not in (r["message"] or {}).get("text", "") for r in fake.sent
               if r["chat_id"] == yusuf.id)


# ====================================================================== handing on
async def test_staff_hand_a_conversation_to_another_team_then_to_a_mediator_and_back(world: World) -> None:
    fake = world.fake
    sabine = fake.user(7_770_308, "Sabine", language_code="de")
    await world.join(sabine, role="staff", team="foreigners_office")
    amira = fake.user(7_770_408, "Amira", language_code="ar")
    await world.request(amira)  # no mediator yet: the default team's topic
    thread = world.topic_thread()
    await world.next_to(STAFF, 0, what="intro")
    world.say(amira, "أحتاج مساعدة في رسالة من المكتب")

    health = world.handover.teams.teams["health_office"]
    n = world.count(amira)
    fake.push_text(sabine, "/handover health_office", chat_type="supergroup", chat_id=STAFF, message_thread_id=thread)
    moved = await world.next_to(amira, n, what="moved notice")
    assert moved["text"] == world.handover.t("ar", "handover.moved", team=health.name("ar"))
    await world.wait(lambda: "Gesundheitsamt" in fake.topics[STAFF][thread]["name"], "topic renamed")
    assert world.conversations()[0].team == "health_office"

    nour = fake.user(7_770_148, "Nour", language_code="de")
    nour_id = await world.join(nour, languages="ar")
    fake.push_text(sabine, "/handover mediator", chat_type="supergroup", chat_id=STAFF, message_thread_id=thread)
    offer = await world.offer_to(nour)
    await world.press(nour, offer, "of:a:")
    await world.wait(lambda: world.conversations()[0].helper_id == nour_id, "the mediator took over")
    # The mediator passes it back to the office: the same topic, with what the person wrote meanwhile.
    world.say(amira, "شكراً، لكن عندي سؤال عن الموعد")
    await world.next_to(nour, 0, ("copyMessage",), "the message to the mediator")
    fake.push_command(nour, "/handover")
    await world.wait(lambda: any(r["params"].get("message_thread_id") == thread and r["message"]
                                 and r["message"].get("text") == "شكراً، لكن عندي سؤال عن الموعد"
                                 for r in fake.messages_to(STAFF, ("copyMessage",))), "history copied")
    assert list(fake.topics[STAFF]) == [thread], "no second topic for the same conversation"
    seen = [r["message"].get("text", "") for r in fake.messages_to(STAFF, RELAYED) if r["message"]]
    assert sum("أحتاج مساعدة في رسالة من المكتب" in t for t in seen) == 1, "what staff had is not sent again"
    conv = world.conversations()[0]
    assert (conv.mode, conv.helper_id, conv.state) == ("staff", None, "active")
    handed = [d for _, _, a, _, d in world.handover.audit(conv.label) if a == "handed_over"]
    assert handed == ["health_office", "mediator", "health_office"]


async def test_delete_during_a_conversation_closes_it_and_erases_it(world: World) -> None:
    fake = world.fake
    mediator = fake.user(7_770_149, "Dana", language_code="de")
    olena = fake.user(7_770_409, "Olena", language_code="uk")
    await world.connected(mediator, "uk", olena)
    fake.push_command(olena, "/delete")
    confirm = await world.next_to(olena, 3, what="confirm")
    fake.push_callback(olena, "del:yes", message_id=confirm["message_id"])
    await world.next_to(olena, 4, what="deleted")
    await world.wait(lambda: helper_text("deleted_by_person") in " ".join(fake.texts_to(mediator.id)),
                     "the mediator is told")
    assert world.conversations() == []
    assert world.handover.open_conversation(world.pseudonyms.key("telegram", olena.id)) is None


# ====================================================================== failures on the way
async def test_a_mediator_who_blocks_the_bot_mid_conversation_hands_it_to_staff(world: World) -> None:
    fake = world.fake
    await world.join(fake.user(7_770_310, "Kai", language_code="de"), role="staff", team="social_services")
    mediator = fake.user(7_770_150, "Hadi", language_code="de")
    person = fake.user(7_770_410, "Said", language_code="ar")
    await world.connected(mediator, "ar", person)
    fake.block_user(mediator.id)
    world.say(person, "هل تسمعني؟")
    report = await world.wait(lambda: next((t for t in fake.texts_to(STAFF) if "blockiert" in t), None),
                              "report to staff")
    assert "Hadi" not in report
    await world.wait(lambda: any("هل تسمعني؟" in (r["text"] or "") for r in fake.messages_to(STAFF, RELAYED)),
                     "the message reaches the staff topic")
    moved = world.handover.teams.teams["social_services"].name("ar")
    await world.wait(lambda: any(moved in (r["text"] or "") for r in fake.messages_to(person.id)),
                     "the person is told who has the conversation now")
    # The person's chat is not stuck: the next message is relayed too.
    world.say(person, "شكراً")
    await world.wait(lambda: any("شكراً" in (r["text"] or "") for r in fake.messages_to(STAFF, RELAYED)),
                     "the next message")


async def test_one_message_telegram_refuses_to_copy_does_not_hold_up_the_next(world: World) -> None:
    fake = world.fake
    mediator = fake.user(7_770_151, "Lina", language_code="de")
    person = fake.user(7_770_411, "Rami", language_code="ar")
    await world.connected(mediator, "ar", person)
    fake.fail_next("copyMessage", 400, description="Bad Request: message to copy not found")
    world.say(person, "رسالة حذفتها")
    world.say(person, "رسالة ثانية")
    copied = await world.next_to(mediator, 0, ("copyMessage",), "the second message")
    assert copied["message"] is not None and copied["message"]["text"] == "رسالة ثانية"

    def states() -> list[str]:
        with world.store.sessions() as s:
            return [r.state for r in s.scalars(select(RelayMessage).order_by(RelayMessage.id))]

    await world.wait(lambda: states() == ["failed", "sent"], "the refused one marked failed, the next one sent")


async def test_a_reply_to_a_closed_conversation_never_reaches_another_person(world: World) -> None:
    fake = world.fake
    mediator = fake.user(7_770_152, "Maha", language_code="de")
    first = fake.user(7_770_412, "Ahmad", language_code="ar")
    await world.join(mediator, languages="ar", max_open=2)
    await world.request(first)
    await world.press(mediator, await world.offer_to(mediator), "of:a:")
    world.say(first, "سؤال قديم")
    old = await world.next_to(mediator, 0, ("copyMessage",), "the first person's message")
    fake.push_command(mediator, "/close erledigt")
    await world.wait(lambda: world.conversations()[0].state == "closed", "closed")
    second = fake.user(7_770_413, "Bilal", language_code="ar")
    await world.request(second)
    await world.press(mediator, await world.offer_to(mediator, 2), "of:a:")
    await world.next_to(second, 2, what="connected")
    world.say(mediator, "جواب على السؤال القديم", reply_to=old["message_id"])
    await world.wait(lambda: helper_text("no_conversation") in fake.texts_to(mediator.id), "not delivered")
    assert all("جواب على السؤال القديم" not in ((r["message"] or {}).get("text") or "")
               for r in fake.messages_to(second.id, RELAYED))


async def test_a_forum_topic_that_cannot_be_created_is_created_later_and_nothing_is_lost(
    fake: FakeBotApi, world: World
) -> None:
    fake.strict = False  # the first createForumTopic is refused on purpose
    await world.join(fake.user(7_770_311, "Ute", language_code="de"), role="staff", team="social_services")
    fake.fail_next("createForumTopic", 400, description="Bad Request: not enough rights to create a topic")
    tom = fake.user(7_770_414, "Tom", language_code="de")
    await world.request(tom)
    world.say(tom, "Hallo, ist jemand da?")
    copied = await world.next_to(STAFF, 0, ("copyMessage",), "the message, once the topic exists")
    assert copied["params"].get("message_thread_id") == world.topic_thread()
    assert all(r["params"].get("message_thread_id") for r in fake.messages_to(STAFF, RELAYED)), \
        "nothing went to the group's general topic"


async def test_staff_close_a_conversation_and_later_messages_in_its_topic_go_nowhere(world: World) -> None:
    fake = world.fake
    ines = fake.user(7_770_312, "Ines", language_code="de")
    await world.join(ines, role="staff", team="social_services")
    lea = fake.user(7_770_415, "Lea", language_code="de")
    await world.request(lea)
    thread = world.topic_thread()
    await world.next_to(STAFF, 0, what="intro")
    fake.push_text(ines, "/close Antrag erklärt", chat_type="supergroup", chat_id=STAFF, message_thread_id=thread)
    closing = await world.next_to(lea, 2, what="closing question")
    assert "Antrag erklärt" in (closing["text"] or "") and any(d.startswith("cl:") for d in buttons(closing))
    await world.wait(lambda: world.conversations()[0].person_chat is None, "the chat id is forgotten after closing")
    n = world.count(lea, RELAYED)
    world.say(ines, "Noch etwas vergessen", chat_type="supergroup", chat_id=STAFF, message_thread_id=thread)
    await world.wait(lambda: any(helper_text("topic_inactive", label=world.conversations()[0].label) == t
                                 for t in fake.texts_to(STAFF)), "staff are told")
    assert world.count(lea, RELAYED) == n
