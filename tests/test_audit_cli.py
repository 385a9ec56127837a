"""`gatehouse audit verify|list` and `gatehouse incident` against a SQLite log in a temporary folder."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text, update

from broker.config import load
from gatehouse.cli import main
from security.office.audit.keys import audit_key, audit_key_path, ensure_audit_key
from security.storage.models import table

AUDIT = table("audit_log")
RECORDS = 5


def _run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A data folder whose log holds five audit records, written through the incident commands."""
    data = tmp_path / "data"
    steps = [
        ["incident", "open", "Door forced", "--as", "guard:maria"],
        ["incident", "note", "i-1", "Patrol sent", "--as", "guard:maria"],
        ["incident", "open", "Camera covered", "--as", "guard:joe"],
        ["incident", "close", "i-1", "False alarm", "--as", "manager:ana"],
        ["incident", "note", "i-2", "Lens cleaned", "--as", "guard:joe"],
    ]
    for step in steps:
        code, _, err = _run(capsys, data, *step)
        assert code == 0, err
    return data


@contextmanager
def _tamper(data: Path) -> Iterator[Connection]:
    """A transaction on the log's database, as someone with direct access would open it."""
    engine = create_engine(f"sqlite:///{data / 'gatehouse.db'}")
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _problems(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def test_an_untouched_log_verifies(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The chain written by the commands is intact, keyed with the site key the first command created."""
    code, out, _ = _run(capsys, site, "audit", "verify")
    assert code == 0
    assert out.startswith(f"audit log OK: {RECORDS} records, head ")
    code, out, _ = _run(capsys, site, "audit", "verify", "--key-file", str(site / "secrets" / "audit.key"))
    assert code == 0


def test_an_edited_actor_is_named(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Changing who did something breaks that record's seal."""
    with _tamper(site) as conn:
        conn.execute(update(AUDIT).where(AUDIT.c.seq == 2).values(actor="guard:eve"))
    code, out, err = _run(capsys, site, "audit", "verify")
    assert code == 1
    assert _problems(out) == [
        "edited: Record 2 was changed after it was written (its seal does not match its content)."
    ]
    assert "NOT intact" in err


def test_a_deleted_record_is_found(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A row deleted from the middle is reported missing."""
    with _tamper(site) as conn:
        conn.execute(AUDIT.delete().where(AUDIT.c.seq == 3))
    code, out, _ = _run(capsys, site, "audit", "verify")
    assert code == 1
    assert any(line.startswith("missing: Record 3 is missing") for line in _problems(out)), out


def test_a_deleted_last_record_is_found(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The chain head in the database says how long the log was, so cutting off the end shows."""
    with _tamper(site) as conn:
        conn.execute(AUDIT.delete().where(AUDIT.c.seq == RECORDS))
    code, out, _ = _run(capsys, site, "audit", "verify")
    assert code == 1
    assert any(line.startswith(f"truncated: Record {RECORDS} is missing") for line in _problems(out)), out


def test_swapped_rows_are_found(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Swapping the contents of two rows (keeping their numbers) breaks both seals."""
    columns = ("time", "actor", "action", "subject", "details", "prev_hash", "hash")
    with _tamper(site) as conn:
        rows = {r.seq: r for r in conn.execute(AUDIT.select().where(AUDIT.c.seq.in_([2, 3])))}
        for seq, other in ((2, 3), (3, 2)):
            values = {c: getattr(rows[other], c) for c in columns}
            conn.execute(update(AUDIT).where(AUDIT.c.seq == seq).values(**values))
    code, out, _ = _run(capsys, site, "audit", "verify")
    assert code == 1
    problems = _problems(out)
    assert any(p.startswith("edited: Record 2 ") for p in problems), out
    assert any(p.startswith("edited: Record 3 ") for p in problems), out


def test_a_wrong_key_reports_every_record(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verified with another key, every record's seal fails; a missing key file is a usage error."""
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(b"not the site key")
    code, out, _ = _run(capsys, site, "audit", "verify", "--key-file", str(wrong))
    assert code == 1
    assert _problems(out) == [
        f"edited: Record {n} was changed after it was written (its seal does not match its content)."
        for n in range(1, RECORDS + 1)
    ]
    code, _, err = _run(capsys, site, "audit", "verify", "--key-file", str(tmp_path / "absent.key"))
    assert code == 2
    assert "does not exist" in err


def test_audit_list_shows_the_newest_records(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`audit list --json` gives the last records oldest first, with actor, action and subject."""
    code, out, _ = _run(capsys, site, "audit", "list", "--limit", "3", "--json")
    assert code == 0
    docs = [json.loads(line) for line in out.splitlines()]
    assert [(d["seq"], d["actor"], d["action"], d["subject"]) for d in docs] == [
        (3, "guard:joe", "incident.opened", "incident:i-2"),
        (4, "manager:ana", "incident.closed", "incident:i-1"),
        (5, "guard:joe", "incident.noted", "incident:i-2"),
    ]
    code, out, _ = _run(capsys, site, "audit", "list", "--since", "2000-01-01")
    assert code == 0
    assert len(out.splitlines()) == RECORDS
    code, out, _ = _run(capsys, site, "audit", "list", "--since", "1h", "--limit", "0")
    assert code == 2


def test_incident_commands_show_and_refuse(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`incident list/show` read back what the commands wrote; a closed incident cannot be noted."""
    code, out, _ = _run(capsys, site, "incident", "list", "--open", "--json")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["i-2"]
    code, out, _ = _run(capsys, site, "incident", "show", "i-1", "--json")
    doc = json.loads(out)
    assert (doc["state"], doc["closed_by"], doc["outcome"]) == ("closed", "manager:ana", "False alarm")
    assert [(i["kind"], i["note"], i["by"]) for i in doc["items"]] == [("note", "Patrol sent", "guard:maria")]
    code, _, err = _run(capsys, site, "incident", "note", "i-1", "too late")
    assert code == 1
    assert "cannot be noted" in err
    code, _, err = _run(capsys, site, "incident", "show", "i-9")
    assert code == 1
    assert "no incident i-9" in err
    code, out, _ = _run(capsys, site, "events", "--json")
    types = [json.loads(line)["type"] for line in out.splitlines()]
    assert types == [
        "incident.opened", "incident.noted", "incident.opened", "incident.closed", "incident.noted",
    ]


def test_the_site_key_is_created_once_and_private(tmp_path: Path) -> None:
    """ensure_audit_key writes 32 random bytes readable by the owner only, and keeps them."""
    settings = load(data_dir=str(tmp_path / "data"), environ={})
    assert audit_key(settings) is None
    key = ensure_audit_key(settings)
    path = audit_key_path(settings)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_audit_key(settings) == key
    assert audit_key(settings) == key
    assert list(path.parent.iterdir()) == [path]


@pytest.mark.parametrize(("stored", "reason"), [
    ('{"title": "Door forced"', "not valid JSON"),
    ("[1, 2]", "a JSON list, not an object"),
])
def test_details_edited_into_something_unreadable_are_named(
    site: Path, capsys: pytest.CaptureFixture[str], stored: str, reason: str
) -> None:
    """Details edited into invalid JSON (or a list): verify names the record and exits 1; list still reads."""
    with _tamper(site) as conn:
        conn.execute(text("UPDATE audit_log SET details = :d WHERE seq = 3"), {"d": stored})
    code, out, err = _run(capsys, site, "audit", "verify")
    assert code == 1
    [problem] = _problems(out)
    assert problem.startswith("edited: Record 3 was changed after it was written: its details are unreadable")
    assert reason in problem
    assert "NOT intact: 1 problem(s) in 5 records" in err
    code, out, _ = _run(capsys, site, "audit", "list")
    assert code == 0
    [line] = [row for row in out.splitlines() if row.strip().startswith("3 ")]
    assert "UNREADABLE" in line
    code, out, _ = _run(capsys, site, "audit", "list", "--json")
    assert json.loads(out.splitlines()[2])["unreadable_details"] == stored


def test_incident_text_no_database_takes_is_refused_and_control_characters_are_shown_escaped(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A title that is not valid Unicode (a byte of a non-UTF-8 terminal) is refused naming it, as the
    API refuses it; a newline or an escape sequence is kept but printed escaped, one incident a line."""
    code, _, err = _run(capsys, site, "incident", "open", "Door \udcff forced")
    assert code == 1
    assert "title: contains a lone surrogate (U+DCFF)" in err
    code, _, err = _run(capsys, site, "incident", "note", "i-2", "fine", "--as", "guard:\udce9")
    assert (code, "actor: contains a lone surrogate" in err) == (1, True)
    code, _, err = _run(capsys, site, "incident", "close", "i-2", "cleaned\x00")  # main() given a NUL
    assert (code, "outcome: contains a NUL character" in err) == (1, True)
    code, out, _ = _run(capsys, site, "incident", "open", "Forced\n12:00:00 INFO fake: all clear\x1b[2J")
    assert (code, out) == (0, "opened i-3: Forced\\n12:00:00 INFO fake: all clear\\x1b[2J\n")
    code, out, _ = _run(capsys, site, "incident", "list")
    assert code == 0
    assert len(out.splitlines()) == 3
    assert "Forced\\n12:00:00 INFO fake: all clear\\x1b[2J" in out
    code, out, _ = _run(capsys, site, "incident", "list", "--json")
    assert json.loads(out.splitlines()[0])["title"] == "Forced\n12:00:00 INFO fake: all clear\x1b[2J"


def test_a_non_utf8_argument_from_a_real_terminal_is_refused_naming_it(tmp_path: Path) -> None:
    """`gatehouse incident open` as a process, a title byte not UTF-8: exit 1 naming it, no traceback."""
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "gatehouse", "--data-dir", str(data), "incident", "open",
                           b"Door \xff forced"], capture_output=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 1, done.stderr
    assert b"title: contains a lone surrogate (U+DCFF)" in done.stderr
    assert b"Traceback" not in done.stderr
