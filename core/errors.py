"""One root exception for everything Wegweiser raises on purpose.

Callers catch :class:`WegweiserError` at the edges (CLI, Telegram handler) and turn it into a
translated message; foreign errors are wrapped with ``raise … from e`` so the cause survives.
"""


class WegweiserError(Exception):
    """Root of every error the project raises deliberately."""


class ConfigError(WegweiserError):
    """A setting from the environment is missing or malformed."""


class ContentError(WegweiserError):
    """Curated knowledge could not be loaded or failed validation."""


class EmbedderError(WegweiserError):
    """An embedding model could not be loaded or used."""


class VectorIndexError(WegweiserError):
    """The vector index is missing, stale or corrupt."""


class InputError(WegweiserError):
    """A user's input cannot be processed (empty, oversized, malformed)."""


class TranslationUnavailable(WegweiserError):  # noqa: N818 (an expected outcome, named as the port documents it)
    """No installed machine-translation package (direct or through the pivot) covers a language pair."""


class DeliveryError(WegweiserError):
    """A message could not be delivered after retries."""


class RecipientGoneError(DeliveryError):
    """The recipient blocked the bot or deleted their account."""


class ThreadGoneError(DeliveryError):
    """The forum topic a message was meant for no longer exists."""


class RejectedError(DeliveryError):
    """The Bot API refused this one request for good (e.g. the message to copy was deleted)."""


class PackageError(WegweiserError):
    """A machine-translation package is missing, malformed or cannot be installed."""


class PackageIndexUnavailable(PackageError):  # noqa: N818 (mirrors TranslationUnavailable)
    """Argos' package index (or a package download) cannot be reached: the machine is offline."""
