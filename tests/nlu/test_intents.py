"""The built-in intent backend and the Rasa YAML reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ContentError
from nlu.intents import BuiltinIntentClassifier, IntentResult, NluBackendError, NluService, RasaNluClient
from nlu.training_data import TEST_FILE, TRAIN_FILE, load_training_data
from retrieval.embedder import E5SmallEmbedder

INTENTS = {"greet", "thanks", "goodbye", "ask_human", "change_language", "delete_my_data", "complaint",
           "emergency", "faq", "out_of_scope"}


@pytest.fixture(scope="session")
def classifier(e5: E5SmallEmbedder, tmp_path_factory: pytest.TempPathFactory) -> BuiltinIntentClassifier:
    return BuiltinIntentClassifier.load_or_train(load_training_data(TRAIN_FILE), e5, tmp_path_factory.mktemp("nlu"))


def test_training_data_has_every_intent_with_enough_examples_in_many_languages() -> None:
    data = load_training_data(TRAIN_FILE)
    assert set(data.intents) == INTENTS
    for intent in INTENTS:
        assert sum(e.intent == intent for e in data.examples) >= 15, intent
    assert {"ar", "fa", "uk", "ru", "tr", "fr", "de", "en"} <= set(data.synonyms.values())
    held_out = {e.text.casefold() for e in load_training_data(TEST_FILE).examples}
    assert held_out.isdisjoint({e.text.casefold() for e in data.examples})


def test_annotations_are_stripped_and_kept_as_entities(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n- intent: change_language\n  examples: |\n    - bitte auf [arabisch](language)\n'
        "- synonym: ar\n  examples: |\n    - arabisch\n",
        encoding="utf-8",
    )
    data = load_training_data(path)
    (example,) = data.examples
    assert example.text == "bitte auf arabisch"
    entity = example.entities[0]
    assert (entity.entity, entity.text, entity.start) == ("language", "arabisch", 10)
    assert data.synonyms == {"arabisch": "ar"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('version: "3.1"\nnlu:\n- intent: greet\n  examples: [unclosed\n', r"line \d+: invalid YAML"),
        ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    hallo\n', "does not start with '- '"),
        ("nlu: []\n", 'version: "3.1"'),
        ('version: "3.1"\nnlu:\n- story: x\n', "expected intent, synonym"),
    ],
)
def test_malformed_training_data_gives_a_clear_error_with_file(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ContentError, match=message) as err:
        load_training_data(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("hallo", "greet"), ("شكرا جزيلا", "thanks"), ("ich brauche einen dolmetscher", "ask_human"),
     ("lösch bitte alle meine daten", "delete_my_data"), ("wo bekomme ich einen krankenschein", "faq")],
)
def test_builtin_backend_recognises_clear_phrases(classifier: BuiltinIntentClassifier, text: str, intent: str) -> None:
    assert classifier.parse(text).intent == intent


@pytest.mark.parametrize(("text", "code"), [("bitte auf arabisch", "ar"), ("по-русски пожалуйста", "ru"),
                                            ("can you speak farsi", "fa")])
def test_language_entity_is_resolved_through_synonyms(
    classifier: BuiltinIntentClassifier, text: str, code: str
) -> None:
    result = classifier.parse(text)
    assert result.intent == "change_language"
    assert result.entity("language") == code


def test_held_out_accuracy_stays_above_its_floor(classifier: BuiltinIntentClassifier) -> None:
    test = load_training_data(TEST_FILE)
    correct = sum(classifier.parse(e.text).intent == e.intent for e in test.examples)
    assert correct / len(test.examples) >= 0.90  # measured 0.946


def test_cached_model_is_reused_and_retrained_when_the_data_changes(e5: E5SmallEmbedder, tmp_path: Path) -> None:
    data = load_training_data(TRAIN_FILE)
    BuiltinIntentClassifier.load_or_train(data, None, tmp_path)
    assert len(list(tmp_path.glob("intents-*.pkl"))) == 1
    BuiltinIntentClassifier.load_or_train(data, None, tmp_path)
    assert len(list(tmp_path.glob("intents-*.pkl"))) == 1
    data.fingerprint = "changed"
    BuiltinIntentClassifier.load_or_train(data, None, tmp_path)
    assert len(list(tmp_path.glob("intents-*.pkl"))) == 2


def test_crisis_lexicon_wins_over_any_classifier(classifier: BuiltinIntentClassifier) -> None:
    class AlwaysGreet:
        name = "greet-only"

        def parse(self, text: str) -> IntentResult:
            return IntentResult("greet", 1.0, [], self.name)

    service = NluService(AlwaysGreet())
    assert service.parse("hallo, ich will mich umbringen").intent == "emergency"
    assert service.parse("hallo").intent == "greet"


def test_rasa_down_falls_back_to_the_builtin_backend(classifier: BuiltinIntentClassifier) -> None:
    dead = RasaNluClient("http://127.0.0.1:9", "token", timeout_s=0.5)
    with pytest.raises(NluBackendError, match="did not parse"):
        dead.parse("hallo")
    service = NluService(dead, fallback=classifier)
    assert service.parse("hallo").backend == "builtin"
    dead.close()
