"""The console's counts on a real SQLite database (created by the Alembic migrations), their CSV and SVG."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.handover.models import Conversation, RelayMessage
from bot.store import Feedback, QuestionEvent, Store
from console.analytics import Analytics, csv_exports, percentile, report, svg_charts
from console.charts import bar_chart, horizontal_bars, small, stacked_bar_chart, to_csv

SVG = "{http://www.w3.org/2000/svg}"
# Thursday noon (13:00 in Berlin): the 28-day window is 2024-02-16 .. 2024-03-14 in Berlin.
NOW = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)
SECRETS = ("GEHEIMER-TEXT", "GEHEIME-ANTWORT", "PERSON-KEY", "USER-KEY", "CHAT-4711")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    return Store(f"sqlite:///{tmp_path}/t.db").sessions


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def question(when: datetime, status: str = "answered", lang: str | None = "de", topic: str | None = "asyl"
             ) -> QuestionEvent:
    return QuestionEvent(at=when, lang=lang, topic=topic, status=status)


_labels = iter(range(10_000))


def conversation(created: datetime, requested: datetime | None, mode: str | None, state: str = "active"
                 ) -> Conversation:
    return Conversation(label=f"#T{next(_labels)}", person_key="PERSON-KEY", person_chat="CHAT-4711", lang="ar",
                        topic="asyl", reason="requested", state=state, mode=mode, opening_text="GEHEIMER-TEXT",
                        created_at=created, requested_at=requested)


_messages = iter(range(10_000))


def relay(c: Conversation, direction: str, when: datetime) -> RelayMessage:
    return RelayMessage(conversation_id=c.id, direction=direction, source_chat="CHAT-4711",
                        source_message_id=next(_messages), text="GEHEIME-ANTWORT", state="sent", created_at=when)


@pytest.fixture
def filled(sessions: sessionmaker[Session]) -> Analytics:
    with sessions.begin() as s:
        # 2024-03-12: 7 answered, 3 of them in Arabic; 2 clarifications and an emergency the day after.
        s.add_all(question(at(12, 9, i), lang="ar" if i < 3 else "de") for i in range(7))
        s.add_all(question(at(13, 9, i), status="clarify", topic=None) for i in range(2))
        s.add(question(at(13, 10), status="emergency", lang=None, topic="notfall"))
        s.add(question(at(13, 11), status="handover", topic="asyl"))  # a status the console does not know yet
        # Berlin days: 23:30 UTC on 15 Feb is 16 Feb (first day); 23:30 UTC on 14 Mar is 15 Mar (tomorrow).
        s.add(question(at(15, 23, 30, month=2), lang="fa"))
        s.add(question(at(14, 23, 30), lang="uk"))
        s.add(question(at(15, 12, month=2), lang="uk"))  # the day before the window

        s.add_all(Feedback(user_key="USER-KEY", entry_id="a", helpful=h, created_at=at(10, 8))
                  for h in [True] * 2 + [False] * 6)
        s.add_all(Feedback(user_key="USER-KEY", entry_id="c", helpful=h, created_at=at(10, 8))
                  for h in [True] + [False] * 6)
        s.add_all(Feedback(user_key="USER-KEY", entry_id="b", helpful=True, created_at=at(10, 8)) for _ in range(5))
        s.add(Feedback(user_key="USER-KEY", entry_id="old", helpful=False, created_at=at(1, 8, month=1)))

        c1 = conversation(at(13, 10), at(13, 10, 2), "mediator")
        c2 = conversation(at(13, 11), at(13, 11), "staff")
        c3 = conversation(at(13, 12), at(13, 12), "mediator")
        c4 = conversation(at(13, 13), at(13, 13), None, state="offering")  # nobody yet, no reply
        c5 = conversation(at(13, 14), None, None, state="consent")  # only asked whether they want a human
        c6 = conversation(at(10, 9), None, "staff")  # no requested_at: measured from created_at
        old = conversation(at(1, 9, month=1), at(1, 9, month=1), "staff")
        s.add_all([c1, c2, c3, c4, c5, c6, old])
        s.flush()
        s.add_all([
            relay(c1, "in", at(13, 10, 1)), relay(c1, "out", at(13, 10, 30)), relay(c1, "out", at(13, 10, 12)),
            relay(c2, "out", at(13, 11, 30)),
            relay(c3, "in", at(13, 12, 1)), relay(c3, "out", at(13, 12, 20)),
            relay(c4, "in", at(13, 13, 1)),
            relay(c5, "out", at(13, 14, 1)),
            relay(c6, "out", at(10, 9, 45)),
            relay(old, "out", at(1, 9, 1, month=1)),
        ])
    with sessions() as s:
        return report(s, now=NOW)


def test_every_day_of_the_window_is_there_in_berlin_days(filled: Analytics) -> None:
    assert (filled.start, filled.end) == (date(2024, 2, 16), date(2024, 3, 14))
    assert [d.day for d in filled.per_day] == [date(2024, 2, 16) + timedelta(days=i) for i in range(28)]
    by_day = {d.day: d for d in filled.per_day}
    assert dict(by_day[date(2024, 3, 12)].counts) == {"answered": 7, "clarify": 0, "escalate": 0, "emergency": 0,
                                                      "handover": 0}
    assert dict(by_day[date(2024, 3, 13)].counts) == {"answered": 0, "clarify": 2, "escalate": 0, "emergency": 1,
                                                      "handover": 1}
    assert by_day[date(2024, 2, 16)].total == 1  # 23:30 UTC the day before
    assert by_day[date(2024, 3, 14)].total == 0  # 23:30 UTC is already tomorrow in Berlin
    assert filled.statuses == ("answered", "clarify", "escalate", "emergency", "handover")
    assert filled.questions == 12 == sum(d.total for d in filled.per_day)


def test_weeks_languages_and_topics(filled: Analytics) -> None:
    assert [(w.week, w.monday, w.days, w.total) for w in filled.per_week] == [
        ("2024-W07", date(2024, 2, 12), 3, 1),
        ("2024-W08", date(2024, 2, 19), 7, 0),
        ("2024-W09", date(2024, 2, 26), 7, 0),
        ("2024-W10", date(2024, 3, 4), 7, 0),
        ("2024-W11", date(2024, 3, 11), 4, 11),
    ]
    assert filled.by_language == (("de", 7), ("ar", 3), ("(unbekannt)", 1), ("fa", 1))
    assert filled.by_topic == (("asyl", 9), ("(ohne Thema)", 2), ("notfall", 1))
    assert filled.other_topics == 0


def test_the_csv_hides_counts_under_five(filled: Analytics) -> None:
    exports = csv_exports(filled)
    assert set(exports) == {"per_day", "per_week", "by_language", "by_topic", "feedback", "handovers"}
    per_day = rows(exports["per_day"])
    assert per_day[0] == ["Datum", "beantwortet", "Rückfrage", "weitergeleitet", "Notfall", "handover", "gesamt"]
    assert ["2024-03-12", "7", "0", "0", "0", "0", "7"] in per_day
    assert ["2024-03-13", "0", "<5", "0", "<5", "<5", "<5"] in per_day
    assert len(per_day) == 1 + 28
    assert rows(exports["by_language"])[1:3] == [["de", "7"], ["ar", "<5"]]
    assert rows(exports["by_topic"])[1:] == [["asyl", "9"], ["(ohne Thema)", "<5"], ["notfall", "<5"]]
    # The number of days of a week is no count of people: it stays exact.
    assert rows(exports["per_week"])[1] == ["2024-W07", "2024-02-12", "3", "<5"]
    assert rows(exports["per_week"])[-1] == ["2024-W11", "2024-03-11", "4", "11"]


def test_feedback_per_entry_most_unhelpful_first(filled: Analytics) -> None:
    assert [(f.entry_id, f.up, f.down) for f in filled.feedback] == [("c", 1, 6), ("a", 2, 6), ("b", 5, 0)]
    assert rows(csv_exports(filled)["feedback"]) == [
        ["Eintrag", "hilfreich", "nicht hilfreich"], ["c", "<5", "6"], ["a", "<5", "6"], ["b", "5", "0"]]


def test_handovers_and_time_to_the_first_human_reply(filled: Analytics) -> None:
    h = filled.handovers
    # c1..c4 and c6; c5 is still only a consent prompt, `old` is outside the window.
    assert h.total == 5
    assert h.by_mode == (("Sprachmittlung", 2), ("Mitarbeitende", 2), ("(nicht zugeteilt)", 1))
    # First "out" minus requested_at: 10 (c1, not 28), 30 (c2), 20 (c3); c6 from created_at: 45.
    assert h.replied == 4
    assert h.median_reply_minutes == pytest.approx(25.0)
    assert h.p90_reply_minutes == pytest.approx(40.5)  # 30 + 0.7 · (45 − 30)
    day = {d.day: d for d in h.per_day}[date(2024, 3, 13)]
    assert (day.total, day.replied) == (4, 3)
    assert day.median_reply_minutes == pytest.approx(20.0)
    assert dict(day.by_mode) == {"Sprachmittlung": 2, "Mitarbeitende": 1, "(nicht zugeteilt)": 1}
    assert len(h.per_day) == 28 and sum(d.total for d in h.per_day) == 5
    table = rows(csv_exports(filled)["handovers"])
    assert table[0][:5] == ["Datum", "Übergaben", "Sprachmittlung", "Mitarbeitende", "(nicht zugeteilt)"]
    assert table[-1] == ["gesamt", "5", "<5", "<5", "<5", "<5", "25.0", "40.5"]
    assert ["2024-03-10", "<5", "0", "<5", "0", "<5", "45.0", "45.0"] in table


def test_no_text_and_no_identity_leaves_the_database(filled: Analytics) -> None:
    outputs = [*csv_exports(filled).values(), *svg_charts(filled).values(), repr(filled)]
    for text in outputs:
        for secret in SECRETS:
            assert secret not in text


def test_an_empty_database_gives_zeros_and_no_reply_times(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        a = report(s, days=7, now=NOW)
    assert len(a.per_day) == 7 and a.questions == 0
    assert a.by_language == a.by_topic == ()
    assert a.feedback == ()
    assert (a.handovers.total, a.handovers.median_reply_minutes, a.handovers.p90_reply_minutes) == (0, None, None)
    assert rows(csv_exports(a)["handovers"])[-1] == ["gesamt", "0", "0", "0", "0", "0", "", ""]
    for svg in svg_charts(a).values():
        assert "Keine Daten" in "".join(ET.fromstring(svg).itertext())


def test_the_top_topics_and_the_rest(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for i in range(18):  # topic t00 asked 18 times, t01 17 times, …, t17 once
            s.add_all(question(at(14, 8), topic=f"t{i:02d}") for _ in range(18 - i))
    with sessions() as s:
        a = report(s, days=1, now=NOW)
    assert len(a.by_topic) == 15
    assert a.by_topic[0] == ("t00", 18) and a.by_topic[-1] == ("t14", 4)
    assert a.other_topics == 3 + 2 + 1
    assert rows(csv_exports(a)["by_topic"])[-1] == ["(weitere Themen)", "6"]


# ---------------------------------------------------------------------------------------------- charts


def test_small_counts() -> None:
    assert [small(n) for n in range(7)] == ["0", "<5", "<5", "<5", "<5", "5", "6"]


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_bar_chart_is_well_formed_escaped_and_accessible() -> None:
    title = "Fragen <Asyl> & „Arbeit“"
    svg = bar_chart(title, [("<b>", 3), ("Arbeit & Job", 12)])
    root = ET.fromstring(svg)
    assert "&lt;Asyl&gt; &amp;" in svg and "<b>" not in svg
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-label") == title
    heading = root.find(f"{SVG}title")
    assert heading is not None and heading.text == title
    assert {"<5", "12", "<b>", "Arbeit & Job"} <= set(texts(svg))
    bars = {float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")}
    assert len(bars) == 2 and max(bars) == pytest.approx(4 * min(bars))  # true heights, not 5 for "<5"


def test_many_bars_turn_their_labels() -> None:
    svg = bar_chart("Tage", [(f"{d:02d}.03.", d) for d in range(1, 29)])
    assert svg.count('transform="rotate(-45') == 28
    ET.fromstring(svg)
    assert "rotate" not in bar_chart("Wochen", [("W1", 1), ("W2", 2)])


def test_stacked_chart_has_a_legend_and_the_totals() -> None:
    svg = stacked_bar_chart("Status", ["Mo", "Di"], {"beantwortet": [7, 0], "Notfall": [1, 2]})
    root = ET.fromstring(svg)
    assert {"beantwortet", "Notfall", "8", "<5"} <= set(texts(svg))
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert fills[:2] == ["#009E73", "#56B4E9"]  # legend swatches in the order of the stacks
    assert len(fills) == 2 + 3  # the zero segment is not drawn
    with pytest.raises(ValueError, match="2 categories"):
        stacked_bar_chart("x", ["Mo", "Di"], {"a": [1]})


def test_horizontal_bars_shorten_long_labels_but_keep_them_as_tooltip() -> None:
    long = "Arbeitserlaubnis und Beschäftigungsduldung für Geduldete " * 3
    svg = horizontal_bars("Themen", [(long, 9), ("kurz", 2)])
    root = ET.fromstring(svg)
    assert "…" in "".join(texts(svg))
    assert any(t.text == long for t in root.iter(f"{SVG}title"))


def test_no_data_says_so() -> None:
    for svg in (bar_chart("A", []), bar_chart("A", [("x", 0)]), stacked_bar_chart("B", [], {}),
                horizontal_bars("C", [])):
        root = ET.fromstring(svg)
        assert "Keine Daten" in texts(svg)
        assert root.get("role") == "img"


def test_csv_counts_and_formula_guard() -> None:
    text = to_csv(["Thema", "Fragen", "Jahr"], [["=HYPERLINK()", 3, 2024], ["asyl", 7, None]], count_columns={1})
    assert rows(text) == [["Thema", "Fragen", "Jahr"], ["'=HYPERLINK()", "<5", "2024"], ["asyl", "7", ""]]


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.9) == 3.0
    assert percentile([10.0, 45.0, 20.0, 30.0], 0.5) == pytest.approx(25.0)
