"""`gatehouse events`: time arguments, the table and the JSON lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from broker.config import Settings
from broker.events import Event, from_dict, make_event
from broker.schemas import BadgeRead, CameraMotion, DoorChange, HostNotified
from security.cli.events import (
    compact_data,
    format_table,
    list_events,
    parse_when,
    resolve_source,
)
from security.storage import open_store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("1w", NOW - timedelta(weeks=1)),
        ("90s", NOW - timedelta(seconds=90)),
        ("30 min ago", NOW - timedelta(minutes=30)),
        (" 2H ", NOW - timedelta(hours=2)),
        ("now", NOW),
        ("today", datetime(2026, 11, 22, tzinfo=CET)),
        ("yesterday", datetime(2026, 11, 21, tzinfo=CET)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=CET)),
        ("2026-11-20T08:15", datetime(2026, 11, 20, 8, 15, tzinfo=CET)),
        ("2026-11-20 08:15:02", datetime(2026, 11, 20, 8, 15, 2, tzinfo=CET)),
        ("2026-11-20T08:15:02.5Z", datetime(2026, 11, 20, 8, 15, 2, 500000, tzinfo=UTC)),
        ("2026-11-20T08:15-05:00", datetime(2026, 11, 20, 13, 15, tzinfo=UTC)),
        ("08:15", datetime(2026, 11, 22, 8, 15, tzinfo=CET)),
        ("08:15Z", datetime(2026, 11, 22, 8, 15, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    parsed = parse_when(text, now=NOW, tz=CET)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize("text", ["", "soon", "15", "m15", "-2h", "2026-13-01", "1y", "25:00"])
def test_parse_when_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="15m, 2h, 1d"):
        parse_when(text, now=NOW)


def test_parse_when_defaults_to_the_local_zone_and_the_clock() -> None:
    local = parse_when("2026-11-20T08:15")
    assert local == datetime(2026, 11, 20, 8, 15).astimezone(UTC)
    assert abs(parse_when("now") - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reader-1", "gatehouse/lobby/reader-1"),
        ("annex/reader-1", "gatehouse/annex/reader-1"),
        ("gatehouse/annex/reader-1", "gatehouse/annex/reader-1"),
    ],
)
def test_resolve_source(text: str, expected: str) -> None:
    assert resolve_source(text, "lobby") == expected


@pytest.mark.parametrize("text", ["a/b/c/d", "Reader 1", "alarm"])
def test_resolve_source_refuses_bad_names(text: str) -> None:
    with pytest.raises(ValueError, match=r"source|device"):
        resolve_source(text, "lobby")


def test_compact_data_is_one_short_line() -> None:
    read = make_event("lobby", "r1", "badge.read", 1, BadgeRead(credential="0A1B", reader=2))
    assert compact_data(read) == "credential=0A1B reader=2 format=unknown"
    note = make_event(
        "lobby",
        "k1",
        "host.notified",
        1,
        HostNotified(visit_id="v-1", host_id="h", channel="email", ok=False, detail="mail server down"),
    )
    assert compact_data(note) == 'visit_id=v-1 host_id=h channel=email ok=false detail="mail server down"'
    motion = make_event("lobby", "c1", "camera.motion", 1, CameraMotion(camera="cam-1", score=0.5))
    assert compact_data(motion) == "camera=cam-1 score=0.5 boxes=[]"
    cut = compact_data(note, width=20)
    assert len(cut) == 20
    assert cut.endswith("…")


def _events() -> list[Event]:
    t0 = datetime(2026, 11, 22, 8, 15, 2, 113000, tzinfo=UTC)
    return [
        make_event("lobby", "reader-1", "badge.read", 7, BadgeRead(credential="0A1B", reader=1), time=t0),
        make_event(
            "lobby", "door-1", "door.opened", 12, DoorChange(door="main"), time=t0 + timedelta(seconds=1)
        ),
        make_event(
            "lobby",
            "door-1",
            "door.held_open",
            13,
            DoorChange(door="main", duration_s=30),
            time=t0 + timedelta(minutes=1),
        ),
        make_event(
            "annex",
            "reader-2",
            "badge.read",
            1,
            BadgeRead(credential="FF", reader=3),
            time=t0 + timedelta(minutes=2),
        ),
    ]


def test_format_table_aligns_columns() -> None:
    lines = format_table(_events(), tz=CET)
    assert lines == [
        "TIME                           SOURCE          SEQ  TYPE            DATA",
        "2026-11-22 09:15:02.113+01:00  lobby/reader-1    7  badge.read      "
        "credential=0A1B reader=1 format=unknown",
        "2026-11-22 09:15:03.113+01:00  lobby/door-1     12  door.opened     door=main",
        "2026-11-22 09:16:02.113+01:00  lobby/door-1     13  door.held_open  door=main duration_s=30.0",
        "2026-11-22 09:17:02.113+01:00  annex/reader-2    1  badge.read      "
        "credential=FF reader=3 format=unknown",
    ]


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(site="lobby", db=url, data_dir=tmp_path)


def _run(settings: Settings, **options: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = list_events(settings, out=out, err=err, now=NOW, tz=UTC, **options)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_json_lines_are_cloudevents_and_round_trip(db_url: str, tmp_path: Path) -> None:
    events = _events()
    with open_store(db_url) as store:
        store.store_batch(events, NOW)
    code, out, err = _run(_settings(db_url, tmp_path), as_json=True)
    assert (code, err) == (0, "")
    docs = [json.loads(line) for line in out.splitlines()]
    assert [from_dict(doc) for doc in docs] == events
    assert docs[0]["specversion"] == "1.0"


def test_filters_and_limit(sqlite_url: str, tmp_path: Path) -> None:
    events = _events()
    with open_store(sqlite_url) as store:
        store.store_batch(events, NOW)
    settings = _settings(sqlite_url, tmp_path)

    def seqs(**options: object) -> list[int]:
        code, out, _ = _run(settings, as_json=True, **options)
        assert code == 0
        return [json.loads(line)["seq"] for line in out.splitlines()]

    assert seqs(types=["door."]) == [12, 13]
    assert seqs(types=["badge.read"], source="reader-1") == [7]
    assert seqs(source="annex/reader-2") == [1]
    assert seqs(since="2026-11-22T08:16:00Z") == [13, 1]
    assert seqs(until="2026-11-22T08:16:00Z") == [7, 12]
    assert seqs(since="4h") == [7, 12, 13, 1]  # NOW is 12:00 UTC
    assert seqs(since="3h") == []
    assert seqs(limit=2) == [13, 1]  # the newest two, oldest first
    code, out, _ = _run(settings, limit=1)
    assert code == 0
    assert out.splitlines()[1].endswith("credential=FF reader=3 format=unknown")


def test_nothing_found_says_so_on_stderr(sqlite_url: str, tmp_path: Path) -> None:
    open_store(sqlite_url).close()
    assert _run(_settings(sqlite_url, tmp_path)) == (0, "", "no events match\n")


def test_bad_arguments_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    code, out, err = _run(_settings(sqlite_url, tmp_path), since="yesterdayish")
    assert (code, out) == (2, "")
    assert err.startswith("gatehouse events: --since: 'yesterdayish' is not a time")
    assert _run(_settings(sqlite_url, tmp_path), source="a/b/c/d")[0] == 2
    assert _run(_settings(sqlite_url, tmp_path), limit=0)[0] == 2


def test_a_missing_log_exits_1_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "gatehouse.db"
    code, out, err = _run(_settings(f"sqlite:///{path}", tmp_path))
    assert (code, out) == (1, "")
    assert "no event log at" in err
    assert not path.parent.exists()
