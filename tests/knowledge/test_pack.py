"""The bundled Bautzen pack: complete, valid, and true to the district's topic list."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from core.config import DEFAULT_CONTENT_DIR
from knowledge.loader import read_pack
from knowledge.schema import CURATED_ANSWER_LANGUAGES, KnowledgePack
from knowledge.topics import load_topics
from tests.conftest import PROJECT, SHARED


@pytest.fixture(scope="module")
def pack() -> KnowledgePack:
    pack, problems = read_pack(DEFAULT_CONTENT_DIR)
    assert problems == []
    return pack


# The district's topic list, copied verbatim into the project so the suite stands on its own; when
# the shared folder is beside the checkout (as in CI), the copy is compared with the original too.
VENDORED_TOPICS = PROJECT / "knowledge" / "topics.md"


def _topic_table(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\w+) \|", path.read_text(encoding="utf-8"), re.M))


def test_bundled_topics_match_the_district_topic_list() -> None:
    bundled = {t.id: t.guide for t in load_topics().values()}
    assert len(bundled) >= 40
    assert bundled == _topic_table(VENDORED_TOPICS)
    shared = SHARED / "content" / "topics.md"
    if shared.is_file():
        assert _topic_table(shared) == _topic_table(VENDORED_TOPICS), "knowledge/topics.md is out of date"


def test_every_topic_has_at_least_one_entry(pack: KnowledgePack) -> None:
    assert set(load_topics()) - pack.topics() == set()


def test_every_entry_answers_in_the_curated_languages_with_honest_review_status(pack: KnowledgePack) -> None:
    for entry in pack.entries:
        assert set(CURATED_ANSWER_LANGUAGES) <= set(entry.answers), entry.id
        for lang, answer in entry.answers.items():
            if lang not in {"de", "en"}:
                assert answer.status == "unreviewed", (entry.id, lang)


def test_question_variants_cover_many_languages_and_keyword_forms(pack: KnowledgePack) -> None:
    langs: Counter[str] = Counter()
    for entry in pack.entries:
        assert len(entry.variants()) >= 4, entry.id
        langs.update(lang for lang, _ in entry.variants())
    assert len(langs) >= 8
    keyword_forms = [q for e in pack.entries for lang, q in e.variants() if lang == "de" and len(q.split()) <= 2]
    assert "Krankenschein" in {q.strip("?") for q in keyword_forms}


def test_answers_name_the_emergency_numbers_where_health_is_acute(pack: KnowledgePack) -> None:
    for entry in pack.entries:
        if entry.topic in {"emergency_numbers", "suicidal_thoughts_crisis"}:
            assert "112" in entry.answers["de"].text, entry.id


def test_answers_never_promise_an_asylum_outcome(pack: KnowledgePack) -> None:
    promises = re.compile(r"(you will (get|be granted|receive) (asylum|protection)|Sie bekommen (sicher )?Asyl)", re.I)
    for entry in pack.entries:
        for lang in ("de", "en"):
            assert not promises.search(entry.answers[lang].text), entry.id
