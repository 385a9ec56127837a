"""Visitors: invitations (announced visits with a QR code) and the watchlist.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:49:26.725125
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Create the invitations and the watchlist."""
    op.create_table(
        "invitations",
        sa.Column("visit_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("visitor_name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("visitor_type", sa.String(length=16), nullable=False),
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("expected_at", TIME, nullable=False),
        sa.Column("valid_until", TIME, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("cancelled_at", TIME, nullable=True),
        sa.Column("checked_in_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("code", name=op.f("uq_invitations_code")),
    )
    op.create_index("ix_invitations_expected_at", "invitations", ["expected_at"])

    op.create_table(
        "watchlist",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", JSON, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", TIME, nullable=False),
        sa.Column("removed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist")),
    )


def downgrade() -> None:
    """Drop the invitations and the watchlist."""
    op.drop_table("watchlist")
    op.drop_index("ix_invitations_expected_at", table_name="invitations")

    op.drop_table("invitations")
