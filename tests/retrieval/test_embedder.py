"""Real models, loaded offline from the packages that carry them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.errors import EmbedderError
from retrieval.embedder import E5SmallEmbedder, SentenceTransformerEmbedder, bundled_minilm_dir, create_embedder


def test_e5_puts_the_same_question_in_different_languages_close_together(e5: E5SmallEmbedder) -> None:
    q = e5.embed_queries(["Where do I get a treatment voucher for the doctor?"])
    same = e5.embed_documents(
        ["Wo bekomme ich einen Behandlungsschein für den Arzt?", "أين أحصل على ورقة علاج للطبيب؟",
         "از کجا برگه درمان برای دکتر بگیرم؟"]
    )
    other = e5.embed_documents(["Where can I withdraw cash with the payment card?",
                                "Wie viel Bargeld kann ich mit der Bezahlkarte abheben?"])
    assert q.shape == (1, 384)
    assert np.allclose(np.linalg.norm(same, axis=1), 1.0, atol=1e-4)
    assert float((same @ q.T).min()) > float((other @ q.T).max())


def test_e5_truncates_very_long_queries_instead_of_slowing_down(e5: E5SmallEmbedder) -> None:
    long = "Ich habe eine Frage zum Krankenschein. " + "bla " * 2000
    assert e5._truncate(long) != long
    assert e5.embed_queries([long]).shape == (1, 384)


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(bundled_minilm_dir())


def test_bundled_minilm_loads_offline_from_its_package(minilm: SentenceTransformerEmbedder) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    vecs = minilm.embed_queries(["How do I get a treatment voucher?", "treatment voucher for the doctor",
                                 "football results"])
    assert vecs.shape == (3, 384) and minilm.dim == 384
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2])
    assert create_embedder(f"st:{bundled_minilm_dir()}").name == minilm.name


def test_a_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="not a sentence-transformers model directory"):
        create_embedder(f"st:{tmp_path}")
    with pytest.raises(EmbedderError, match="unknown embedder"):
        create_embedder("gpt-9")
