"""The dialogue service through a collecting output port: one message in, one reply out."""

from __future__ import annotations

import pytest

from bot.dialogue import DialogueService, entry_code
from bot.ports import CollectingOutput, IncomingMessage, InputKind
from bot.store import Store


def msg(kind: InputKind = "text", text: str = "", user: str = "u1", **kw: object) -> IncomingMessage:
    return IncomingMessage(user, "chat-" + user, kind, text=text, **kw)  # type: ignore[arg-type]


async def test_start_offers_languages_in_their_own_script_with_the_client_language_first(
    dialogue: DialogueService,
) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("command", "/start", command="start", language_hint="ar"), out)
    (_, reply), = out.sent
    labels = [b.label for row in reply.buttons for b in row]
    assert labels[0] == "✓ العربية"
    assert {"فارسی", "Українська", "ትግርኛ", "Deutsch"} <= set(labels)


async def test_language_choice_is_remembered_and_wins_over_the_client_language(
    dialogue: DialogueService, store: Store
) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("callback", callback_data="lang:fa", language_hint="de"), out)
    assert store.person("u1") is not None and store.person("u1").language == "fa"  # type: ignore[union-attr]
    await dialogue.handle(msg("text", "Krankenschein", language_hint="de"), out)
    answer = out.sent[-1][1]
    assert answer.lang == "fa"
    assert "Krankenschein" in answer.text and "ⓘ" in answer.text  # unreviewed translation is labelled


async def test_answer_carries_source_date_and_the_four_buttons(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "كيف أحصل على Krankenschein؟"), out)
    reply = out.sent[-1][1]
    data = [b.data for row in reply.buttons for b in row]
    assert any(d.startswith("up:") for d in data) and any(d.startswith("down:") for d in data)
    code = next(d for d in data if d.startswith("up:"))[3:]
    assert f"human:{code}" in data and f"de:{code}" in data
    entry = next(e for e in dialogue.engine.pack.entries if entry_code(e.id) == code)
    assert entry.facts_as_of.strftime("%d.%m.%Y") in reply.text


async def test_show_in_german_sends_the_german_original(dialogue: DialogueService) -> None:
    entry = dialogue.engine.pack.entries[0]
    out = CollectingOutput()
    await dialogue.handle(msg("callback", callback_data=f"de:{entry_code(entry.id)}"), out)
    assert out.sent[-1][1].text.startswith(entry.answers["de"].text)


async def test_feedback_is_stored_and_thanked(dialogue: DialogueService, store: Store) -> None:
    entry = dialogue.engine.pack.entries[0]
    out = CollectingOutput()
    await dialogue.handle(msg("callback", callback_data=f"up:{entry_code(entry.id)}"), out)
    assert store.feedback_count("u1") == 1
    assert len(out.sent) == 1


async def test_emergency_gets_the_numbers_in_the_persons_language(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "ابني لا يتنفس"), out)
    (_, reply), = out.sent
    assert "112" in reply.text and reply.lang == "ar"


async def test_unanswerable_question_is_kept_without_identity(dialogue: DialogueService, store: Store) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "Wer hat gestern das Fußballspiel gewonnen?"), out)
    assert store.unanswered() == [("Wer hat gestern das Fußballspiel gewonnen?", "de")]
    assert "human" in [b.data for row in out.sent[-1][1].buttons for b in row]


@pytest.mark.parametrize(
    ("kind", "key"),
    [("voice", "input.voice"), ("photo", "input.photo"), ("sticker", "input.sticker"),
     ("location", "input.location"), ("document", "input.document"), ("edited", "input.edited"),
     ("unsupported", "input.unsupported")],
)
async def test_every_kind_of_non_text_input_gets_one_clear_localised_reply(
    dialogue: DialogueService, kind: InputKind, key: str
) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg(kind, language_hint="uk"), out)
    assert out.texts() == [dialogue.t("uk", key)]


async def test_emoji_only_and_unknown_commands_and_forged_buttons(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "🙏🙏🙏", language_hint="tr"), out)
    await dialogue.handle(msg("command", "/frobnicate", command="frobnicate", language_hint="tr"), out)
    await dialogue.handle(msg("callback", callback_data="del:maybe' OR 1=1", language_hint="tr"), out)
    assert out.texts() == [dialogue.t("tr", "input.empty"), dialogue.t("tr", "input.unknown_command"),
                           dialogue.t("tr", "input.unknown_command")]


async def test_markup_characters_are_sent_verbatim(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "<b>Krankenschein</b> *bitte* [x](http://evil)"), out)
    assert len(out.sent) == 1


async def test_very_long_message_is_answered_once_with_a_note(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "Wo bekomme ich einen Krankenschein? " + "bitte " * 1200), out)
    (_, reply), = out.sent
    assert reply.text.startswith(dialogue.t("de", "input.too_long"))


async def test_flood_gets_one_kind_notice_per_window(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    for _ in range(9):
        await dialogue.handle(msg("sticker", language_hint="en"), out)
    texts = out.texts()
    assert texts.count(dialogue.t("en", "input.flood")) == 1
    assert len(texts) == 6  # five answered, one notice, the rest of the burst is not amplified


async def test_group_chats_are_asked_to_write_privately(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "Krankenschein", private=False), out)
    assert out.texts() == [dialogue.t(None, "group.private_only")]


async def test_delete_asks_first_then_erases_and_says_what(dialogue: DialogueService, store: Store) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("callback", callback_data="lang:ru"), out)
    entry = dialogue.engine.pack.entries[0]
    await dialogue.handle(msg("callback", callback_data=f"down:{entry_code(entry.id)}"), out)
    await dialogue.handle(msg("command", "/delete", command="delete"), out)
    assert store.person("u1") is not None
    assert [b.data for b in out.sent[-1][1].buttons[0]] == ["del:yes", "del:no"]
    await dialogue.handle(msg("callback", callback_data="del:yes"), out)
    assert store.person("u1") is None and store.feedback_count("u1") == 0
    assert "1" in out.sent[-1][1].text


async def test_greeting_thanks_and_goodbye_get_short_replies(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    for text in ("hallo", "شكرا جزيلا", "tschüss"):
        # A one-word "hallo" is German or English alike: Telegram's language code settles it.
        await dialogue.handle(msg("text", text, language_hint="de"), out)
    assert out.texts() == [dialogue.t("de", "smalltalk.greet"), dialogue.t("ar", "smalltalk.thanks"),
                           dialogue.t("de", "smalltalk.goodbye")]


async def test_asking_for_another_language_in_words_switches_it(dialogue: DialogueService, store: Store) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "bitte auf arabisch", language_hint="de"), out)
    state = store.person("u1")
    assert state is not None and state.language == "ar"
    assert out.sent[-1][1].lang == "ar"


async def test_asking_in_words_to_delete_data_asks_for_confirmation(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "bitte lösch alle meine daten"), out)
    assert [b.data for b in out.sent[-1][1].buttons[0]] == ["del:yes", "del:no"]


async def test_questions_still_reach_retrieval_with_the_intent_step_in_place(dialogue: DialogueService) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("text", "hallo, wo bekomme ich einen Krankenschein?"), out)
    assert any(b.data.startswith("up:") for row in out.sent[-1][1].buttons for b in row)


async def test_dari_is_offered_and_answers_in_dari_where_curated_else_in_farsi(
    dialogue: DialogueService, store: Store
) -> None:
    out = CollectingOutput()
    await dialogue.handle(msg("command", "/start", command="start", language_hint="fa"), out)
    assert "lang:prs" in [b.data for row in out.sent[-1][1].buttons for b in row]
    await dialogue.handle(msg("callback", callback_data="lang:prs"), out)
    assert store.person("u1").language == "prs"  # type: ignore[union-attr]
    # The interface falls back to Farsi, not English, where no Dari string exists.
    farsi = dialogue.t("fa", "language.changed", language="دری")
    assert farsi != dialogue.t("en", "language.changed", language="دری")
    assert out.sent[-1][1].text.startswith(farsi)
    await dialogue.handle(msg("text", "ابني لا يتنفس"), out)
    lang, text = dialogue.engine.crisis.message("medical", "prs")
    assert lang in {"prs", "fa"} and out.sent[-1][1].text.startswith(text)


async def test_a_crisis_in_words_of_a_person_request_gets_the_numbers_not_a_queue(dialogue: DialogueService) -> None:
    # Short enough for the intent step, which reads it as "ask_human"; no crisis keyword in it.
    text = "connect me to a human, I will not see tomorrow"
    assert dialogue.engine.crisis.check(text) is None
    out = CollectingOutput()
    await dialogue.handle(msg("text", text), out)
    (_, reply), = out.sent
    _, crisis_reply = dialogue.engine.crisis.message("suicidal", "en")
    assert reply.text.startswith(crisis_reply)  # the crisis lines, not the hand-over acknowledgement


async def test_a_thumbs_down_puts_the_question_in_the_staff_queue_without_identity(
    dialogue: DialogueService, store: Store
) -> None:
    question = "كيف أحصل على Krankenschein؟"
    out = CollectingOutput()
    await dialogue.handle(msg("text", question, user="down-1"), out)
    data = [b.data for row in out.sent[-1][1].buttons for b in row]
    down = next(d for d in data if d.startswith("down:"))
    await dialogue.handle(msg("callback", callback_data=down, user="down-1"), out)
    assert store.unanswered("not_helpful") == [(question, "ar")]
    # After /delete the bot forgets the last question too: a later 👎 adds nothing.
    await dialogue.handle(msg("text", question, user="down-2"), out)
    await dialogue.handle(msg("callback", callback_data="del:yes", user="down-2"), out)
    await dialogue.handle(msg("callback", callback_data=down, user="down-2"), out)
    assert store.unanswered("not_helpful") == [(question, "ar")]
    with store.sessions() as s:
        from bot.store import QuestionEvent, UnansweredQuestion

        events = [(e.lang, e.status) for e in s.query(QuestionEvent)]
        rows = s.query(UnansweredQuestion).all()
    assert events == [("ar", "answered"), ("ar", "answered")]
    # Queue rows carry the day only, so they cannot be matched to the feedback row by time.
    assert all((r.created_at.hour, r.created_at.minute, r.created_at.second) == (0, 0, 0) for r in rows)


async def test_none_of_these_after_a_clarification_is_marked_for_staff(dialogue: DialogueService,
                                                                        store: Store) -> None:
    out = CollectingOutput()
    for question in ("Papiere", "Termin", "Amt", "Geld", "Hilfe beim Brief", "Karte", "Arzt"):
        await dialogue.handle(msg("text", question, user="cl-1"), out)
        if any(b.data == "none" for row in out.sent[-1][1].buttons for b in row):
            break
    else:
        pytest.fail("none of the short questions got a clarification")
    assert store.unanswered("clarify") == [(question, "de")]
    await dialogue.handle(msg("callback", callback_data="none", user="cl-1"), out)
    assert store.unanswered("none_of_these") == [(question, "de")] and store.unanswered("clarify") == []
