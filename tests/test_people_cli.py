"""`gatehouse people`, `onsite` and `api token`: output and exit codes on a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.events import make_event
from broker.schemas import AccessGranted, VisitorCheckedIn
from gatehouse.cli import main
from security.cli.people import parse_schedule
from security.office.access import WeeklySchedule
from security.office.audit import verify
from security.storage import open_store
from security.storage.audit_log import read_chain
from security.storage.tokens import verify_token


class Cli:
    """Runs `gatehouse` against one temporary data folder and SQLite file."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Point at a data folder and a SQLite file under `tmp_path`."""
        self.data = tmp_path / "data"
        self.db = f"sqlite:///{tmp_path / 'gatehouse.db'}"
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """Exit code, stdout and stderr of one command."""
        self.capsys.readouterr()
        code = main(["--db", self.db, "--data-dir", str(self.data), "--site", "hq", *argv])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A `gatehouse` runner on an empty site."""
    return Cli(tmp_path, capsys)


def test_add_badge_show_and_list(cli: Cli) -> None:
    """A person with a badge shows up in `show` and `list --json`; the audit names the --as actor."""
    assert cli("people", "add", "e-1", "Ann Lee", "--group", "staff", "--group", "it",
               "--email", "ann@example.org", "--as", "maria")[0] == 0
    code, out, _ = cli("people", "badge", "add", "e-1", "0a1b2c3d4e", "--format", "em4100",
                       "--from", "2026-01-01T00:00+00:00")
    assert code == 0
    assert "0A1B2C3D4E" in out
    code, out, _ = cli("people", "show", "e-1")
    assert code == 0
    assert "Ann Lee" in out
    assert "badge 0A1B2C3D4E em4100 valid" in out
    code, out, _ = cli("people", "list", "--json")
    doc = json.loads(out)
    assert [(p["id"], p["groups"], p["credentials"][0]["value"]) for p in doc] == [
        ("e-1", ["it", "staff"], "0A1B2C3D4E")]
    with open_store(cli.db) as store, store.engine.connect() as conn:
        records = list(read_chain(conn))
    key = (cli.data / "secrets" / "audit.key").read_bytes()
    assert verify(records, key=key).ok
    assert (records[0].actor, records[0].action) == ("maria", "person.added")
    assert records[1].actor.startswith("cli:")


def test_errors_are_one_line_and_exit_1(cli: Cli) -> None:
    """Duplicates, unknown people and bad values: a one-line message on stderr and exit code 1."""
    cli("people", "add", "e-1", "Ann")
    cli("people", "badge", "add", "e-1", "0A1B2C3D4E", "--format", "em4100")
    cases = [
        (("people", "add", "e-1", "Again"), "already exists"),
        (("people", "add", "bad id", "Name"), "person id must be"),
        (("people", "show", "e-9"), "no person 'e-9'"),
        (("people", "remove", "e-9"), "no person 'e-9'"),
        (("people", "badge", "add", "e-1", "XYZ", "--format", "em4100"), "not hexadecimal"),
        (("people", "badge", "add", "e-1", "0A", "--format", "em4100", "--until", "soon"), "--until"),
        (("people", "badge", "revoke", "e-1", "FFFFFFFFFF"), "no unrevoked badge FFFFFFFFFF"),
        (("people", "grant", "--person", "e-1", "--doors", "nowhere"), "no door group 'nowhere'"),
        (("people", "revoke-right", "7"), "no access right 7"),
        (("api", "token", "revoke", "3"), "no live API token 3"),
    ]
    for argv, message in cases:
        code, out, err = cli(*argv)
        assert (code, out) == (1, ""), argv
        assert err.startswith("gatehouse: ")
        assert message in err, argv
        assert err.count("\n") == 1, argv


def test_bad_arguments_exit_2(cli: Cli) -> None:
    """argparse refuses an unknown badge format and a grant without a subject."""
    for argv in (("people", "badge", "add", "e-1", "0A", "--format", "mifare"),
                 ("people", "grant", "--doors", "lobby"),
                 ("api", "token", "create", "x", "--role", "root")):
        with pytest.raises(SystemExit) as exited:
            cli(*argv)
        assert exited.value.code == 2


def test_import_prints_counts_and_row_errors(cli: Cli, tmp_path: Path) -> None:
    """Each failed row is printed with its line number and the exit code is 1; a dry run writes nothing."""
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text("employee_id,name,badge\ne-1,Ann,0A0000000A\ne-2,,\ne-3,Cy,0A0000000A\ne-4,Dee,\n",
                        encoding="utf-8")
    code, out, _ = cli("people", "import", str(csv_file), "--dry-run")
    assert code == 1
    assert out.splitlines() == [
        "would import 2 people (2 new, 0 updated), 1 badge(s); 2 row error(s)",
        "line 3: employee_id and name are required",
        "line 4: duplicate badge 0A0000000A (same as row 2)",
    ]
    assert json.loads(cli("people", "list", "--json")[1]) == []
    code, out, _ = cli("people", "import", str(csv_file))
    assert code == 1
    assert out.startswith("imported 2 people")
    assert [p["id"] for p in json.loads(cli("people", "list", "--json")[1])] == ["e-1", "e-4"]
    good = tmp_path / "good.csv"
    good.write_text("employee_id,name\ne-5,Eve\n", encoding="utf-8")
    assert cli("people", "import", str(good))[0] == 0
    code, _, err = cli("people", "import", str(tmp_path / "missing.csv"))
    assert code == 1
    assert "cannot read" in err


def test_door_groups_rights_and_revocation(cli: Cli) -> None:
    """A group right with a schedule is listed with its id, shown on the person and can be revoked."""
    cli("people", "add", "e-1", "Ann", "--group", "staff")
    assert cli("people", "group", "set", "lobby", "main-door", "side-door")[0] == 0
    code, out, _ = cli("people", "grant", "--group", "staff", "--doors", "lobby",
                       "--schedule", "mon-fri 07:00-19:00", "--tz", "Europe/Warsaw")
    assert code == 0
    assert out.startswith("right #1: group staff may pass lobby mon 07:00-19:00")
    assert "right #1 doors lobby" in cli("people", "show", "e-1")[1]
    assert "right #1: group staff -> lobby" in cli("people", "rights")[1]
    assert cli("people", "revoke-right", "1")[0] == 0
    assert "right #" not in cli("people", "rights")[1]


def test_schedule_specs() -> None:
    """Day ranges, lists, wrap-around and midnight-crossing windows; nothing given means always."""
    assert parse_schedule([], "UTC") == WeeklySchedule.all_hours("UTC")
    week = parse_schedule(["mon-fri 07:00-19:00", "sat,sun 9:00-13:00"], "Europe/Warsaw")
    assert [w.weekday for w in week.windows] == [0, 1, 2, 3, 4, 5, 6]
    assert week.is_open(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))  # Monday 08:30 in Warsaw
    assert not week.is_open(datetime(2026, 11, 28, 13, 30, tzinfo=UTC))  # Saturday 14:30
    night = parse_schedule(["fri-mon 22:00-06:00"], "UTC")
    assert [w.weekday for w in night.windows] == [0, 4, 5, 6]
    assert night.windows[0].crosses_midnight
    for bad in (["weekdays 07:00-19:00"], ["mon 7-19"], ["mon 25:00-26:00"]):
        with pytest.raises(Exception, match="--schedule"):
            parse_schedule(bad, "UTC")


def test_onsite_lists_and_prints_the_muster(cli: Cli) -> None:
    """Employees badged in and visitors checked in appear; --print gives the printable list."""
    cli("people", "add", "e-1", "Ann Lee")
    now = datetime.now(UTC)
    events = [
        make_event("hq", "reader-1", "access.granted", 1,
                   AccessGranted(credential="0A1B2C3D4E", door="main-door", person_id="e-1", direction="in"),
                   time=now - timedelta(hours=1)),
        make_event("hq", "kiosk-1", "visitor.checked_in", 1,
                   VisitorCheckedIn(visit_id="v-1", visitor_name="Vera Guest", visitor_type="guest",
                                    company="Acme"), time=now - timedelta(minutes=30)),
    ]
    with open_store(cli.db) as store:
        store.store_batch(events, now)
    code, out, _ = cli("onsite", "--json")
    assert code == 0
    assert [(p["person_id"], p["kind"]) for p in json.loads(out)] == [("v-1", "visitor"), ("e-1", "employee")]
    code, out, _ = cli("onsite", "--print")
    assert out.startswith("MUSTER LIST hq")
    assert "on site: 2 (1 visitors, 1 employees)" in out
    assert "[ ] Vera Guest" in out
    assert "2 on site" in cli("onsite")[1]


def test_api_tokens_are_shown_once_and_revoked(cli: Cli) -> None:
    """`create` prints the token once; it verifies until revoked; `list` never prints it."""
    code, out, _ = cli("api", "token", "create", "front desk", "--role", "guard")
    assert code == 0
    token = out.splitlines()[-1]
    with open_store(cli.db) as store:
        assert verify_token(store.engine, token) == ("front desk", "guard")
    listing = cli("api", "token", "list")[1]
    assert "front desk" in listing
    assert token not in listing
    assert cli("api", "token", "create", "front desk", "--role", "admin")[0] == 1
    assert cli("api", "token", "revoke", "1")[0] == 0
    with open_store(cli.db) as store:
        assert verify_token(store.engine, token) is None
    assert "revoked" in cli("api", "token", "list")[1]
