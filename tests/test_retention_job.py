"""The retention job on SQLite and PostgreSQL, its `[retention]` settings and `gatehouse retention run`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from broker.config import ConfigError
from broker.events import Event, make_event
from broker.schemas import VisitorCheckedIn, VisitorCheckedOut, VisitorInvited, VisitorType
from gatehouse.cli import main
from security.office.audit import RetentionPolicy, pseudonym, verify
from security.office.incidents import IncidentDesk, console_emitter
from security.office.retention_job import RetentionConfig, load_retention_config, run_retention
from security.storage import EventStore, open_store
from security.storage.audit_log import chain_head, read_chain
from security.storage.incident_store import get_incident
from security.storage.models import table
from security.storage.notifications import enqueue, mark_failed, mark_sent

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=100)
NEW = NOW - timedelta(days=10)
KEY = b"retention-test-key"
EVENTS = table("events")


def _visit(visit_id: str, name: str, at: datetime, seq: int) -> list[Event]:
    """Invited, checked in and checked out: two events with personal data and one without."""
    invited = VisitorInvited(visit_id=visit_id, visitor_name=name, host_id="e-1", expected_at=at,
                             company="Acme", email=f"{visit_id}@example.org")
    checked_in = VisitorCheckedIn(visit_id=visit_id, visitor_name=name, visitor_type=VisitorType.GUEST,
                                  company="Acme", host_id="e-1", photo=f"/photos/{visit_id}.jpg")
    return [
        make_event("lobby", "kiosk-1", "visitor.invited", seq, invited, time=at),
        make_event("lobby", "kiosk-1", "visitor.checked_in", seq + 1, checked_in,
                   time=at + timedelta(hours=1)),
        make_event("lobby", "kiosk-1", "visitor.checked_out", seq + 2,
                   VisitorCheckedOut(visit_id=visit_id, method="qr"), time=at + timedelta(hours=2)),
    ]


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A log with two visits 100 days old, one 10 days old, and an incident."""
    with open_store(db_url) as opened:
        # retention counts from when the service received each event: here, as each visit ended
        for visit, at, seq in (("v-1", OLD, 1), ("v-2", OLD, 4), ("v-3", NEW, 7)):
            name = {"v-1": "Siti Rahma", "v-2": "John Doe", "v-3": "Maria Lopez"}[visit]
            stored = opened.store_batch(_visit(visit, name, at, seq), at + timedelta(hours=2)).stored
            assert len(stored) == 3
        desk = IncidentDesk(opened.engine, site="lobby", audit_key=KEY, emit=console_emitter(opened, "lobby"))
        desk.open("Visitor left without checking out", "guard:maria")
        yield opened


def _data(store: EventStore) -> dict[str, dict[str, Any]]:
    """Every stored event's data by event id."""
    with store.engine.connect() as conn:
        return {r.event_id: dict(r.data) for r in conn.execute(select(EVENTS.c.event_id, EVENTS.c.data))}


def _audit(store: EventStore) -> list[Any]:
    with store.engine.connect() as conn:
        return list(read_chain(conn))


def test_old_personal_data_is_anonymised_once(store: EventStore) -> None:
    """Four old events lose the visitor's identity; new ones, counts and the incident stay."""
    before = _data(store)
    events_before = store.count_events()
    result = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    assert result.anonymised == 4
    assert dict(result.by_type) == {"visitor.invited": 2, "visitor.checked_in": 2}
    assert result.cutoff == NOW - timedelta(days=90)
    assert store.count_events() == events_before

    after = _data(store)
    changed = {eid for eid in after if after[eid] != before[eid]}
    old = {eid for eid, d in before.items() if d.get("visit_id") in ("v-1", "v-2") and "visitor_name" in d}
    assert changed == old
    for eid in changed:
        data = after[eid]
        assert data["visitor_name"] == pseudonym(data["visit_id"])
        assert not {"company", "email", "photo"} & data.keys()
        assert data["host_id"] == "e-1"
    kept = [d for d in after.values() if d.get("visit_id") == "v-3" and "visitor_name" in d]
    assert [d["visitor_name"] for d in kept] == ["Maria Lopez", "Maria Lopez"]
    # the anonymised rows still read back as valid contract events
    names = {e.data.visitor_name for e in store.query_events(types=["visitor.invited"], limit=None)
             if isinstance(e.data, VisitorInvited)}
    assert names == {pseudonym("v-1"), pseudonym("v-2"), "Maria Lopez"}

    chain = _audit(store)
    assert [r.action for r in chain] == ["incident.opened", "retention.anonymise"]
    assert result.audit_seq == chain[-1].seq == 2
    assert chain[-1].actor == "system:retention"
    assert chain[-1].details["records"] == 4
    assert sorted(chain[-1].details["event_ids"]) == sorted(changed)
    with store.engine.connect() as conn:
        assert verify(read_chain(conn), key=KEY, expected=chain_head(conn)).ok
    with store.engine.connect() as conn:
        incident = get_incident(conn, "i-1")
    assert incident is not None
    assert incident.title == "Visitor left without checking out"

    again = run_retention(store, RetentionPolicy(days=90), NOW + timedelta(hours=1), "system:retention", KEY)
    assert (again.anonymised, again.audit_seq) == (0, None)
    assert _data(store) == after
    assert len(_audit(store)) == 2


def test_a_dry_run_writes_nothing(store: EventStore) -> None:
    """A dry run counts what would change and leaves the events and the audit log alone."""
    before = _data(store)
    result = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY, dry_run=True)
    assert (result.anonymised, result.audit_seq, result.dry_run) == (4, None, True)
    assert _data(store) == before
    assert [r.action for r in _audit(store)] == ["incident.opened"]


def test_a_shorter_retention_reaches_newer_events(store: EventStore) -> None:
    """With 5 days, the 10-day-old visit is anonymised too; with 365, nothing is."""
    assert run_retention(store, RetentionPolicy(days=365), NOW, "system:retention", KEY).anonymised == 0
    assert run_retention(store, RetentionPolicy(days=5), NOW, "system:retention", KEY).anonymised == 6


def test_retention_settings_come_from_the_config_file(tmp_path: Path) -> None:
    """`[retention]` gives days and run_at; unknown keys and negative days are refused."""
    assert load_retention_config(None) == RetentionConfig(days=90, run_at=3)
    config = tmp_path / "site.toml"
    config.write_text('site = "lobby"\n')
    assert load_retention_config(config) == RetentionConfig()
    config.write_text("[retention]\ndays = 30\nrun_at = 4\n")
    assert load_retention_config(config) == RetentionConfig(days=30, run_at=4)
    assert load_retention_config(config).policy() == RetentionPolicy(days=30)
    for bad in ("[retention]\ndays = -1\n", "[retention]\nkeep = 3\n", "[retention]\nrun_at = 24\n"):
        config.write_text(bad)
        with pytest.raises(ConfigError, match=r"\[retention\]"):
            load_retention_config(config)


def test_the_retention_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`gatehouse retention run` takes days from the config, `--days` overrides, a second run is a no-op."""
    data = tmp_path / "data"
    now = datetime.now(UTC)
    with open_store(f"sqlite:///{data / 'gatehouse.db'}") as opened:
        for visit, name, days, seq in (("v-1", "Siti Rahma", 40, 1), ("v-2", "John Doe", 20, 4)):
            at = now - timedelta(days=days)
            opened.store_batch(_visit(visit, name, at, seq), at + timedelta(hours=2))
    config = tmp_path / "site.toml"
    config.write_text("[retention]\ndays = 30\n")
    base = ["--data-dir", str(data), "--config", str(config), "retention", "run"]

    assert main([*base, "--dry-run"]) == 0
    assert "2 event(s)" in capsys.readouterr().out
    assert main([*base, "--as", "manager:ana"]) == 0
    assert "retention: 2 event(s)" in capsys.readouterr().out
    assert main(base) == 0
    assert "retention: 0 event(s)" in capsys.readouterr().out
    assert main([*base, "--days", "10"]) == 0
    assert "retention: 2 event(s)" in capsys.readouterr().out
    assert main(["--data-dir", str(data), "audit", "verify"]) == 0
    assert "audit log OK: 2 records" in capsys.readouterr().out
    with open_store(f"sqlite:///{data / 'gatehouse.db'}") as opened:
        chain = _audit(opened)
    assert [(r.actor, r.details["retention_days"]) for r in chain] == [
        ("manager:ana", 30), (chain[1].actor, 10),
    ]
    assert chain[1].actor.startswith("cli:")


def test_old_invitations_forget_their_visitor_too(store: EventStore) -> None:
    """An invitation's visitor name is pseudonymised and company and e-mail dropped, once, audited."""
    invitations = table("invitations")
    rows = [{"visit_id": vid, "code": f"GH1:{vid}:s", "visitor_name": name, "company": "Acme",
             "email": f"{vid}@example.org", "visitor_type": "guest", "host_id": "e-1", "expected_at": at,
             "valid_until": at + timedelta(hours=8), "created_by": "cli:joe", "created_at": at,
             "cancelled_at": None, "checked_in_at": None}
            for vid, name, at in (("OLDVISIT01", "Siti Rahma", OLD), ("NEWVISIT01", "Maria Lopez", NEW))]
    with store.engine.begin() as conn:
        conn.execute(invitations.insert(), rows)
    first = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    again = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    with store.engine.connect() as conn:
        stored = {r.visit_id: r for r in conn.execute(select(invitations))}
        actions = [r.action for r in read_chain(conn)]
        report = verify(read_chain(conn), key=KEY, expected=chain_head(conn))
    old, new = stored["OLDVISIT01"], stored["NEWVISIT01"]
    assert (old.visitor_name, old.company, old.email) == (pseudonym("OLDVISIT01"), None, None)
    assert (new.visitor_name, new.company) == ("Maria Lopez", "Acme")
    assert first.by_type["invitation"] == 1
    assert again.anonymised == 0
    assert actions.count("retention.invitations") == 1
    assert report.ok


def test_old_delivered_notifications_are_deleted(store: EventStore) -> None:
    """Sent and failed notifications older than the cutoff go, counted and audited; pending and new stay."""
    notifications = table("notifications")

    def add(conn: Any, at: datetime, name: str) -> int:
        return enqueue(conn, channel="email", target=f"{name.split(maxsplit=1)[0].lower()}@example.org",
                       subject=f"Your visit: {name}", body=f"Hello {name}, your code is GH1:V:s",
                       payload={"visitor_name": name}, now=at)

    with store.engine.begin() as conn:
        old_sent = add(conn, OLD, "Siti Rahma")
        old_failed = add(conn, OLD, "John Doe")
        old_pending = add(conn, OLD, "Ana Silva")
        new_sent = add(conn, NEW, "Maria Lopez")
        mark_sent(conn, old_sent, OLD + timedelta(minutes=1))
        mark_failed(conn, old_failed, "smtp: 550 mailbox unavailable")
        mark_sent(conn, new_sent, NEW + timedelta(minutes=1))

    def ids() -> set[int]:
        with store.engine.connect() as conn:
            return {int(r.id) for r in conn.execute(select(notifications.c.id))}

    everything = {old_sent, old_failed, old_pending, new_sent}
    dry = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY, dry_run=True)
    assert dry.by_type["notification"] == 2
    assert ids() == everything

    first = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    assert first.by_type["notification"] == 2
    assert first.anonymised == 4 + 2
    assert ids() == {old_pending, new_sent}
    chain = _audit(store)
    deleted = [r for r in chain if r.action == "retention.notifications"]
    assert [r.details for r in deleted] == [{"deleted": 2}]
    assert deleted[0].seq == first.audit_seq

    again = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    assert (again.anonymised, again.audit_seq, dict(again.by_type)) == (0, None, {})
    assert ids() == {old_pending, new_sent}
    with store.engine.connect() as conn:
        assert verify(read_chain(conn), key=KEY, expected=chain_head(conn)).ok


def test_notifications_alone_are_enough_to_run(store: EventStore) -> None:
    """With no events or invitations to change, old sent notifications are still deleted."""
    run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    with store.engine.begin() as conn:
        sent = enqueue(conn, channel="webhook", target="https://hooks.example.org/lobby",
                       subject="Visitor for you: Siti Rahma", body="Siti Rahma is at the lobby",
                       payload={"visitor_name": "Siti Rahma"}, now=OLD)
        mark_sent(conn, sent, OLD)
    result = run_retention(store, RetentionPolicy(days=90), NOW, "system:retention", KEY)
    assert dict(result.by_type) == {"notification": 1}
    assert result.audit_seq is not None
    assert _audit(store)[-1].action == "retention.notifications"


def test_a_device_clock_in_2099_does_not_escape_retention(db_url: str) -> None:
    """Age is counted from the service's receive time, not from the time the device wrote."""
    received = NOW - timedelta(days=100)
    future = datetime(2099, 1, 1, tzinfo=UTC)
    with open_store(db_url) as opened:
        opened.store_batch(_visit("v-9", "Future Man", future, 1), received)
        result = run_retention(opened, RetentionPolicy(days=90), NOW, "test", KEY)
        assert result.by_type.get("visitor.checked_in") == 1
        assert "Future Man" not in json.dumps(_data(opened))
