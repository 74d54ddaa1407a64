"""The argostranslate translator over tiny real packages: exact output through argostranslate's own code path."""

from __future__ import annotations

import json
import statistics
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import TranslationUnavailable
from tests.translations.argos_fixture import load_pairs
from translations.glossary import Glossary, Term
from translations.machine import ArgosTranslator, create_translator
from translations.packages import install_package
from translations.translator import NoTranslator

MakeTranslator = Callable[..., ArgosTranslator]
LOSSY = "Die Duldung ist wichtig."


def test_direct_translation_keeps_the_protected_term(make_translator: MakeTranslator) -> None:
    result = make_translator().translate("Bitte bringen Sie Ihre Aufenthaltsgestattung mit.", "de", "en")
    assert result.text == "Please bring your Aufenthaltsgestattung."
    assert result.path == ("de", "en")
    assert result.machine and not result.cached
    assert result.terms == ("Aufenthaltsgestattung",)


@pytest.mark.parametrize(
    ("text", "source", "target", "expected"),
    [
        ("زه د خپلې پېژندپاڼې په اړه پوښتنه لرم.", "ps", "de", "Ich habe eine Frage zu meinem Ausweisdokument."),
        ("Danke, wir melden uns morgen.", "de", "ps", "مننه، سبا به درسره اړیکه ونیسو."),
        ("Bitte bringen Sie Ihre Aufenthaltsgestattung mit.", "de", "ps",
         "مهرباني وکړئ خپل Aufenthaltsgestattung راوړئ."),
    ],
)
def test_pivot_through_english(make_translator: MakeTranslator, text: str, source: str, target: str,
                               expected: str) -> None:
    translator = make_translator()
    assert translator.can_translate(source, target)
    result = translator.translate(text, source, target)
    assert result.text == expected
    assert result.path == (source, "en", target)


def test_the_term_survives_only_because_it_is_masked(make_translator: MakeTranslator) -> None:
    # The same model without the glossary entry sees the raw word, which it never learnt to copy.
    translator = make_translator()
    translator.glossary = Glossary([Term("Unrelatedterm", explanations={"en": "x"})])
    result = translator.translate("Bitte bringen Sie Ihre Aufenthaltsgestattung mit.", "de", "en")
    assert "Aufenthaltsgestattung" not in result.text


def test_inflected_and_repeated_terms_through_a_real_model(make_translator: MakeTranslator) -> None:
    translator = make_translator()
    assert translator.translate("Die Duldungen und die Duldung liegen beim Sozialamt.", "de", "en").text == (
        "The Duldungen and the Duldung are at the Sozialamt."
    )
    assert translator.translate("Haben Sie den BAMF-Bescheid bekommen?", "de", "ps").text == (
        "ایا تاسو BAMF-Bescheid ترلاسه کړی دی؟"
    )


def test_a_term_the_model_drops_is_appended_not_lost(make_translator: MakeTranslator) -> None:
    result = make_translator().translate(LOSSY, "de", "en")
    assert result.text == "It is important. (Duldung)"
    assert result.lost_terms == ("Duldung",)


def test_cache_hit_is_served_without_loading_a_model(make_translator: MakeTranslator, tmp_path: Path) -> None:
    cache_file = tmp_path / "shared.sqlite"
    first = make_translator(cache_file=cache_file).translate("Wo ist das Jobcenter?", "de", "ps")
    assert not first.cached
    fresh = make_translator(cache_file=cache_file)
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        hit = fresh.translate("Wo ist das Jobcenter?", "de", "ps")
        timings.append(time.perf_counter() - started)
    assert hit.cached and hit.text == first.text == "Jobcenter چېرته دی؟"
    assert hit.path == ("de", "en", "ps") and hit.terms == ("Jobcenter",)
    assert fresh.loaded() == [] and fresh.stats.loads == 0
    assert statistics.median(timings) < 0.005  # microseconds in practice; generous for a busy CI machine


def _rebuilt_with_version(archive: Path, version: str, out: Path) -> Path:
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("metadata.json"):
                meta = json.loads(data)
                meta["package_version"] = version
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    return out


def test_cache_is_invalidated_by_a_new_package_or_a_changed_text(
    make_translator: MakeTranslator, mt_packages_dir: Path, argos_packages: dict[tuple[str, str], Path],
    tmp_path: Path,
) -> None:
    translator = make_translator()
    text = "Wo ist das Jobcenter?"
    assert not translator.translate(text, "de", "en").cached
    assert translator.translate(text, "de", "en").cached
    assert not translator.translate(text + " ", "de", "en").cached  # the source text changed
    install_package(_rebuilt_with_version(argos_packages[("de", "en")], "1.1", tmp_path / "de_en.argosmodel"),
                    mt_packages_dir)
    translator.refresh()
    assert [p.version for p in translator.packages if p.pair == ("de", "en")] == ["1.1"]
    loads = translator.stats.loads
    again = translator.translate(text, "de", "en")
    assert not again.cached and again.text == "Where is the Jobcenter?"
    assert translator.stats.loads == loads + 1


def test_least_recently_used_model_is_evicted(make_translator: MakeTranslator) -> None:
    translator = make_translator(max_loaded=1)
    jobs = [("Wo ist das Jobcenter?", "de", "en"), ("Where is the Jobcenter?", "en", "de"),
            ("Bitte warten Sie einen Moment.", "de", "en"), ("My child is sick.", "en", "de")]
    for text, source, target in jobs:
        translator.translate(text, source, target)
        assert translator.loaded() == [(source, target)]
    assert translator.stats.loads == 4 and translator.stats.evictions == 3

    two = make_translator(max_loaded=2)
    two.translate("زما ماشوم ناروغ دی.", "ps", "de")  # pivot: ps→en, then en→de
    assert two.loaded() == [("ps", "en"), ("en", "de")]
    two.translate("Wo ist das Jobcenter?", "de", "en")
    assert two.loaded() == [("en", "de"), ("de", "en")]


def test_missing_pair_is_unavailable_and_nothing_loads(make_translator: MakeTranslator) -> None:
    translator = make_translator()
    assert not translator.can_translate("de", "ku")
    assert not translator.can_translate("so", "en")
    with pytest.raises(TranslationUnavailable):
        translator.translate("Wo ist das Jobcenter?", "de", "ku")
    assert translator.loaded() == []


def test_same_language_and_empty_text_need_no_model(make_translator: MakeTranslator) -> None:
    translator = make_translator()
    same = translator.translate("Hallo", "de", "de")
    assert same.text == "Hallo" and not same.machine
    assert translator.translate("  ", "de", "en").text == "  "
    assert translator.loaded() == []


def test_eight_threads_get_exact_translations(make_translator: MakeTranslator) -> None:
    translator = make_translator(max_loaded=2)  # four pairs, two slots: eviction under contention too
    jobs = [(a, s, t, b) for (s, t), rows in load_pairs().items() for a, b in rows if a != LOSSY]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: translator.translate(job[0], job[1], job[2]).text, jobs))
    wrong = [(job, got) for job, got in zip(jobs, results, strict=True) if got != job[3]]
    assert not wrong
    assert len(translator.loaded()) <= 2


def test_factory_picks_argos_only_when_packages_are_installed(mt_packages_dir: Path, tmp_path: Path) -> None:
    empty = Settings(data_dir=tmp_path / "data", mt_packages_dir=tmp_path / "none")
    assert isinstance(create_translator(empty), NoTranslator)
    installed = create_translator(Settings(data_dir=tmp_path / "data", mt_packages_dir=mt_packages_dir))
    assert isinstance(installed, ArgosTranslator)
    assert installed.can_translate("ps", "de")
    installed.close()
