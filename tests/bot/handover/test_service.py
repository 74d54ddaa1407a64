"""The hand-over service through the plain output port (no Telegram): matching, caps, queue, staff."""

from __future__ import annotations

import pytest

from bot.handover.service import HandoverService
from bot.ports import CollectingOutput, IncomingMessage
from tests.bot.handover.conftest import STAFF_CHAT, WEEKEND, Clock, HandoverFactory, invite

pytestmark = pytest.mark.asyncio


def person(n: int, kind: str = "text", **kw: object) -> IncomingMessage:
    return IncomingMessage(f"person-{n}", str(1000 + n), kind, private=True, **kw)  # type: ignore[arg-type]


async def join(service: HandoverService, n: int, code: str) -> int:
    reply = await service.join(IncomingMessage(f"helper-{n}", str(500 + n), "command", text=f"/join {code}",
                                               command="join"), code)
    helper = service.registry.by_key(f"helper-{n}")
    assert helper is not None, reply.text
    return helper.id


async def ask(service: HandoverService, n: int, lang: str, topic: str | None = None, choice: str = "y") -> str:
    msg = person(n)
    prompt = await service.prompt(msg, lang, topic, "requested", "Frage")
    assert [b.data for row in prompt.buttons for b in row] == ["ho:y", "ho:w", "ho:n"]
    return (await service.consent(person(n, "callback", callback_data=f"ho:{choice}"), lang, choice)).text


async def test_offer_goes_to_a_mediator_who_speaks_the_language(make_handover: HandoverFactory) -> None:
    service = make_handover()
    out = CollectingOutput()
    service.bind(out)
    ar = await join(service, 1, invite(service, languages="ar"))
    fa = await join(service, 2, invite(service, languages="prs,ps"))
    text = await ask(service, 1, "fa")
    assert text == service.t("fa", "handover.offering", language="فارسی", minutes=3)
    offers = [(chat, r) for chat, r in out.sent if any(b.data.startswith("of:a:") for row in r.buttons for b in row)]
    assert [chat for chat, _ in offers] == ["502"], "Dari mediator (prs) gets the Farsi/Dari request"
    assert ar != fa


async def test_caps_and_queue(make_handover: HandoverFactory) -> None:
    service = make_handover()
    service.bind(CollectingOutput())
    await join(service, 1, invite(service, languages="ar", max_open=2))
    texts = [await ask(service, n, "ar") for n in range(5)]
    offering = service.t("ar", "handover.offering", language="العربية", minutes=3)
    assert texts[:2] == [offering, offering]
    # The only Arabic mediator is at their cap: the others wait in line and know their place.
    assert texts[2:] == [service.t("ar", "handover.queued", language="العربية", position=p) for p in (1, 2, 3)]
    [helper] = service.registry.search(role="mediator")
    assert (helper.open_now, helper.this_week) == (2, 2)


async def test_out_of_hours_says_when_the_office_opens(make_handover: HandoverFactory, clock: Clock) -> None:
    clock.now = WEEKEND
    service = make_handover()
    out = CollectingOutput()
    service.bind(out)
    text = await ask(service, 1, "de", "dublin_procedure")
    assert "Ausländerbehörde" in text and "Montag" in text and "112" in text
    assert out.topics[STAFF_CHAT]


def offered_to(out: CollectingOutput) -> list[str]:
    return [chat for chat, r in out.sent if any(b.data.startswith("of:a:") for row in r.buttons for b in row)]


async def test_only_mediators_available_now_cleared_for_the_topic_and_of_the_asked_gender(
    make_handover: HandoverFactory,
) -> None:
    service = make_handover()
    out = CollectingOutput()
    service.bind(out)
    await join(service, 1, invite(service, languages="ar", availability="sa-su 10:00-18:00"))  # weekends only
    await join(service, 2, invite(service, languages="ar", topics=("benefits_asylblg",)))  # one topic only
    await join(service, 3, invite(service, languages="ar", gender="m"))
    await join(service, 4, invite(service, languages="ar", gender="f"))
    await ask(service, 1, "ar", "dublin_procedure", choice="w")  # a Tuesday, a woman asked for
    assert offered_to(out) == ["504"]
    await ask(service, 2, "ar", "benefits_asylblg")
    assert offered_to(out)[1] == "502", "least recently asked among those cleared (the woman was just asked)"


async def test_a_woman_asked_for_but_none_free_goes_to_the_team_with_the_wish_noted(
    make_handover: HandoverFactory,
) -> None:
    service = make_handover()
    out = CollectingOutput()
    service.bind(out)
    await join(service, 1, invite(service, languages="tr", gender="m"))
    await ask(service, 1, "tr", choice="w")
    assert offered_to(out) == []
    intro = next(r.text for chat, r in out.sent if chat == STAFF_CHAT)
    assert "Die Person möchte mit einer Frau sprechen." in intro


async def test_declining_consent_shares_nothing(make_handover: HandoverFactory) -> None:
    service = make_handover()
    out = CollectingOutput()
    service.bind(out)
    await join(service, 1, invite(service, languages="fa"))
    text = await ask(service, 1, "fa", choice="n")
    assert text == service.t("fa", "handover.declined")
    assert out.sent == [] and out.topics == {}
    assert service.open_conversation("person-1") is None


async def test_without_staff_and_without_a_mediator_for_the_language_the_answer_is_honest(
    make_handover: HandoverFactory,
) -> None:
    service = make_handover(staff_chat=None)
    service.bind(CollectingOutput())
    await join(service, 1, invite(service, languages="uk"))
    text = await ask(service, 1, "ti")
    assert text == service.t("ti", "human.ack")
    assert service.open_conversation("person-1") is None, "no queue without an end"
