"""Retention: which stored events are anonymised, how, idempotently, and the audit it leaves."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.schemas import SCHEMAS
from security.office.audit import (
    AuditRecord,
    RetentionPolicy,
    Treatment,
    append_all,
    plan_retention,
    pseudonym,
    verify,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(days=30)
CUTOFF = NOW - timedelta(days=30)


def checked_in(time: datetime | str, visit: str = "v-1", **extra: Any) -> dict[str, Any]:
    """A stored `visitor.checked_in` event as the store returns it."""
    data = {
        "visit_id": visit,
        "visitor_name": "Ada Lovelace",
        "visitor_type": "guest",
        "company": "Analytical Engines Ltd",
        "host_id": "e-7",
        "host_name": "Charles Babbage",
        "badge": "0A1B2C",
        "invited": True,
        "photo": "photos/v-1.jpg",
        **extra,
    }
    return {"event_id": f"ev-{visit}", "type": "visitor.checked_in", "time": time, "data": data}


def invited(time: datetime, visit: str = "v-1") -> dict[str, Any]:
    """A stored `visitor.invited` event."""
    data = {
        "visit_id": visit,
        "visitor_name": "Ada Lovelace",
        "host_id": "e-7",
        "expected_at": "2026-09-01T09:00:00Z",
        "company": "Analytical Engines Ltd",
        "email": "ada@example.org",
        "visitor_type": "guest",
    }
    return {"event_id": f"inv-{visit}", "type": "visitor.invited", "time": time, "data": data}


def apply(records: list[dict[str, Any]], policy: RetentionPolicy = POLICY) -> list[dict[str, Any]]:
    """What the store would hold after applying the plan."""
    plan = plan_retention(records, policy, NOW)
    out = [dict(r) for r in records]
    for change in plan.changes:
        out[change.index] = {**out[change.index], "data": dict(change.data)}
    return out


CUTOFF_CASES = {
    "long ago is anonymised": (NOW - timedelta(days=400), True),
    "a microsecond before the cutoff is anonymised": (CUTOFF - timedelta(microseconds=1), True),
    "exactly at the cutoff is kept": (CUTOFF, False),
    "a microsecond after the cutoff is kept": (CUTOFF + timedelta(microseconds=1), False),
    "today is kept": (NOW, False),
    "in the future (clock skew) is kept": (NOW + timedelta(days=1), False),
    "RFC 3339 text before the cutoff": ("2026-10-23T11:59:59Z", True),
    "RFC 3339 text at the cutoff, other zone": ("2026-10-23T14:00:00+02:00", False),
}


@pytest.mark.parametrize(("time", "anonymised"), list(CUTOFF_CASES.values()), ids=list(CUTOFF_CASES))
def test_cutoff_edges(time: datetime | str, anonymised: bool) -> None:
    plan = plan_retention([checked_in(time)], POLICY, NOW)
    assert plan.cutoff == CUTOFF
    assert bool(plan.changes) is anonymised
    assert bool(plan.audit) is anonymised


@pytest.mark.parametrize(("days", "kept_days_ago"), [(0, 0), (1, 0), (7, 6), (365, 364)])
def test_cutoff_follows_the_policy_days(days: int, kept_days_ago: int) -> None:
    policy = RetentionPolicy(days=days)
    assert not plan_retention([checked_in(NOW - timedelta(days=kept_days_ago))], policy, NOW).changes
    assert plan_retention([checked_in(NOW - timedelta(days=days, seconds=1))], policy, NOW).changes


def test_personal_fields_removed_and_the_rest_kept() -> None:
    old = NOW - timedelta(days=90)
    (change,) = plan_retention([checked_in(old)], POLICY, NOW).changes
    assert change.data == {
        "visit_id": "v-1",
        "visitor_name": pseudonym("v-1"),
        "visitor_type": "guest",
        "host_id": "e-7",
        "host_name": "Charles Babbage",
        "badge": "0A1B2C",
        "invited": True,
    }
    assert set(change.removed) == {"company", "photo"}
    assert change.pseudonymised == ("visitor_name",)
    assert (change.event_id, change.type, change.time) == ("ev-v-1", "visitor.checked_in", old)
    assert change.index == 0
    SCHEMAS["visitor.checked_in"].model_validate(change.data)


def test_invitation_email_removed_and_same_visit_same_pseudonym() -> None:
    old = NOW - timedelta(days=90)
    plan = plan_retention([invited(old), checked_in(old)], POLICY, NOW)
    inv, chk = plan.changes
    assert "email" not in inv.data
    assert "company" not in inv.data
    assert inv.data["visitor_name"] == chk.data["visitor_name"] == pseudonym("v-1")
    assert pseudonym("v-1") != pseudonym("v-2")
    assert pseudonym("v-1").startswith("visitor ")
    SCHEMAS["visitor.invited"].model_validate(inv.data)


def test_future_signature_field_is_removed_too() -> None:
    record = checked_in(NOW - timedelta(days=90), signature="svg...")
    (change,) = plan_retention([record], POLICY, NOW).changes
    assert "signature" not in change.data


def test_non_personal_events_are_untouched() -> None:
    old = NOW - timedelta(days=900)
    others = [
        {"type": "visitor.checked_out", "time": old, "data": {"visit_id": "v-1", "method": "qr"}},
        {"type": "incident.opened", "time": old, "data": {"incident_id": "i-1", "title": "t", "by": "g"}},
        {"type": "access.granted", "time": old, "data": {"credential": "0A1B2C", "door": "front"}},
        {"type": "alarm.raised", "time": old, "data": {"alarm_id": "a-1", "cause": ["ev-v-1"]}},
    ]
    plan = plan_retention(others, POLICY, NOW)
    assert plan.changes == ()
    assert plan.audit == ()


def test_counts_and_links_survive() -> None:
    old = NOW - timedelta(days=90)
    records = [checked_in(old, visit=f"v-{i}") for i in range(5)] + [checked_in(NOW, visit="v-new")]
    after = apply(records)
    assert len(after) == len(records)
    assert [r["data"]["visit_id"] for r in after] == [r["data"]["visit_id"] for r in records]
    assert [r["time"] for r in after] == [r["time"] for r in records]
    assert [r["event_id"] for r in after] == [r["event_id"] for r in records]
    assert after[-1] == records[-1]


def test_anonymising_twice_changes_nothing_more() -> None:
    old = NOW - timedelta(days=90)
    records = [invited(old), checked_in(old), checked_in(old, visit="v-2"), checked_in(NOW, visit="v-3")]
    once = apply(records)
    assert once != records
    second = plan_retention(once, POLICY, NOW)
    assert second.changes == ()
    assert second.audit == ()
    assert apply(once) == once


def test_null_treatment_is_idempotent() -> None:
    policy = RetentionPolicy(days=30, personal={"visitor.checked_in": {"visitor_name": Treatment.NULL}})
    once = apply([checked_in(NOW - timedelta(days=90))], policy)
    assert once[0]["data"]["visitor_name"] is None
    assert once[0]["data"]["company"] == "Analytical Engines Ltd"
    assert plan_retention(once, policy, NOW).changes == ()


def test_anonymisation_is_recorded_as_an_audit_action() -> None:
    old = NOW - timedelta(days=90)
    plan = plan_retention([invited(old), checked_in(old)], POLICY, NOW, actor="manager:li")
    (record,) = plan.audit
    assert isinstance(record, AuditRecord)
    assert (record.actor, record.action, record.subject, record.time) == (
        "manager:li",
        "retention.anonymise",
        "events",
        NOW,
    )
    assert record.details["records"] == 2
    assert record.details["event_ids"] == ["inv-v-1", "ev-v-1"]
    assert record.details["by_field"] == {"visitor_name": 2, "company": 2, "email": 1, "photo": 1}
    assert "Ada" not in repr(record.details)
    assert verify(append_all(None, plan.audit, key=b"k"), key=b"k").ok


@pytest.mark.parametrize("days", [-1, 1.5, True])
def test_bad_policy_is_refused(days: object) -> None:
    with pytest.raises(ValueError, match="retention days"):
        RetentionPolicy(days=days)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [checked_in(datetime(2020, 1, 1)), checked_in("2020-01-01T00:00:00")],
    ids=["naive datetime", "text without zone"],
)
def test_times_without_zone_are_refused(record: Mapping[str, Any]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_retention([record], POLICY, NOW)
