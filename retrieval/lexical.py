"""Character n-gram ranking: robust to misspellings and to German office words inside any language."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer

from core.text import normalise


class LexicalRanker:
    """TF-IDF over character 2–4-grams within word boundaries, cosine against every row."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, preprocessor=normalise, dtype=np.float32
        )
        self._matrix = self._vectorizer.fit_transform(list(texts))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Cosine similarity of ``query`` with every row (rows are L2-normalised by TF-IDF)."""
        q = self._vectorizer.transform([query])
        return np.asarray((self._matrix @ q.T).toarray().ravel(), dtype=np.float32)
