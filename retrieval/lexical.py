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
        # Column-major: a query touches few n-grams, so only those columns are read.
        self._columns = self._vectorizer.fit_transform(list(texts)).tocsc()

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Cosine similarity of ``query`` with every row (rows are L2-normalised by TF-IDF)."""
        q = self._vectorizer.transform([query])
        if q.nnz == 0:
            return np.zeros(self._columns.shape[0], dtype=np.float32)
        return np.asarray(self._columns[:, q.indices] @ q.data, dtype=np.float32).ravel()
