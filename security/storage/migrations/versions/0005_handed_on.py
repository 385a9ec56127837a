"""Handed on: how far the central service has handed a stream it reads back from the log to the back office.

The console's events (incidents and invitations written by the CLI) reach the log without the
service; it reads them back and hands them to the back office, then publishes them. The last seq
handed on of each (source, incarnation) is kept here, moved in the transaction that hands those
events on, so what the console writes while the service is stopped is handed on once it starts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the handed_on table."""
    op.create_table(
        "handed_on",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("incarnation", sa.String(length=64), server_default="", nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("source", "incarnation", name=op.f("pk_handed_on")),
    )


def downgrade() -> None:
    """Drop the handed_on table (the service then starts handing on from the log's end again)."""
    op.drop_table("handed_on")
