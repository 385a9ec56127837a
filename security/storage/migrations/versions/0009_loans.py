"""Loans: the items the desk lent (keys, access cards, laptops, safety gear), to whom, until when, and
their return.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the loans table (empty: loans are recorded from the `item.lent` events stored from now on)."""
    op.create_table(
        "loans",
        sa.Column("loan_id", sa.String(length=128), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("visit_id", sa.String(length=64), nullable=True),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("lent_at", TIME, nullable=False),
        sa.Column("lent_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("returned_at", TIME, nullable=True),
        sa.Column("returned_by", sa.String(length=200), nullable=True),
        sa.Column("return_event_id", sa.String(length=128), nullable=True),
        sa.Column("condition", sa.String(length=16), nullable=True),
        sa.Column("return_note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loans")),
    )
    op.create_index("ix_loans_item_id_lent_at", "loans", ["item_id", "lent_at"])
    op.create_index("ix_loans_visit_id", "loans", ["visit_id"])
    op.create_index("ix_loans_person_id", "loans", ["person_id"])
    op.create_index("ix_loans_returned_at_due_at", "loans", ["returned_at", "due_at"])


def downgrade() -> None:
    """Drop the loans table (the `item.lent` and `item.returned` events stay in the log)."""
    op.drop_index("ix_loans_returned_at_due_at", table_name="loans")
    op.drop_index("ix_loans_person_id", table_name="loans")
    op.drop_index("ix_loans_visit_id", table_name="loans")
    op.drop_index("ix_loans_item_id_lent_at", table_name="loans")
    op.drop_table("loans")
