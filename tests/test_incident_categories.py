"""Incident categories: through the contract, the migration, the store, the desk and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from broker.events import ContractError, decode, encode, make_event
from broker.schemas import Category, IncidentOpened
from gatehouse.cli import main
from security.office.incidents import IncidentDesk, IncidentError, console_emitter
from security.storage import EventStore, open_store
from security.storage.engine import alembic_config, make_engine, normalize_url
from tests.test_incidents import KEY, SITE, T0, Clock

OLD_OPENED = (
    '{"specversion": "1.0", "id": "ev-old", "source": "gatehouse/lobby/central", "type": "incident.opened",'
    ' "time": "2026-11-23T09:00:00Z", "seq": 3, "datacontenttype": "application/json",'
    ' "data": {"incident_id": "i-4", "title": "Door forced", "by": "guard:maria", "alarm_ids": ["a-1"]}}'
)


def test_the_category_round_trips_and_an_old_payload_is_other() -> None:
    """A category goes over the wire and back; a payload from before categories reads as `other`."""
    data = IncidentOpened(incident_id="i-4", title="Wet floor", by="guard:maria", category=Category.SAFETY)
    event = make_event(SITE, "central", "incident.opened", 1, data, time=T0)
    back = decode(encode(event))
    assert back.data == data
    assert json.loads(encode(event))["data"]["category"] == "safety"
    old = decode(OLD_OPENED.encode())
    assert isinstance(old.data, IncidentOpened)
    assert (old.data.category, old.data.alarm_ids) == (Category.OTHER, ("a-1",))
    with pytest.raises(ContractError, match="category"):
        decode(OLD_OPENED.replace('"alarm_ids"', '"category": "theft", "alarm_ids"').encode())


def _desk(store: EventStore) -> IncidentDesk:
    clock = Clock(T0)
    emit = console_emitter(store, SITE, clock=clock)
    return IncidentDesk(store.engine, site=SITE, audit_key=KEY, emit=emit, clock=clock)


def test_incidents_from_before_categories_become_other_and_the_column_goes_on_downgrade(db_url: str) -> None:
    """0004 -> head: a stored incident is `other`; new ones keep theirs; downgrading to 0004 drops it."""
    engine = make_engine(normalize_url(db_url))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.execute(text(
            "INSERT INTO incidents (id, number, title, state, opened_by, opened_at) "
            "VALUES ('i-1', 1, 'Before categories', 'open', 'guard:maria', :t)"),
            {"t": T0.replace(tzinfo=None)})
    engine.dispose()
    with open_store(db_url) as store:
        desk = _desk(store)
        old = desk.get("i-1")
        assert old is not None
        assert old.category is Category.OTHER
        new = desk.open("Lost wallet", "guard:joe", category="lost_item")
        assert (new.id, new.category) == ("i-2", Category.LOST_ITEM)
    engine = make_engine(normalize_url(db_url))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
        titles = conn.execute(text("SELECT title FROM incidents ORDER BY number")).scalars().all()
        columns = set(conn.execute(text("SELECT * FROM incidents LIMIT 1")).keys())
    engine.dispose()
    assert titles == ["Before categories", "Lost wallet"]
    assert "category" not in columns


def test_the_desk_stores_and_emits_the_category_and_refuses_an_unknown_one(db_url: str) -> None:
    """open(category=...) is stored, read back, emitted and audited; an unknown one writes nothing."""
    with open_store(db_url) as store:
        desk = _desk(store)
        with pytest.raises(IncidentError, match="category is one of security, safety"):
            desk.open("Stolen bike", "guard:maria", category="theft")
        assert desk.list() == []
        opened = desk.open("Visitor complained about the wait", "guard:maria", category=Category.COMPLAINT)
        plain = desk.open("Something", "guard:maria")
        assert [(i.id, i.category) for i in desk.list()] == [
            (plain.id, Category.OTHER), (opened.id, Category.COMPLAINT)]
        events = store.query_events(sources=[f"gatehouse/{SITE}/console"], limit=None)
        assert [e.data.category for e in events if isinstance(e.data, IncidentOpened)] == [
            Category.COMPLAINT, Category.OTHER]


def test_the_cli_opens_with_a_category_and_refuses_an_unknown_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`incident open --category safety` is stored and shown; `--category theft` is a usage error."""
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "incident", "open", "Wet floor", "--category", "safety"]) == 0
    assert main(["--data-dir", data, "incident", "open", "Something"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "incident", "show", "i-1"]) == 0
    assert "[open]  safety  Wet floor" in capsys.readouterr().out
    assert main(["--data-dir", data, "incident", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [["i-2", "open", "other"], ["i-1", "open", "safety"]]
    with pytest.raises(SystemExit) as exited:
        main(["--data-dir", data, "incident", "open", "Bike", "--category", "theft"])
    assert exited.value.code == 2
    assert "invalid choice: 'theft'" in capsys.readouterr().err
