"""What a message *is*: intents from Rasa-format training data, with two interchangeable backends.

* :class:`BuiltinIntentClassifier` (default): character n-grams plus the sentence embedder, a linear
  model, trained in-process in seconds, cached on disk and retrained when the data changes.
* :class:`RasaNluClient`: a Rasa Open Source 3.6 server's ``/model/parse`` (``NLU_BACKEND=rasa``),
  falling back to the built-in backend when the server is down.

The crisis lexicon runs before either backend and cannot be overridden (:class:`NluService`).
"""

from __future__ import annotations

import logging
import pickle
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from core.errors import WegweiserError
from core.text import normalise
from nlu.safety import CrisisDetector
from nlu.training_data import TrainingData
from retrieval.embedder import Embedder

log = logging.getLogger(__name__)
MODEL_FORMAT = 1


class NluBackendError(WegweiserError):
    """The NLU backend could not parse a message (e.g. the Rasa server is down)."""


@dataclass(frozen=True)
class IntentResult:
    intent: str
    confidence: float
    entities: list[dict[str, str]] = field(default_factory=list)
    backend: str = ""

    def entity(self, name: str) -> str | None:
        return next((e["value"] for e in self.entities if e["entity"] == name), None)


class IntentBackend(Protocol):
    name: str

    def parse(self, text: str) -> IntentResult: ...


class SynonymEntityExtractor:
    """Finds ``language`` mentions by the training data's synonyms (longest surface form first)."""

    def __init__(self, synonyms: dict[str, str], entity: str = "language") -> None:
        self.entity = entity
        forms = sorted((normalise(f) for f in synonyms), key=len, reverse=True)
        self._value = {normalise(f): v for f, v in synonyms.items()}
        pattern = "|".join(re.escape(f) for f in forms if f)
        # Word-ish boundaries that also work for Arabic script and Ge'ez.
        self._re = re.compile(rf"(?<!\w)({pattern})(?!\w)") if pattern else None

    def extract(self, text: str) -> list[dict[str, str]]:
        if self._re is None:
            return []
        norm = normalise(text)
        return [{"entity": self.entity, "value": self._value[m.group(1)], "text": m.group(1)}
                for m in self._re.finditer(norm)]


class BuiltinIntentClassifier:
    name = "builtin"

    def __init__(self, data: TrainingData, embedder: Embedder | None = None, embed_weight: float = 2.0) -> None:
        self.fingerprint = data.fingerprint
        self._embedder = embedder
        self._embed_weight = embed_weight
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, preprocessor=normalise)
        self._words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=normalise,
                                      token_pattern=r"(?u)\b\w+\b")  # noqa: S106 - a regex, not a password
        texts = [e.text for e in data.examples]
        labels = [e.intent for e in data.examples]
        self._chars.fit(texts)
        self._words.fit(texts)
        self._model = LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced")
        self._model.fit(self._features(texts), labels)
        self.extractor = SynonymEntityExtractor(data.synonyms)
        self._lock = threading.Lock()

    @property
    def embedder_name(self) -> str | None:
        return self._embedder.name if self._embedder else None

    def _features(self, texts: Sequence[str]) -> Any:
        parts = [self._chars.transform(texts), self._words.transform(texts)]
        if self._embedder is not None:
            dense = self._embedder.embed_queries(list(texts)) * self._embed_weight
            parts.append(csr_matrix(dense))
        return hstack(parts).tocsr()

    def parse(self, text: str) -> IntentResult:
        with self._lock:
            probs = self._model.predict_proba(self._features([text]))[0]
        best = int(np.argmax(probs))
        return IntentResult(str(self._model.classes_[best]), float(probs[best]), self.extractor.extract(text),
                            self.name)

    # -- persistence: the embedder is a live object, so it is detached while pickling
    def save(self, path: Path) -> None:
        embedder, self._embedder = self._embedder, None
        lock, self._lock = self._lock, None  # type: ignore[assignment]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps({"format": MODEL_FORMAT, "model": self}))
            tmp.replace(path)
        finally:
            self._embedder, self._lock = embedder, lock

    @classmethod
    def load_or_train(cls, data: TrainingData, embedder: Embedder | None, cache_dir: Path) -> BuiltinIntentClassifier:
        """Trained once per data version and embedder; a changed YAML retrains on next start."""
        tag = f"{data.fingerprint}-{(embedder.name if embedder else 'chars').replace('/', '_')}"
        path = cache_dir / f"intents-{tag}.pkl"
        if path.is_file():
            try:
                # Our own cache file, written by save() below; never loaded from elsewhere.
                payload = pickle.loads(path.read_bytes())  # noqa: S301
                if payload.get("format") == MODEL_FORMAT:
                    model: BuiltinIntentClassifier = payload["model"]
                    model._embedder, model._lock = embedder, threading.Lock()
                    return model
            except Exception:  # a stale or partial cache is rebuilt, never trusted
                log.warning("nlu.cache_unreadable path=%s", path)
        started = time.perf_counter()
        model = cls(data, embedder)
        model.save(path)
        log.info("nlu.trained examples=%d seconds=%.1f", len(data.examples), time.perf_counter() - started)
        return model


class RasaNluClient:
    """Rasa Open Source's HTTP API; every call carries the auth token."""

    name = "rasa"

    def __init__(self, url: str, token: str, timeout_s: float = 3.0) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._client = httpx.Client(timeout=timeout_s)

    def parse(self, text: str) -> IntentResult:
        try:
            response = self._client.post(f"{self._url}/model/parse", params={"token": self._token},
                                         json={"text": text})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise NluBackendError(f"Rasa server at {self._url} did not parse the message: {type(e).__name__}") from e
        intent = body.get("intent") or {}
        entities = [{"entity": str(e.get("entity")), "value": str(e.get("value")), "text": str(e.get("value"))}
                    for e in body.get("entities") or []]
        return IntentResult(str(intent.get("name") or "faq"), float(intent.get("confidence") or 0.0), entities,
                            self.name)

    def close(self) -> None:
        self._client.close()

    def alive(self) -> bool:
        try:
            return self._client.get(f"{self._url}/", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


class NluService:
    """Crisis lexicon first (deterministic), then the configured backend, then the fallback."""

    def __init__(self, backend: IntentBackend, crisis: CrisisDetector | None = None,
                 fallback: IntentBackend | None = None) -> None:
        self.backend = backend
        self.crisis = crisis or CrisisDetector()
        self.fallback = fallback

    def parse(self, text: str) -> IntentResult:
        if self.crisis.check(text) is not None:
            return IntentResult("emergency", 1.0, [], "lexicon")
        try:
            return self.backend.parse(text)
        except NluBackendError as e:
            if self.fallback is None:
                raise
            log.warning("nlu.fallback reason=%s", e)
            return self.fallback.parse(text)


def create_nlu(
    nlu_backend: str, cache_dir: Path, embedder: Embedder | None, rasa_url: str = "", rasa_token: str | None = None,
    crisis: CrisisDetector | None = None,
) -> NluService:
    """The configured backend; with ``rasa`` the built-in classifier stays ready as the fall-back."""
    from nlu.training_data import TRAIN_FILE, load_training_data

    builtin = BuiltinIntentClassifier.load_or_train(load_training_data(TRAIN_FILE), embedder, cache_dir)
    if nlu_backend == "builtin":
        return NluService(builtin, crisis)
    if nlu_backend == "rasa":
        if not rasa_token:
            raise WegweiserError("NLU_BACKEND=rasa needs RASA_TOKEN (the server's --auth-token)")
        return NluService(RasaNluClient(rasa_url, rasa_token), crisis, fallback=builtin)
    raise WegweiserError(f"unknown NLU_BACKEND {nlu_backend!r} (builtin or rasa)")
