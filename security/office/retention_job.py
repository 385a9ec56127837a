"""The retention job: anonymise visitors' personal data in stored events older than the policy allows.

An event's age is counted from when the central service received it (`received_at`), never from
the time its device wrote on it: a check-in a device dated 2099 is purged like any other.

`plan_retention` (pure) decides; this module reads the candidate events, writes their new
`data` and appends the plan's audit record in one transaction. In the same transaction it
pseudonymises old invitations and deletes delivered (`sent`) or given-up (`failed`)
notifications created before the cutoff: host notices and invitation e-mails name the
visitor, carry their e-mail address and the invitation code. Pending notifications stay,
they are still being delivered. A second run finds nothing left to change and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from broker.config import ConfigError, read_toml
from security.office.audit import AuditRecord, RetentionPlan, RetentionPolicy, plan_retention, pseudonym
from security.storage import EventStore
from security.storage.audit_log import append_audit, lock_head
from security.storage.notifications import count_finished, delete_finished
from security.storage.retention import (
    forget_visitors,
    invited_visitors,
    personal_events,
    rewrite_event_data,
)

log = logging.getLogger(__name__)

SECTION = "retention"


class RetentionConfig(BaseModel):
    """The `[retention]` section of the TOML settings file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(default=90, ge=0, description="Days visitors' personal data is kept in stored events.")
    run_at: int = Field(default=3, ge=0, le=23, description="Hour of the day (local) the job runs at.")

    def policy(self) -> RetentionPolicy:
        """The retention policy these settings describe."""
        return RetentionPolicy(days=self.days)


def load_retention_config(config_file: str | Path | None) -> RetentionConfig:
    """The `[retention]` section of `config_file` (defaults when there is no file or no section)."""
    if not config_file:
        return RetentionConfig()
    doc = read_toml(config_file)
    section = doc.get(SECTION, {})
    if not isinstance(section, dict):
        raise ConfigError(f"config file {config_file}: [{SECTION}] must be a table")
    try:
        return RetentionConfig.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"config file {config_file} [{SECTION}]: {problems}") from None


@dataclass(slots=True, frozen=True)
class RetentionResult:
    """What one run did (or, for a dry run, would do)."""

    cutoff: datetime
    anonymised: int
    """How many records lost personal data: events and invitations anonymised, notifications deleted."""
    by_type: Mapping[str, int] = field(default_factory=dict)
    audit_seq: int | None = None
    """The sequence number of the run's audit record (None when nothing changed or a dry run)."""
    dry_run: bool = False


def _candidates(
    conn: Connection, policy: RetentionPolicy, now: datetime
) -> tuple[list[int], list[dict[str, Any]]]:
    """Row keys and plan inputs of the stored events that may hold personal data past the cutoff."""
    keys: list[int] = []
    records: list[dict[str, Any]] = []
    for found in personal_events(conn, list(policy.personal), policy.cutoff(now)):
        keys.append(found.row_key)
        records.append({"id": found.event_id, "type": found.type, "time": found.received_at,
                        "data": found.data})
    return keys, records


def _result(
    plan: RetentionPlan, invitations: int, notifications: int, audit_seq: int | None, dry_run: bool
) -> RetentionResult:
    by_type: dict[str, int] = {}
    for change in plan.changes:
        by_type[change.type] = by_type.get(change.type, 0) + 1
    if invitations:
        by_type["invitation"] = invitations
    if notifications:
        by_type["notification"] = notifications
    total = len(plan.changes) + invitations + notifications
    return RetentionResult(plan.cutoff, total, by_type, audit_seq, dry_run)


def _old_invitations(conn: Connection, cutoff: datetime) -> list[str]:
    """Visit ids of invitations expected before `cutoff` that still name their visitor."""
    return [v.visit_id for v in invited_visitors(conn, cutoff) if v.visitor_name != pseudonym(v.visit_id)]


def _forget_invitations(
    conn: Connection, visit_ids: list[str], now: datetime, actor: str
) -> AuditRecord | None:
    """Pseudonymise the visitor of old invitations and drop their company and e-mail."""
    if not visit_ids:
        return None
    forget_visitors(conn, {v: pseudonym(v) for v in visit_ids})
    return AuditRecord(now, actor, "retention.invitations", "invitations", {"anonymised": len(visit_ids)})


def _delete_notifications(
    conn: Connection, cutoff: datetime, now: datetime, actor: str
) -> tuple[int, AuditRecord | None]:
    """Delete sent or failed notifications created before `cutoff` (pending ones are still delivered)."""
    deleted = delete_finished(conn, cutoff)
    if not deleted:
        return 0, None
    return deleted, AuditRecord(now, actor, "retention.notifications", "notifications", {"deleted": deleted})


def run_retention(
    store: EventStore,
    policy: RetentionPolicy,
    now: datetime,
    actor: str,
    audit_key: bytes | None,
    *,
    dry_run: bool = False,
) -> RetentionResult:
    """Anonymise what `policy` says is past its time, with the audit record, in one transaction."""
    if dry_run:
        with store.engine.connect() as conn:
            _, records = _candidates(conn, policy, now)
            invitations = _old_invitations(conn, policy.cutoff(now))
            notifications = count_finished(conn, policy.cutoff(now))
        plan = plan_retention(records, policy, now, actor=actor)
        return _result(plan, len(invitations), notifications, None, dry_run=True)
    with store.engine.begin() as conn:
        # the audit head first: the write lock before the read, so two runs never plan on the same rows
        lock_head(conn)
        keys, records = _candidates(conn, policy, now)
        plan = plan_retention(records, policy, now, actor=actor)
        invitations = _old_invitations(conn, plan.cutoff)
        if not plan.changes and not invitations and not count_finished(conn, plan.cutoff):
            return _result(plan, 0, 0, None, dry_run=False)
        audit = list(plan.audit) if plan.changes else []
        rewrite_event_data(conn, [(keys[c.index], c.data) for c in plan.changes])
        forgotten = _forget_invitations(conn, invitations, now, actor)
        audit += [forgotten] if forgotten else []
        notifications, deleted = _delete_notifications(conn, plan.cutoff, now, actor)
        audit += [deleted] if deleted else []
        if not audit:  # the counted notifications went meanwhile: nothing changed, nothing to audit
            return _result(plan, 0, 0, None, dry_run=False)
        sealed = append_audit(conn, audit, key=audit_key)
    result = _result(plan, len(invitations), notifications, sealed[-1].seq, dry_run=False)
    log.info("retention: %d event(s) older than %s anonymised (audit record %s)",
             result.anonymised, plan.cutoff.isoformat(), result.audit_seq)
    return result
