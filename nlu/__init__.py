"""Language and intent: language identification and the deterministic safety checks."""

from nlu.language import SERVED_LANGUAGES, LanguageGuess, LanguageIdentifier, canonical_language
from nlu.safety import CrisisDetector, CrisisMatch, HumanRequestDetector

__all__ = [
    "SERVED_LANGUAGES",
    "CrisisDetector",
    "CrisisMatch",
    "HumanRequestDetector",
    "LanguageGuess",
    "LanguageIdentifier",
    "canonical_language",
]
