"""Incident categories: security, safety, complaint, lost_item or other; incidents from before are `other`.

Revision ID: 0007
Revises: 0004 (becomes 0006 when the revisions 0005 and 0006, written on other branches, are merged first)
Create Date: 2026-12-05 03:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the category column; every incident already stored becomes `other`."""
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("category", sa.String(length=32), server_default="other", nullable=False))


def downgrade() -> None:
    """Drop the category column (the categories are lost)."""
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("category")
