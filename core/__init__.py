"""Shared foundations: settings from the environment, the error tree, text normalisation."""

from core.config import Settings
from core.errors import ConfigError, ContentError, EmbedderError, InputError, VectorIndexError, WegweiserError

__all__ = [
    "ConfigError",
    "ContentError",
    "EmbedderError",
    "InputError",
    "Settings",
    "VectorIndexError",
    "WegweiserError",
]
