"""`gatehouse user ...` through the real entry point: output, exit codes, the audit chain, the prompt."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from gatehouse.cli import main
from security.cli.users import MAX_STDIN, read_password
from security.office.audit import verify
from security.storage import open_store
from security.storage.audit_log import read_chain

PASSWORD = "a long enough passphrase"


class Cli:
    """Runs `gatehouse` against one temporary data folder (its SQLite file and audit key)."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        """Point at a data folder under `tmp_path`."""
        self.data = tmp_path / "data"
        self.capsys, self.monkeypatch = capsys, monkeypatch

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """Exit code, stdout and stderr of one command, with `stdin` as its standard input."""
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["--data-dir", str(self.data), *argv])
        out, err = self.capsys.readouterr()
        return code, out, err

    def audit(self) -> list[tuple[str, str, str]]:
        """(actor, action, subject) of every audit record, after `verify` passed with the site key."""
        with open_store(f"sqlite:///{self.data / 'gatehouse.db'}") as store, store.engine.connect() as conn:
            records = list(read_chain(conn))
        assert verify(records, key=(self.data / "secrets" / "audit.key").read_bytes()).ok
        return [(r.actor, r.action, r.subject) for r in records]


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A `gatehouse` runner on an empty site."""
    return Cli(tmp_path, capsys, monkeypatch)


def test_add_list_disable_enable_reset_role(cli: Cli) -> None:
    """Each command says what it did in one line; the audit chain names each change and still verifies."""
    assert cli("user", "add", "Maria", "--role", "manager", "--grant", "export", "--grant", "delete",
               "--password-stdin", "--as", "admin:ana", stdin=PASSWORD + "\n") == (
        0, "added user maria (manager with delete, export)\n", "")
    assert cli("user", "add", "joe", "--role", "guard", "--password-stdin", stdin=PASSWORD)[0] == 0
    code, out, _ = cli("user", "list")
    assert code == 0
    assert out.splitlines()[1].split() == ["joe", "guard", "-", "enabled", "never"]
    assert out.splitlines()[2].split() == ["maria", "manager", "delete,export", "enabled", "never"]
    assert cli("user", "disable", "JOE")[1] == "disabled user joe; 0 session(s) ended\n"
    assert "disabled" in cli("user", "list")[1].splitlines()[1]
    assert cli("user", "enable", "joe")[1] == "enabled user joe\n"
    assert cli("user", "reset", "joe", "--password-stdin", stdin="another passphrase\r\n")[1] == (
        "new password for joe; 0 session(s) ended\n")
    assert cli("user", "role", "joe", "--role", "auditor", "--grant", "export")[0] == 0
    doc = json.loads(cli("user", "list", "--json")[1])
    assert [(u["name"], u["role"], u["grants"], u["disabled"]) for u in doc] == [
        ("joe", "auditor", ["export"], False), ("maria", "manager", ["delete", "export"], False)]
    assert doc[0]["password_changed_at"] is not None
    trail = cli.audit()
    assert [(action, subject) for _, action, subject in trail] == [
        ("user.added", "user:maria"), ("user.added", "user:joe"), ("user.disabled", "user:joe"),
        ("user.enabled", "user:joe"), ("user.password_reset", "user:joe"), ("user.role_changed", "user:joe")]
    assert trail[0][0] == "admin:ana"
    assert trail[1][0].startswith("cli:")


def test_errors_are_one_line_and_exit_1(cli: Cli) -> None:
    """Bad names, passwords, grants, unknown users, no terminal: one line, exit 1, nothing written."""
    cli("user", "add", "maria", "--role", "guard", "--password-stdin", stdin=PASSWORD)
    cases = [
        (("user", "add", "maria", "--role", "guard", "--password-stdin"), PASSWORD, "already exists"),
        (("user", "add", "bad name", "--role", "guard", "--password-stdin"), PASSWORD, "a user name is"),
        (("user", "add", "x", "--role", "guard", "--password-stdin"), "short", "at least 12"),
        (("user", "add", "x", "--role", "guard", "--password-stdin"), "line one is long\nline two\n",
         "control characters"),
        (("user", "add", "x", "--role", "guard", "--grant", "export", "--password-stdin"), PASSWORD,
         "guard role may not hold export"),
        (("user", "add", "x", "--role", "host", "--person", "e-9", "--password-stdin"), PASSWORD,
         "no person 'e-9'"),
        (("user", "add", "x", "--role", "host", "--password-stdin"), PASSWORD, "names its person"),
        (("user", "add", "x", "--role", "guard"), "", "stdin is not a terminal"),
        (("user", "add", "x", "--role", "guard", "--password-stdin"), "y" * (MAX_STDIN + 1), "more than"),
        (("user", "reset", "nobody", "--password-stdin"), PASSWORD, "no user 'nobody'"),
        (("user", "disable", "nobody"), "", "no user 'nobody'"),
        (("user", "enable", "maria"), "", "already enabled"),
        (("user", "role", "maria", "--role", "guard"), "", "already has role guard"),
    ]
    for argv, stdin, message in cases:
        code, out, err = cli(*argv, stdin=stdin)
        assert (code, out) == (1, ""), argv
        assert err.startswith("gatehouse: "), argv
        assert message in err, (argv, err)
        assert err.count("\n") == 1, argv
    assert [action for _, action, _ in cli.audit()] == ["user.added"]


def test_bad_arguments_exit_2(cli: Cli) -> None:
    """argparse refuses an unknown role or grant and a missing role."""
    for argv in (("user", "add", "x", "--role", "root"), ("user", "add", "x", "--role", "manager", "--grant",
                                                           "all"), ("user", "add", "x")):
        with pytest.raises(SystemExit) as exited:
            cli(*argv)
        assert exited.value.code == 2


class Terminal(io.StringIO):
    """Stdin that says it is a terminal."""

    def isatty(self) -> bool:
        """Always a terminal."""
        return True


def test_the_prompt_asks_twice_and_refuses_a_mismatch() -> None:
    """At a terminal the password is typed twice; two different ones, or end of input, change nothing."""
    args = argparse.Namespace(name="maria", password_stdin=False)
    typed = iter([PASSWORD, PASSWORD, PASSWORD, "something else"])
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return next(typed)

    assert read_password(args, Terminal(), prompt) == PASSWORD
    assert asked == ["New password for maria: ", "The same again: "]
    with pytest.raises(Exception, match="the two passwords differ"):
        read_password(args, Terminal(), prompt)

    def eof(_text: str) -> str:
        raise EOFError

    with pytest.raises(Exception, match="no password given"):
        read_password(args, Terminal(), eof)


def _expect(fd: int, wanted: bytes, seen: bytearray) -> None:
    """Read the terminal until `wanted` shows up (the child's prompt), or fail after 60 s."""
    deadline = time.monotonic() + 60
    while wanted not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                seen += os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
    assert wanted in seen, seen.decode(errors="replace")


def test_a_real_terminal_is_prompted_without_echo(tmp_path: Path) -> None:
    """`gatehouse user add` in a pseudo-terminal: two prompts, the password never echoed, the account made."""
    data = tmp_path / "data"
    argv = [sys.executable, "-m", "gatehouse", "--data-dir", str(data), "user", "add", "maria",
            "--role", "guard"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, stdin and stdout
        try:
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)  # never back into pytest
    seen = bytearray()
    try:
        _expect(fd, b"New password for maria: ", seen)
        os.write(fd, PASSWORD.encode() + b"\n")
        _expect(fd, b"The same again: ", seen)
        os.write(fd, PASSWORD.encode() + b"\n")
        _expect(fd, b"added user maria (guard)", seen)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert PASSWORD.encode() not in seen
