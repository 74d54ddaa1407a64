"""Fakes of external services for end-to-end tests."""

from tests.fakes.bot_api import ApiError, CallRecord, FakeBotApi, FakeUser, SentRecord

__all__ = ["ApiError", "CallRecord", "FakeBotApi", "FakeUser", "SentRecord"]
