"""The console's Devices page on SQLite and PostgreSQL: statuses, faults and gaps put in through the real
write paths (the store's status and batch writes, and a running central service), read back as rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Connection

from broker import topics
from broker.config import MqttUrl
from broker.events import Event, encode, make_event
from broker.messages import State, Status
from broker.schemas import BadgeRead, Data, DeliveryGap, DeviceFault
from security.office.availability import Availability, StateChange
from security.storage import EventStore, insert_batch, open_store, put_watermarks
from security.storage.reports.devices import (
    DeviceRow,
    FaultEntry,
    GapEntry,
    StatusEntry,
    device_changes,
    device_overview,
    device_timeline,
)
from security.storage.reports.keyset import ReportError, TimeRange
from tests.support import event_source, query_plans, running_service, unique_site, wait_until

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = TimeRange(T0, T0 + 10 * HOUR)
SITE = "hq"
READER = topics.source(SITE, "reader-1")
PRINTER = topics.source(SITE, "printer-1")
LOST = topics.source(SITE, "reader-9")  # never said its status: known from a gap only


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated event log on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


class Device:
    """A source's events with their own seqs, stored as the service stores them: the batch, then the
    watermark it moves, in one transaction (the service keeps no watermark of its own events)."""

    def __init__(self, store: EventStore, device: str, *, marks: bool = True) -> None:
        self.store, self.device, self.seq, self.marks = store, device, itertools.count(1), marks
        self.source = topics.source(SITE, device)

    def put(self, received_at: datetime, event_type: str, data: Data) -> Event:
        event = make_event(SITE, self.device, event_type, next(self.seq), data, time=received_at)
        with self.store.transaction() as conn:
            assert insert_batch(conn, [event], received_at).stored == (event,)
            if self.marks:
                put_watermarks(conn, {event.source: event.seq})
        return event


def status(store: EventStore, source: str, state: State, at: datetime, kind: str = "reader",
           detail: str | None = None) -> bool:
    return store.set_status(source, Status(state, kind=kind, detail=detail), at)


def gap(central: Device, at: datetime, source: str, first: int, last: int) -> None:
    central.put(at, "delivery.gap", DeliveryGap(for_source=source, missing_from=first, missing_to=last))


def fault(printer: Device, at: datetime, name: str, *, cleared: bool = False) -> None:
    printer.put(at, "device.fault", DeviceFault(fault=name, detail=f"{name} detail", cleared=cleared))


def overview(
    store: EventStore, time_range: TimeRange = DAY, now: datetime = T0 + 5 * HOUR,
) -> dict[str, DeviceRow]:
    with store.engine.connect() as conn:
        return {row.source: row for row in device_overview(conn, time_range, now=now)}


def fill(store: EventStore) -> None:
    """A reader that went off and came back, a printer with faults, gaps reported by the service."""
    reader, printer = Device(store, "reader-1"), Device(store, "printer-1")
    central = Device(store, "central", marks=False)
    assert status(store, READER, "online", T0 - 2 * HOUR)
    assert status(store, READER, "offline", T0 + HOUR, detail="connection lost")
    assert status(store, READER, "online", T0 + 3 * HOUR)
    assert not status(store, READER, "online", T0 + 4 * HOUR)  # retained again: no change
    reader.put(T0 + 4.5 * HOUR, "badge.read", BadgeRead(credential="0A0B", reader=1))
    assert status(store, PRINTER, "online", T0 + 2 * HOUR, kind="printer")
    fault(printer, T0 - 3 * 24 * HOUR, "power")  # never cleared: open now, not in the range
    fault(printer, T0 - 5 * HOUR, "head_open")
    fault(printer, T0 - 4 * HOUR, "head_open", cleared=True)
    fault(printer, T0 + HOUR, "paper_out")
    fault(printer, T0 + 2 * HOUR, "paper_out", cleared=True)
    fault(printer, T0 + 2 * HOUR, "head_open")
    fault(printer, T0 + 11 * HOUR, "no_answer")  # after the range and after now
    gap(central, T0 - HOUR, READER, 2, 9)  # before the range
    gap(central, T0 + 2 * HOUR, READER, 3, 4)
    gap(central, T0 + 2.5 * HOUR, READER, 10, 10)
    gap(central, T0 + 3 * HOUR, LOST, 1, 5)


def test_the_overview_folds_each_source_s_history_faults_and_gaps(store: EventStore) -> None:
    fill(store)
    rows = overview(store)
    assert list(rows) == sorted([READER, PRINTER, LOST])  # the service's own source said no status here
    reader = rows[READER]
    assert (reader.device, reader.kind, reader.state) == ("reader-1", "reader", "online")
    assert reader.since == T0 + 3 * HOUR
    assert reader.detail is None
    assert reader.last_seen == T0 + 4.5 * HOUR  # its newest event, after its last status
    # measured to now (T0 + 5h): online 0-1h and 3-5h, offline 1-3h
    assert reader.availability == Availability(3 * 3600.0, 2 * 3600.0, 0.0, 60.0, 1, 2 * 3600.0)
    assert reader.changes == (StateChange(T0 - 2 * HOUR, "online"), StateChange(T0 + HOUR, "offline"),
                              StateChange(T0 + 3 * HOUR, "online"))  # what it was folded from
    assert (reader.faults, reader.open_faults, reader.gaps, reader.missing) == (0, (), 2, 3)

    printer = rows[PRINTER]
    assert (printer.kind, printer.state, printer.since) == ("printer", "online", T0 + 2 * HOUR)
    assert printer.last_seen == T0 + 11 * HOUR  # its newest event, whatever the range
    assert printer.availability == Availability(3 * 3600.0, 0.0, 2 * 3600.0, 100.0, 0, 0.0)
    assert printer.faults == 2  # paper_out and head_open raised in the range; the clearance is not one
    assert printer.open_faults == ("head_open", "power")  # as of now: no_answer comes later
    assert (printer.gaps, printer.missing) == (0, 0)

    lost = rows[LOST]
    assert (lost.kind, lost.state, lost.since, lost.last_seen) == (None, None, None, None)
    assert lost.availability == Availability(0.0, 0.0, 5 * 3600.0, None, 0, 0.0)
    assert (lost.gaps, lost.missing) == (1, 5)


def test_the_overview_of_a_later_range_sees_what_is_open_then(store: EventStore) -> None:
    fill(store)
    later = TimeRange(T0 + 10 * HOUR, T0 + 20 * HOUR)
    rows = overview(store, later, now=T0 + 30 * HOUR)
    printer = rows[PRINTER]
    assert printer.faults == 1
    assert printer.open_faults == ("head_open", "no_answer", "power")
    assert printer.availability.percent == 100.0
    assert (rows[READER].gaps, rows[READER].availability.online_s) == (0, 10 * 3600.0)
    assert LOST not in rows  # no status, nothing in this range


def test_a_range_in_the_future_has_no_time_yet(store: EventStore) -> None:
    fill(store)
    rows = overview(store, TimeRange(T0 + 24 * HOUR, T0 + 48 * HOUR), now=T0 + 5 * HOUR)
    assert rows[READER].availability == Availability(0.0, 0.0, 0.0, None, 0, 0.0)


def test_the_timeline_lists_changes_faults_and_gaps_oldest_first(store: EventStore) -> None:
    fill(store)
    with store.engine.connect() as conn:
        reader = device_timeline(conn, READER, DAY)
        printer = device_timeline(conn, PRINTER, TimeRange(T0 - 6 * HOUR, T0 + 3 * HOUR))
        cut = device_timeline(conn, PRINTER, TimeRange(T0 - 6 * HOUR, T0 + 3 * HOUR), limit=3)
        nobody = device_timeline(conn, topics.source(SITE, "nobody"), DAY)
        changes = device_changes(conn, READER, TimeRange(T0 + 2 * HOUR, T0 + 10 * HOUR))
        none = device_changes(conn, topics.source(SITE, "nobody"), DAY)
    assert reader.at_start == StatusEntry(T0 - 2 * HOUR, "online", "reader", None)
    assert reader.entries == (
        StatusEntry(T0 + HOUR, "offline", "reader", "connection lost"),
        GapEntry(T0 + 2 * HOUR, 3, 4),
        GapEntry(T0 + 2.5 * HOUR, 10, 10),
        StatusEntry(T0 + 3 * HOUR, "online", "reader", None),
    )
    assert [g.missing for g in reader.entries if isinstance(g, GapEntry)] == [2, 1]
    assert not reader.truncated
    assert printer.at_start is None  # its first status came later
    assert [(e.what, e.at) for e in printer.entries] == [
        ("fault", T0 - 5 * HOUR), ("fault", T0 - 4 * HOUR), ("fault", T0 + HOUR),
        ("status", T0 + 2 * HOUR), ("fault", T0 + 2 * HOUR), ("fault", T0 + 2 * HOUR)]
    assert printer.entries[1] == FaultEntry(T0 - 4 * HOUR, "head_open", "head_open detail", cleared=True)
    assert cut.entries == printer.entries[:3]
    assert cut.truncated
    assert (nobody.at_start, nobody.entries, nobody.truncated) == (None, (), False)
    # the last change before the range (the state it began in), then those in it
    assert changes == [StateChange(T0 + HOUR, "offline"), StateChange(T0 + 3 * HOUR, "online")]
    assert none == []


@pytest.mark.parametrize("source", ["", "x" * 201, None])
def test_a_bad_source_or_limit_is_refused(store: EventStore, source: str) -> None:
    with store.engine.connect() as conn:
        with pytest.raises(ReportError, match="source"):
            device_timeline(conn, source, DAY)
        with pytest.raises(ReportError, match="timeline holds"):
            device_timeline(conn, READER, DAY, limit=0)
        with pytest.raises(ReportError, match="now"):
            device_overview(conn, DAY, now=datetime(2026, 12, 1))


@pytest.mark.postgres
def test_the_devices_queries_read_indexes_on_a_large_postgresql_table(pg_url: str) -> None:
    """300 days of 100 readers' events, flapping statuses, faults and gaps: no query scans the events or the
    history (the status and watermark tables are read whole on purpose: a row per source or stream)."""
    days, readers = 300, 100
    with open_store(pg_url) as store:
        devices = [Device(store, f"reader-{n}") for n in range(readers)]
        central = Device(store, "central", marks=False)
        for day in range(days):
            at = T0 - timedelta(days=days - day)
            read = BadgeRead(credential="0A", reader=1)
            events = [make_event(SITE, d.device, "badge.read", next(d.seq), read, time=at)
                      for d in devices for _ in range(3)]
            with store.transaction() as conn:
                insert_batch(conn, events, at)
                put_watermarks(conn, {e.source: e.seq for e in events})
            fault(devices[day % readers], at, "reader_tamper", cleared=day % 2 == 1)
            gap(central, at, devices[day % readers].source, 1, 2)
            for d in devices[day % 10::10]:
                status(store, d.source, "offline" if day % 20 < 10 else "online", at)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        week = TimeRange(T0 - timedelta(days=7), T0)

        def queries(conn: Connection) -> None:
            assert len(device_overview(conn, week, now=T0)) == readers
            device_timeline(conn, devices[3].source, week)
            device_changes(conn, devices[3].source, week)

        plans = query_plans(store.engine, queries)
    assert len(plans) == 12  # the overview's 6 queries, the timeline's 4 and the changes' 2
    for plan in plans:
        print(plan, end="\n\n")
        assert "Seq Scan on events" not in plan, plan
        assert "Seq Scan on device_status_changes" not in plan, plan


def _raw_client(url: MqttUrl) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(url.host, url.port)
    client.loop_start()
    return client


@pytest.mark.mosquitto
def test_through_the_service_a_restart_re_reads_retained_online_without_a_new_row(
    mosquitto_url: MqttUrl, db_url: str, tmp_path: Path,
) -> None:
    """A device's statuses, a fault and a seq gap through a running service; restarting the service makes
    it hear the retained status again, which moves its last status but adds no change."""
    site = unique_site()
    door, raw = topics.source(site, "door-1"), topics.source(site, "reader-3")
    start = datetime.now(UTC) - timedelta(minutes=1)

    def row(source: str) -> DeviceRow | None:
        with open_store(db_url) as store, store.engine.connect() as conn:
            span = TimeRange(start, datetime.now(UTC) + HOUR)
            return next((r for r in device_overview(conn, span) if r.source == source), None)

    def history() -> list[State]:
        with open_store(db_url) as store, store.engine.connect() as conn:
            timeline = device_timeline(conn, door, TimeRange(start, datetime.now(UTC) + HOUR))
        return [e.state for e in timeline.entries if isinstance(e, StatusEntry)]

    client = _raw_client(mosquitto_url)
    try:
        with event_source(mosquitto_url, tmp_path, site, "door-1") as source:
            with running_service(mosquitto_url, db_url, site, gap_timeout=0.5):
                wait_until(lambda: history() == ["online"], 15, "door-1 seen online")
                source.emit("device.fault", DeviceFault(fault="power", detail="on battery"))
                for seq in (1, 2, 5):  # 3 and 4 never come
                    read = BadgeRead(credential="0C", reader=3)
                    event = make_event(site, "reader-3", "badge.read", seq, read)
                    client.publish(event.topic, encode(event), qos=1).wait_for_publish(5)
                wait_until(lambda: source.pending() == 0, 15, "the fault stored")
                wait_until(lambda: (r := row(raw)) is not None and r.gaps == 1, 15, "the gap 3-4 reported")
            first = row(door)
            assert first is not None
            seen = first.last_seen
            assert seen is not None
            with running_service(mosquitto_url, db_url, site):  # the retained online is heard again
                wait_until(lambda: (r := row(door)) is not None and r.last_seen is not None
                           and r.last_seen > seen, 15, "door-1's retained status re-read")
                assert history() == ["online"]
        with running_service(mosquitto_url, db_url, site):  # door-1 said offline when it stopped
            wait_until(lambda: history() == ["online", "offline"], 15, "door-1 seen offline")
    finally:
        client.loop_stop()
        client.disconnect()
    door_row, raw_row = row(door), row(raw)
    assert door_row is not None
    assert raw_row is not None
    assert (door_row.state, door_row.detail, door_row.faults, door_row.open_faults) == (
        "offline", "stopped", 1, ("power",))
    assert door_row.availability.outages == 1
    assert (raw_row.state, raw_row.gaps, raw_row.missing) == (None, 1, 2)
    assert raw_row.last_seen is not None  # its events, though it never said its status
