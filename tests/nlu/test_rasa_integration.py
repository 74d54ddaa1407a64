"""A real Rasa Open Source 3.6 server, trained from the project's YAML, behind the bot's NLU client.

`scripts/test.sh` installs Rasa into its own Python 3.10 environment and trains the model before the
tests run (`wegweiser nlu rasa-setup`); here the server is started once for the session.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import httpx
import pytest

from core.config import Settings
from nlu.intents import BuiltinIntentClassifier, NluService, RasaNluClient
from nlu.rasa_server import RasaSetup, wait_until_ready
from nlu.training_data import TRAIN_FILE, load_training_data
from retrieval.embedder import E5SmallEmbedder

PHRASES = [
    ("hallo", "greet", None),
    ("vielen dank", "thanks", None),
    ("tschüss", "goodbye", None),
    ("ich möchte mit einem menschen sprechen", "ask_human", None),
    ("bitte auf arabisch", "change_language", "ar"),
    ("بالعربي من فضلك", "change_language", "ar"),
    ("можно по-русски", "change_language", "ru"),
    ("lösch meine daten", "delete_my_data", None),
    ("wo bekomme ich einen krankenschein", "faq", None),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def rasa(settings: Settings) -> Iterator[tuple[RasaNluClient, str]]:
    setup = RasaSetup(settings.data_dir / "rasa")
    assert setup.installed(), "Rasa is not installed: scripts/test.sh runs `wegweiser nlu rasa-setup` first"
    model, _ = setup.train()
    token = secrets.token_urlsafe(16)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = setup.serve(token, port, model)
    try:
        wait_until_ready(url, token, timeout_s=300)
        client = RasaNluClient(url, token, timeout_s=10)
        yield client, url
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="session")
def builtin(e5: E5SmallEmbedder, tmp_path_factory: pytest.TempPathFactory) -> BuiltinIntentClassifier:
    return BuiltinIntentClassifier.load_or_train(load_training_data(TRAIN_FILE), e5, tmp_path_factory.mktemp("nlu"))


@pytest.mark.parametrize(("text", "intent", "language"), PHRASES)
def test_rasa_and_builtin_agree_on_clear_phrases(
    rasa: tuple[RasaNluClient, str], builtin: BuiltinIntentClassifier, text: str, intent: str, language: str | None
) -> None:
    client, _ = rasa
    from_rasa = client.parse(text)
    from_builtin = builtin.parse(text)
    assert (from_rasa.intent, from_builtin.intent) == (intent, intent)
    if language:
        assert from_rasa.entity("language") == language  # EntitySynonymMapper in the Rasa pipeline
        assert from_builtin.entity("language") == language


def test_rasa_api_refuses_requests_without_the_token(rasa: tuple[RasaNluClient, str]) -> None:
    _, url = rasa
    assert httpx.post(f"{url}/model/parse", json={"text": "hallo"}, timeout=10).status_code == 401


def test_crisis_words_stay_deterministic_with_the_rasa_backend(
    rasa: tuple[RasaNluClient, str], builtin: BuiltinIntentClassifier
) -> None:
    client, _ = rasa
    service = NluService(client, fallback=builtin)
    result = service.parse("hallo ich will nicht mehr leben")
    assert (result.intent, result.backend) == ("emergency", "lexicon")
    assert service.parse("hallo").backend == "rasa"
