"""Telegram transport, the dialogue service and (later) escalation to people."""
