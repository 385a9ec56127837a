"""Back office: people, credentials, rights, alarms, incidents, the audit chain, notifications, API tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:19:06.558268
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
GENESIS = "0" * 64


def upgrade() -> None:
    """Create the back office's tables, the directory version row and the empty audit chain head."""
    op.create_table(
        "access_rights",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("door_group", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("group", sa.String(length=64), nullable=True),
        sa.Column("schedule", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_rights")),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("raised_at", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("shelved_until", TIME, nullable=True),
        sa.Column("before_shelve", sa.String(length=16), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("cause", JSON, nullable=False),
        sa.Column("history", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        sa.UniqueConstraint("number", name=op.f("uq_alarms_number")),
    )
    op.create_index("ix_alarms_raised_at", "alarms", ["raised_at"])
    op.create_index("ix_alarms_state", "alarms", ["state"])

    op.create_table(
        "api_tokens",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["time"])

    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_version")),
    )
    op.create_table(
        "door_groups",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("doors", JSON, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_door_groups")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("number", name=op.f("uq_incidents_number")),
    )
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])

    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("alarm_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_state_next_attempt_at", "notifications", ["state", "next_attempt_at"])

    op.create_table(
        "people",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("groups", JSON, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "credentials",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", TIME, nullable=True),
        sa.Column("valid_until", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_credentials_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    op.create_index("ix_credentials_person_id", "credentials", ["person_id"])
    op.create_index("ix_credentials_value", "credentials", ["value"])

    op.create_table(
        "incident_items",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_items_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_items")),
    )
    op.create_index("ix_incident_items_incident_id", "incident_items", ["incident_id"])
    op.bulk_insert(
        sa.table(
            "directory_version",
            sa.column("id", sa.Integer),
            sa.column("version", sa.BigInteger),
            sa.column("changed_at", TIME),
        ),
        [{"id": 1, "version": 0, "changed_at": datetime(2026, 1, 1, tzinfo=UTC)}],
    )
    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer),
            sa.column("seq", sa.BigInteger),
            sa.column("hash", sa.String),
        ),
        [{"id": 1, "seq": 0, "hash": GENESIS}],
    )


def downgrade() -> None:
    """Drop the back office's tables."""
    op.drop_index("ix_incident_items_incident_id", table_name="incident_items")

    op.drop_table("incident_items")
    op.drop_index("ix_credentials_value", table_name="credentials")
    op.drop_index("ix_credentials_person_id", table_name="credentials")

    op.drop_table("credentials")
    op.drop_table("people")
    op.drop_index("ix_notifications_state_next_attempt_at", table_name="notifications")

    op.drop_table("notifications")
    op.drop_index("ix_incidents_opened_at", table_name="incidents")

    op.drop_table("incidents")
    op.drop_table("door_groups")
    op.drop_table("directory_version")
    op.drop_index("ix_audit_log_time", table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_table("audit_head")
    op.drop_table("api_tokens")
    op.drop_index("ix_alarms_state", table_name="alarms")
    op.drop_index("ix_alarms_raised_at", table_name="alarms")

    op.drop_table("alarms")
    op.drop_table("access_rights")
