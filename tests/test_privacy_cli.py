"""`gatehouse visitor export|erase` through the real entry point: accounts, output, exit codes, the chain."""

from __future__ import annotations

import io
import json
import re
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gatehouse.cli import main
from security.cli.visitors import confirm
from security.office.access import Person
from security.office.audit import verify
from security.office.privacy import PrivacyError
from security.storage import open_store
from security.storage.audit_log import read_chain
from security.storage.people import Change, add_person
from tests.test_privacy import EMAIL, JPEG, NAME, OTHER, OTHER_EMAIL, OTHER_JPEG, dump, kiosk_visit, personal

PASSWORD = "a long enough passphrase"


class Cli:
    """Runs `gatehouse` against one temporary data folder (its SQLite file and audit key)."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        """Point at a data folder under `tmp_path`."""
        self.data = tmp_path / "data"
        self.url = f"sqlite:///{self.data / 'gatehouse.db'}"
        self.capsys, self.monkeypatch = capsys, monkeypatch
        self.first = ""
        """The visit id of Ana's invitation."""

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """Exit code, stdout and stderr of one command, with `stdin` (not a terminal) as its input."""
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["--data-dir", str(self.data), *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def trail(self) -> list[tuple[str, str]]:
        """(actor, action) of every audit record, after `verify` passed with the site key."""
        with open_store(self.url) as store, store.engine.connect() as conn:
            records = list(read_chain(conn))
        assert verify(records, key=(self.data / "secrets" / "audit.key").read_bytes()).ok
        return [(r.actor, r.action) for r in records]

    def dump(self) -> str:
        """Every row of the site's database as lower-case text."""
        with open_store(self.url) as store:
            return dump(store)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A site with accounts (maria: manager with both grants; eve: export only; joe: guard), and visits:
    Ana invited with `gatehouse visit invite` and checked in and out at a kiosk, Ana again as a walk-in,
    Piotr once."""
    run = Cli(tmp_path, capsys, monkeypatch)
    for name, role, grants in (("maria", "manager", ["--grant", "export", "--grant", "delete"]),
                               ("eve", "manager", ["--grant", "export"]), ("joe", "guard", [])):
        assert run("user", "add", name, "--role", role, *grants, "--password-stdin", stdin=PASSWORD)[0] == 0
    now = datetime.now(UTC)
    key = (run.data / "secrets" / "audit.key").read_bytes()
    with open_store(run.url) as store:
        host = Person("e-1", "Jan Kowalski", email="jan@example.org")
        add_person(store.engine, host, Change("test", now, key))
    code, out, _ = run("visit", "invite", NAME, "--host", "e-1", "--email", EMAIL, "--company", "Acme",
                       "--qr", str(tmp_path / "qr.png"))
    assert code == 0
    found = re.search(r"\(visit (\w+)\)", out)
    assert found is not None
    first = found.group(1)
    with open_store(run.url) as store:
        earlier = now - timedelta(hours=2)
        for events in (kiosk_visit(first, NAME, EMAIL, JPEG, earlier, 1, invited=True),
                       kiosk_visit("WALKIN0002", NAME, EMAIL, JPEG, earlier, 20),
                       kiosk_visit("PIOTR00003", OTHER, OTHER_EMAIL, OTHER_JPEG, earlier, 40)):
            assert len(store.store_batch(events, events[-1].time).stored) == len(events)
    run.first = first
    return run


def test_export_writes_a_new_private_file_for_a_manager_with_the_grant(cli: Cli, tmp_path: Path) -> None:
    """Both of Ana's visits by e-mail, written 0600, audited; an existing file, wrong accounts refused."""
    out = tmp_path / "ana.json"
    code, text, err = cli("visitor", "export", "--email", EMAIL.upper(), "--out", str(out), "--by", "Eve")
    assert (code, err) == (0, "")
    assert text.startswith("wrote the record of 2 visit(s)")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_bytes())
    assert doc["visit_ids"] == sorted([cli.first, "WALKIN0002"])
    assert doc["counts"]["events"] == 2 * 7 + 1
    assert doc["invitations"][0]["email"] == EMAIL
    assert OTHER not in out.read_text()
    assert cli.trail()[-1] == ("user:eve", "visitor.exported")

    written = out.read_bytes()
    code, _, err = cli("visitor", "export", "--name", NAME.lower(), "--out", str(out), "--by", "eve")
    assert (code, out.read_bytes()) == (1, written)
    assert "exists" in err
    refusals = {"joe": "may not look visitors up", "nobody": "no user 'nobody'", "x y": "a user name is"}
    for user, why in refusals.items():
        code, _, err = cli("visitor", "export", "--visit", "WALKIN0002", "--out", str(tmp_path / "b.json"),
                           "--by", user)
        assert code == 1
        assert why in err
    assert not (tmp_path / "b.json").exists()
    code, _, err = cli("visitor", "export", "--email", "nobody@example.org", "--out",
                       str(tmp_path / "c.json"), "--by", "eve")
    assert (code, (tmp_path / "c.json").exists()) == (1, False)
    assert "no stored visit matches" in err


def test_erase_asks_at_a_terminal_and_refuses_without_one(cli: Cli) -> None:
    """Without --yes and no terminal nothing is erased; with --yes all of Ana goes, Piotr stays."""
    before = cli.dump()
    code, out, err = cli("visitor", "erase", "--email", EMAIL, "--reason", "DSR-17", "--by", "maria")
    assert code == 1
    assert "stdin is not a terminal" in err
    assert "2 visit(s) to erase" in out
    assert cli.dump() == before

    code, _, err = cli("visitor", "erase", "--email", EMAIL, "--reason", "DSR-17", "--by", "eve", "--yes")
    assert (code, "may not erase" in err) == (1, True)
    code, _, err = cli("visitor", "erase", "--email", EMAIL, "--reason", f"{NAME} asked", "--by", "maria",
                       "--yes")
    assert (code, "names the visitor" in err) == (1, True)
    assert cli.dump() == before

    code, out, err = cli("visitor", "erase", "--email", EMAIL, "--reason", "DSR-17", "--by", "maria", "--yes")
    assert (code, err) == (0, "")
    assert "erased: events 2 visitor.agreed, 2 visitor.checked_in, 1 visitor.invited, 2 visitor.photo" in out
    text = cli.dump()
    assert [p for p in personal(NAME, EMAIL, JPEG) if p in text] == []
    assert all(p in text for p in personal(OTHER, OTHER_EMAIL, OTHER_JPEG))
    assert cli.trail()[-1] == ("user:maria", "visitor.erased")
    code, out, _ = cli("audit", "verify")
    assert (code, out.startswith("audit log OK")) == (0, True)

    code, _, err = cli("visitor", "erase", "--email", EMAIL, "--reason", "DSR-17", "--by", "maria", "--yes")
    assert (code, "no stored visit matches" in err) == (1, True)
    code, out, _ = cli("visitor", "erase", "--visit", "WALKIN0002", "--reason", "DSR-17 again",
                       "--by", "maria", "--yes")
    assert code == 0
    assert "erased: events none; invitations 0" in out
    assert cli.dump().count("dsr-17") == 2  # two erasures recorded, nothing else changed
    assert cli("user", "disable", "maria")[0] == 0
    code, _, err = cli("visitor", "erase", "--visit", "WALKIN0002", "--reason", "x", "--by", "maria", "--yes")
    assert (code, "disabled" in err) == (1, True)


class Terminal(io.StringIO):
    """Text typed at a terminal."""

    def isatty(self) -> bool:
        """A terminal, as far as the command can tell."""
        return True


def test_confirm_takes_only_the_word_typed_at_a_terminal() -> None:
    """`erase` (any case) goes on; anything else, or the end of input, does not; a pipe is refused."""
    def typed(answer: str) -> bool:
        asked: list[str] = []

        def prompt(question: str) -> str:
            asked.append(question)
            if answer == "EOF":
                raise EOFError
            return answer
        result = confirm("Erase?", Terminal(), prompt)
        assert asked == ["Erase? Type 'erase' to go on: "]
        return result

    assert [typed(a) for a in ("erase", " ERASE\n", "yes", "", "EOF")] == [True, True, False, False, False]
    with pytest.raises(PrivacyError, match="not a terminal"):
        confirm("Erase?", io.StringIO("erase\n"), lambda _q: "erase")
