"""`gatehouse user add|list|disable|enable|reset|role`: people's accounts for the console, from a shell.

A password is read twice from the terminal without echo, or once from stdin with
`--password-stdin` (for scripts: `printf %s "$PW" | gatehouse user add ...`). Without a terminal
and without that option the command refuses rather than wait on a prompt no one can see.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from broker.config import Settings
from security.accounts import users
from security.accounts.passwords import MAX_LENGTH
from security.accounts.roles import Grant, Role
from security.cli.office import default_actor
from security.office.audit.keys import ensure_audit_key
from security.storage import EventStore, open_store
from security.storage.people import Change

Prompt = Callable[[str], str]
MAX_STDIN = 16 * MAX_LENGTH
"""The most read from stdin for a password; more is refused, never cut (cut, it is another password)."""


class _FailError(Exception):
    """A one-line error for stderr, exit 1."""


def read_password(args: argparse.Namespace, stdin: TextIO, prompt: Prompt) -> str:
    """The new password: all of stdin (one trailing line end dropped), or typed twice at the terminal."""
    if getattr(args, "password_stdin", False):
        text = stdin.read(MAX_STDIN + 1)
        if len(text) > MAX_STDIN:
            raise _FailError(f"--password-stdin: more than {MAX_STDIN} characters on stdin")
        return text.removesuffix("\n").removesuffix("\r")
    if not stdin.isatty():
        raise _FailError("stdin is not a terminal: pass the password with --password-stdin")
    try:
        first = prompt(f"New password for {args.name}: ")
        again = prompt("The same again: ")
    except EOFError:
        raise _FailError("no password given") from None
    if first != again:
        raise _FailError("the two passwords differ; nothing was changed")
    return first


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds") if when else None


def _info_json(info: users.AccountInfo) -> dict[str, Any]:
    account = info.account
    return {"name": account.name, "role": str(account.role), "grants": sorted(account.grants),
            "person_id": account.person_id, "disabled": info.disabled, "created_at": _iso(info.created_at),
            "password_changed_at": _iso(info.password_changed_at), "last_login_at": _iso(info.last_login_at)}


def _add(args: argparse.Namespace, change: Change, store: EventStore, io: _Io) -> int:
    users.new_account(args.name, args.role, args.grant or (), args.person)  # refused before any prompt
    password = read_password(args, io.stdin, io.prompt)
    info = users.add_user(store.engine, args.name, args.role, password, change, grants=args.grant or (),
                          person_id=args.person)
    grants = f" with {', '.join(sorted(info.account.grants))}" if info.account.grants else ""
    print(f"added user {info.account.name} ({info.account.role}{grants})")
    return 0


def _list(args: argparse.Namespace, change: Change, store: EventStore, io: _Io) -> int:
    infos = users.list_accounts(store.engine)
    if args.json:
        print(json.dumps([_info_json(i) for i in infos], indent=2))
        return 0
    print(f"{'NAME':<24} {'ROLE':<10} {'GRANTS':<14} {'STATE':<9} LAST LOGIN")
    for info in infos:
        doc = _info_json(info)
        print(f"{doc['name']:<24} {doc['role']:<10} {','.join(doc['grants']) or '-':<14} "
              f"{'disabled' if info.disabled else 'enabled':<9} {doc['last_login_at'] or 'never'}")
    print(f"{len(infos)} user(s)")
    return 0


def _disable(args: argparse.Namespace, change: Change, store: EventStore, io: _Io) -> int:
    ended = users.set_disabled(store.engine, args.name, True, change)
    print(f"disabled user {users.account_name(args.name)}; {ended} session(s) ended")
    return 0


def _enable(args: argparse.Namespace, change: Change, store: EventStore, io: _Io) -> int:
    users.set_disabled(store.engine, args.name, False, change)
    print(f"enabled user {users.account_name(args.name)}")
    return 0


def _reset(args: argparse.Namespace, change: Change, store: EventStore, io: _Io) -> int:
    users.get_account(store.engine, args.name)  # an unknown name is refused before a password is asked for
    ended = users.reset_password(store.engine, args.name, read_password(args, io.stdin, io.prompt), change)
    print(f"new password for {users.account_name(args.name)}; {ended} session(s) ended")
    return 0


def _role(args: argparse.Namespace, change: Change, store: EventStore, io: _Io) -> int:
    ended = users.change_role(store.engine, args.name, args.role, args.grant or (), change)
    print(f"user {users.account_name(args.name)} is now {args.role}; {ended} session(s) ended")
    return 0


class _Io:
    """Where passwords come from: stdin and the terminal prompt (both swappable in tests)."""

    def __init__(self, stdin: TextIO | None, prompt: Prompt) -> None:
        """Read from `stdin` (None: sys.stdin at the time of reading) and prompt with `prompt`."""
        self._stdin, self.prompt = stdin, prompt

    @property
    def stdin(self) -> TextIO:
        """The stream passwords are read from."""
        return self._stdin or sys.stdin


Action = Callable[[argparse.Namespace, Change, EventStore, _Io], int]


def _runner(action: Action, io: _Io) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        with open_store(settings.db_url()) as store:
            change = Change(args.actor or default_actor(), datetime.now(UTC), ensure_audit_key(settings))
            try:
                return action(args, change, store, io)
            except (_FailError, ValueError) as exc:
                print(f"gatehouse: {exc}", file=sys.stderr)
                return 1
    return run


def add_commands(sub: Any, common: argparse.ArgumentParser, *, stdin: TextIO | None = None,
                 prompt: Prompt = getpass.getpass) -> None:
    """Register `user ...` on the `gatehouse` subparsers."""
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--as", dest="actor", metavar="NAME", help="who to name in the audit log "
                     "(default cli:<OS user>)")
    io = _Io(stdin, prompt)
    user = sub.add_parser("user", parents=[common], help="people's accounts for the console")
    us = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    def leaf(name: str, action: Action, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = us.add_parser(name, parents=[common, who], help=text)
        parser.set_defaults(run=_runner(action, io))
        return parser

    roles, grants = [str(r) for r in Role], [str(g) for g in Grant]
    add = leaf("add", _add, "add an account; its password is asked for twice (or read with --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--grant", action="append", choices=grants, help="an extra power (repeatable): export "
                     "(managers, auditors), delete (managers)")
    add.add_argument("--person", metavar="ID", help="the directory person this account is (a host's visits)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    leaf("list", _list, "every account: role, grants, state, last login").add_argument("--json",
                                                                                      action="store_true")
    leaf("disable", _disable, "disable an account and end its sessions").add_argument("name")
    leaf("enable", _enable, "enable a disabled account").add_argument("name")
    reset = leaf("reset", _reset, "give an account a new password and end its sessions")
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    role = leaf("role", _role, "give an account another role and grants, and end its sessions")
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=roles)
    role.add_argument("--grant", action="append", choices=grants, help="an extra power (repeatable)")
