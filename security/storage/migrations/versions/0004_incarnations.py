"""Incarnations and dead-letter digests: a device that starts over is a new (source, incarnation).

Events become unique on (source, incarnation, seq) instead of (source, seq), and watermarks are
kept per (source, incarnation) with the time each last moved. Dead letters gain the size and
SHA-256 of the payload as it arrived (a payload too large or too deep keeps only its first bytes).
Rows from before keep the incarnation '' (a source from before incarnations). Events are indexed by
type and receive time: the muster list and retention go by the service's clock, not the device's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add incarnations to events and watermarks, and size and hash to dead letters."""
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("incarnation", sa.String(length=64), server_default="", nullable=False))
        batch.drop_constraint("uq_events_source_seq", type_="unique")
        batch.create_unique_constraint(
            op.f("uq_events_source_incarnation_seq"), ["source", "incarnation", "seq"]
        )
    op.create_index("ix_events_type_received_at", "events", ["type", "received_at"])
    with op.batch_alter_table("watermarks") as batch:
        batch.add_column(sa.Column("incarnation", sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("updated_at", TIME, nullable=True))
        batch.drop_constraint("pk_watermarks", type_="primary")
        batch.create_primary_key(op.f("pk_watermarks"), ["source", "incarnation"])
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Back to one incarnation per source (fails if a source has events of two incarnations)."""
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("sha256")
        batch.drop_column("size")
    with op.batch_alter_table("watermarks") as batch:
        batch.drop_constraint("pk_watermarks", type_="primary")
        batch.create_primary_key(op.f("pk_watermarks"), ["source"])
        batch.drop_column("updated_at")
        batch.drop_column("incarnation")
    op.drop_index("ix_events_type_received_at", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_source_incarnation_seq", type_="unique")
        batch.create_unique_constraint(op.f("uq_events_source_seq"), ["source", "seq"])
        batch.drop_column("incarnation")
