"""Tiny but real argostranslate packages, built at test time (no model can be downloaded here).

For each direction in ``data/mt_pairs.yaml`` this trains a SentencePiece model and a one-layer
``MarianMTModel`` (d_model 32) full-batch until it reproduces every pair exactly, converts it with
CTranslate2's ``TransformersConverter`` and zips it as a ``.argosmodel``. The translator under test
then runs argostranslate's real code path (sentence split, SentencePiece, CTranslate2 beam search).

Facts this relies on (measured, see ARCHITECTURE.md): CTranslate2 starts Marian decoders from a zero
embedding, so the ``<pad>`` row (the decoder start token) is zeroed and kept at zero; the Marian
loader drops the last vocabulary row, so ``<pad>`` is last; the converted config needs
``add_source_eos``. Builds are deterministic (seeded, one thread) and cached under the system temp
folder, keyed by a hash of the data, the glossary and this file: a rerun costs nothing.

Pytest fixtures (registered for the whole suite through ``tests/conftest.py``):

* ``argos_packages`` (session): ``{("de", "en"): Path("….argosmodel"), …}``
* ``mt_packages_dir``: a fresh folder with every test package installed
* ``make_translator``: ``make_translator(max_loaded=2, cache_file=None) -> ArgosTranslator``
  over ``mt_packages_dir`` with its own cache file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
import yaml

from translations.cache import TranslationCache
from translations.glossary import GLOSSARY_FILE, default_glossary
from translations.machine import ArgosTranslator
from translations.packages import install_package

DATA_FILE = Path(__file__).with_name("data") / "mt_pairs.yaml"
BUILD_ROOT = Path(tempfile.gettempdir()) / "wegweiser-test-argos"
PACKAGE_VERSION = "1.0"
LANGUAGE_NAMES = {"de": "German", "en": "English", "ps": "Pashto"}
MAX_ROUNDS = 6
STEPS_PER_ROUND = 150


def load_pairs(data_file: Path = DATA_FILE) -> dict[tuple[str, str], list[tuple[str, str]]]:
    data = yaml.safe_load(data_file.read_text(encoding="utf-8"))
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, rows in data.items():
        source, target = key.split("-")
        out[(source, target)] = [(str(a), str(b)) for a, b in rows]
    return out


def masked_pairs(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Both sides masked the way the translator masks its input (placeholders are stable per term)."""
    glossary = default_glossary()
    return [(glossary.mask(a).text, glossary.mask(b).text) for a, b in rows]


def _argos_decode(pieces: list[str], sp: Any) -> str:
    # What argostranslate's SentencePieceTokenizer.decode and apply_packaged_translation do.
    value = str(sp.decode_pieces(pieces)).replace("▁", " ").replace("_", " ")
    return value[1:] if value.startswith(" ") else value


def build_package(source: str, target: str, rows: list[tuple[str, str]], out_dir: Path,
                  version: str = PACKAGE_VERSION, seed: int = 0) -> Path:
    """Train, convert and zip one package; returns the ``.argosmodel`` path. Runs in a worker process."""
    import ctranslate2
    import sentencepiece as spm
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import MarianConfig, MarianMTModel
    from transformers.utils import logging as transformers_logging

    hf_logging: Any = transformers_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    work = Path(tempfile.mkdtemp(prefix=f"{source}_{target}-", dir=out_dir))
    name = f"translate-{source}_{target}-test"
    pkg = work / name
    pkg.mkdir()
    pairs = masked_pairs(rows)

    # SentencePiece in Marian's id layout: </s>=0, <unk>=1, pieces …, and <pad> appended last.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([s for pair in pairs for s in pair]), model_prefix=str(pkg / "sentencepiece"),
        vocab_size=400, hard_vocab_limit=False, model_type="unigram", eos_id=0, unk_id=1, bos_id=-1, pad_id=-1,
        character_coverage=1.0, num_threads=1, minloglevel=2,
    )
    (pkg / "sentencepiece.vocab").unlink()
    sp = spm.SentencePieceProcessor(model_file=str(pkg / "sentencepiece.model"))
    size = sp.get_piece_size()
    pad = size
    config = MarianConfig(
        vocab_size=size + 1, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
        pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad, forced_eos_token_id=0,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
    )
    model: Any = MarianMTModel(config)

    def batch(seqs: list[list[int]], fill: int) -> torch.Tensor:
        longest = max(map(len, seqs))
        return torch.tensor([s + [fill] * (longest - len(s)) for s in seqs])

    input_ids = batch([[*sp.encode(a), 0] for a, _ in pairs], pad)
    labels = batch([[*sp.encode(b), 0] for _, b in pairs], -100)
    attention = (input_ids != pad).long()
    embeddings: Any = model.get_input_embeddings()
    with torch.no_grad():
        embeddings.weight[pad].zero_()
    embeddings.weight.register_hook(lambda grad: grad.index_fill(0, torch.tensor([pad]), 0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    class _Vocabulary:
        """What the Marian loader asks of a tokenizer (we have no MarianTokenizer files)."""

        eos_token, unk_token = "</s>", "<unk>"

        def get_vocab(self) -> dict[str, int]:
            vocab = {sp.id_to_piece(i): i for i in range(size)}
            vocab["<pad>"] = pad
            return vocab

    class _Converter(TransformersConverter):  # type: ignore[misc]
        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return _Vocabulary()

    sources = [sp.encode(a, out_type=str) for a, _ in pairs]
    for _ in range(MAX_ROUNDS):
        model.train()
        for _ in range(STEPS_PER_ROUND):
            loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        hf_dir = work / "hf"
        model.save_pretrained(hf_dir)
        shutil.rmtree(pkg / "model", ignore_errors=True)
        _Converter(str(hf_dir)).convert(str(pkg / "model"), force=True)
        config_file = pkg / "model" / "config.json"
        converted = json.loads(config_file.read_text())
        converted["add_source_eos"] = True
        config_file.write_text(json.dumps(converted, indent=2))
        translator = ctranslate2.Translator(str(pkg / "model"), device="cpu", intra_threads=1)
        results = translator.translate_batch(sources, beam_size=4, length_penalty=0.2, replace_unknowns=True)
        wrong = [b for (_, b), r in zip(pairs, results, strict=True) if _argos_decode(r.hypotheses[0], sp) != b]
        del translator
        if not wrong:
            break
    else:
        raise RuntimeError(f"{source}→{target}: the tiny model did not memorise {wrong[:3]}")
    shutil.rmtree(work / "hf")
    (pkg / "metadata.json").write_text(json.dumps({
        "package_version": version, "argos_version": "1.9", "type": "translate", "code": f"{source}_{target}",
        "from_code": source, "from_name": LANGUAGE_NAMES.get(source, source),
        "to_code": target, "to_name": LANGUAGE_NAMES.get(target, target), "links": [],
    }, indent=2))
    archive = out_dir / f"{name}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(pkg.rglob("*")):
            zf.write(file, file.relative_to(work))
    shutil.rmtree(work)
    return archive


def fixture_key(data_file: Path = DATA_FILE) -> str:
    digest = hashlib.sha256()
    for part in (data_file, GLOSSARY_FILE, Path(__file__)):
        digest.update(part.read_bytes())
    return digest.hexdigest()[:16]


def build_test_packages(root: Path = BUILD_ROOT, data_file: Path = DATA_FILE) -> dict[tuple[str, str], Path]:
    """Every test package, built once per content of the data (two worker processes, one per core)."""
    target = root / fixture_key(data_file)
    pairs = load_pairs(data_file)
    expected = {pair: target / f"translate-{pair[0]}_{pair[1]}-test.argosmodel" for pair in pairs}
    if all(p.exists() for p in expected.values()):
        return expected
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    started = time.perf_counter()
    # spawn: the parent may already run torch threads, which do not survive a fork.
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1), mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(build_package, s, t, rows, staging) for (s, t), rows in pairs.items()]
        for job in jobs:
            job.result()
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # a parallel run finished first with identical files
    (root / "last_build_seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    return expected


# ---------------------------------------------------------------------- pytest fixtures
@pytest.fixture(scope="session")
def argos_packages() -> dict[tuple[str, str], Path]:
    return build_test_packages()


@pytest.fixture
def mt_packages_dir(tmp_path: Path, argos_packages: dict[tuple[str, str], Path]) -> Path:
    folder = tmp_path / "packages"
    for archive in argos_packages.values():
        install_package(archive, folder)
    return folder


@pytest.fixture(scope="session")
def argos_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("argos-home")


@pytest.fixture
def make_translator(
    mt_packages_dir: Path, argos_home: Path, tmp_path: Path
) -> Iterator[Callable[..., ArgosTranslator]]:
    made: list[ArgosTranslator] = []

    def make(max_loaded: int = 2, cache_file: Path | None = None, packages_dir: Path | None = None) -> ArgosTranslator:
        translator = ArgosTranslator(packages_dir or mt_packages_dir, argos_home,
                                     TranslationCache(cache_file or tmp_path / f"mt-cache-{len(made)}.sqlite"),
                                     max_loaded=max_loaded)
        made.append(translator)
        return translator

    yield make
    for translator in made:
        translator.close()
