"""Initial event log: events, dead letters, device status and delivery watermarks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:29:12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables of the event log and their indexes."""
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
        sa.UniqueConstraint("source", "seq", name=op.f("uq_events_source_seq")),
    )
    op.create_index("ix_events_time", "events", ["time"])
    op.create_index("ix_events_type_time", "events", ["type", "time"])
    op.create_index("ix_events_source_time", "events", ["source", "time"])

    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])

    op.create_table(
        "device_status",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("since", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_device_status")),
    )

    op.create_table(
        "watermarks",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_watermarks")),
    )


def downgrade() -> None:
    """Drop the event log."""
    op.drop_table("watermarks")
    op.drop_table("device_status")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_events_source_time", table_name="events")
    op.drop_index("ix_events_type_time", table_name="events")
    op.drop_index("ix_events_time", table_name="events")
    op.drop_table("events")
