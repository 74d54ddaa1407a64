"""Shared foundations: settings from the environment, the error tree, text normalisation."""

from core.config import Settings
from core.errors import ConfigError, ContentError, EmbedderError, IndexError_, InputError, WegweiserError

__all__ = [
    "ConfigError",
    "ContentError",
    "EmbedderError",
    "IndexError_",
    "InputError",
    "Settings",
    "WegweiserError",
]
