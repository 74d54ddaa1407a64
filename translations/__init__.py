"""Texts in the person's language: engine messages now; machine translation and UI catalogues later."""

from translations.messages import EngineMessages, Message, engine_messages

__all__ = ["EngineMessages", "Message", "engine_messages"]
