"""Hand-over: helpers, invites, conversations, offers, relayed messages, audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _spec_columns() -> list[sa.Column[object]]:
    """Shared by helpers and invites (``bot.handover.models.HelperSpec``)."""
    return [
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("languages", sa.String(200), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("availability", sa.String(200), nullable=False),
        sa.Column("max_open", sa.Integer(), nullable=False),
        sa.Column("max_per_week", sa.Integer(), nullable=False),
        sa.Column("gender", sa.String(8), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "helpers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_key", sa.String(64), nullable=False, unique=True),
        sa.Column("chat", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        *_spec_columns(),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("alias", sa.String(64), nullable=True),
        *_spec_columns(),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("label", sa.String(16), nullable=False, unique=True),
        sa.Column("person_key", sa.String(64), nullable=False, index=True),
        sa.Column("person_chat", sa.String(32), nullable=True),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("helper_id", sa.Integer(), sa.ForeignKey("helpers.id"), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("translated", sa.Boolean(), nullable=False),
        sa.Column("want_gender", sa.String(8), nullable=True),
        sa.Column("queue_seq", sa.Integer(), nullable=True),
        sa.Column("opening_text", sa.Text(), nullable=True),
        sa.Column("intro_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("requested_at", TZ, nullable=True),
        sa.Column("assigned_at", TZ, nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("helped", sa.Boolean(), nullable=True),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id"), nullable=False, index=True),
        sa.Column("helper_id", sa.Integer(), sa.ForeignKey("helpers.id"), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_table(
        "relay_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id"), nullable=False, index=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("source_chat", sa.String(32), nullable=False),
        sa.Column("source_message_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("target_chat", sa.String(32), nullable=True),
        sa.Column("target_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("direction", "source_chat", "source_message_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True, index=True),
        sa.Column("detail", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    for table in ("audit_log", "relay_messages", "offers", "conversations", "invites", "helpers"):
        op.drop_table(table)
