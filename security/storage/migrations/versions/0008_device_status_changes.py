"""Device status changes: each source's availability over time, not only its last status.

A row is added when a source's state differs from its stored last status (the service's receive
time as `at`). The table starts with each source's last status, so a device's history begins with
what was known before the upgrade.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add device_status_changes, started from each source's last status."""
    op.create_table(
        "device_status_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_status_changes")),
    )
    op.create_index("ix_device_status_changes_source_at", "device_status_changes", ["source", "at"])
    op.create_index("ix_device_status_changes_at", "device_status_changes", ["at"])
    op.execute(
        "INSERT INTO device_status_changes (source, state, kind, detail, at) "
        "SELECT source, state, kind, detail, updated_at FROM device_status ORDER BY updated_at, source"
    )


def downgrade() -> None:
    """Drop device_status_changes (the last status of each source stays in device_status)."""
    op.drop_index("ix_device_status_changes_at", table_name="device_status_changes")
    op.drop_index("ix_device_status_changes_source_at", table_name="device_status_changes")
    op.drop_table("device_status_changes")
