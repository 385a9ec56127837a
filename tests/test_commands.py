"""The typed args of every command: round trips, old payloads still read, bad ones refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from broker.commands import (
    COMMAND_ARGS,
    Args,
    LockArgs,
    PrintArgs,
    ReleaseArgs,
    ScheduleArgs,
    UnlockArgs,
    parse_args,
)
from broker.contract_doc import render_commands
from broker.events import ContractError
from broker.messages import Command
from broker.schemas import MAX_UNLOCK_S, CommandRequested, CommandSent, Data

WHEN = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "args",
    [
        UnlockArgs(seconds=8.0),
        UnlockArgs(),
        UnlockArgs(until=datetime(2026, 11, 22, 17, 30, tzinfo=UTC)),
        ScheduleArgs(),
        LockArgs(),
        LockArgs(lockdown=True),
        ReleaseArgs(),
        PrintArgs(visitor_name="Ana Kowalska", visit_id="v-7f3a"),
        PrintArgs(visitor_name="Ana", visit_id="v-1", host="Budi", company="Acme", qr="x",
                  date=date(2026, 11, 23), photo="v-1.jpg"),
    ],
    ids=lambda a: f"{type(a).__name__}{a.wire()}",
)
def test_a_command_round_trips_with_its_typed_args(args: Args) -> None:
    command = Command.make("c-1", WHEN, args)
    assert command.name == args.NAME
    decoded = Command.decode(command.encode())
    assert decoded == command
    assert decoded.typed_args() == args


def test_every_command_has_a_schema_named_for_it() -> None:
    assert sorted(COMMAND_ARGS) == ["lock", "print", "release", "schedule", "unlock"]
    assert all(name == model.NAME for name, model in COMMAND_ARGS.items())


def test_the_wire_form_is_what_it_was() -> None:
    unlock = json.loads(Command.make("c-1", WHEN, UnlockArgs(seconds=5)).encode())
    expected = {"id": "c-1", "name": "unlock", "expires": "2026-11-22T08:00:00.000Z",
                "args": {"seconds": 5.0}}
    assert unlock == expected
    assert Command.make("c-2", WHEN, UnlockArgs()).args == {}
    badge = Command.make("c-3", WHEN, PrintArgs(visitor_name="Ana", visit_id="v-1", date=date(2026, 11, 23)))
    assert badge.args == {"visitor_name": "Ana", "visit_id": "v-1", "date": "2026-11-23"}
    until = Command.make("c-4", WHEN, UnlockArgs(until=datetime(2026, 11, 22, 17, 30, tzinfo=UTC)))
    assert until.args == {"until": "2026-11-22T17:30:00Z"}
    assert Command.make("c-5", WHEN, LockArgs(lockdown=True)).args == {"lockdown": True}
    assert Command.make("c-6", WHEN, ScheduleArgs()).args == {}
    assert Command.make("c-7", WHEN, ReleaseArgs()).args == {}


def test_old_payloads_are_still_read() -> None:
    no_args = b'{"id": "c", "name": "unlock", "expires": "2026-11-22T08:00:00Z"}'
    assert Command.decode(no_args).typed_args() == UnlockArgs()
    whole = b'{"id": "c", "name": "unlock", "expires": "2026-11-22T08:00:00Z", "args": {"seconds": 5}}'
    assert Command.decode(whole).typed_args() == UnlockArgs(seconds=5.0)
    printed = parse_args("print", {"visitor_name": " Ana ", "visit_id": "v-1", "host": ""})
    assert printed == PrintArgs(visitor_name="Ana", visit_id="v-1")


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        ("unlock", {"seconds": "5"}, "must be a number"),
        ("unlock", {"seconds": True}, "must be a number"),
        ("unlock", {"seconds": None}, "must be a number"),
        ("unlock", {"seconds": 0}, "must be in (0, 600]"),
        ("unlock", {"seconds": 601}, "must be in (0, 600]"),
        ("unlock", {"seconds": 5, "door": "x"}, "door"),
        ("unlock", {"until": "2026-11-22T17:30:00"}, "timezone"),
        ("unlock", {"until": "5 pm"}, "until"),
        ("unlock", {"seconds": 5, "until": "2026-11-22T17:30:00Z"}, "not both"),
        ("lock", {"lockdown": "yes"}, "lockdown"),
        ("lock", {"group": "all"}, "group"),
        ("release", {"lockdown": False}, "lockdown"),
        ("schedule", {"seconds": 5}, "seconds"),
        ("print", {"visit_id": "v-1"}, "visitor_name"),
        ("print", {"visitor_name": "  ", "visit_id": "v-1"}, "visitor_name"),
        ("print", {"visitor_name": "A", "visit_id": "bad id!"}, "visit_id"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "host": 7}, "host"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "company": "x" * 201}, "company"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "date": "tomorrow"}, "date"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "date": 20261123}, "date"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "photo": "../etc/passwd"}, "photo"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "photo": ".hidden"}, "photo"),
        ("print", {"visitor_name": "A", "visit_id": "v-1", "colour": "red"}, "colour"),
        ("print", ["A"], "must be an object"),
        ("snapshot", {}, "unknown command"),
    ],
)
def test_bad_args_are_a_contract_error_on_decode(name: str, args: object, reason: str) -> None:
    payload = json.dumps({"id": "c", "name": name, "expires": "2026-11-22T08:00:00Z", "args": args}).encode()
    with pytest.raises(ContractError) as caught:
        Command.decode(payload)
    assert reason in str(caught.value)
    with pytest.raises(ContractError):
        parse_args(name, args)


def test_the_contract_doc_lists_every_command() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "contract.md").read_text()
    assert render_commands() in text, "run: python -m broker.contract_doc --write"
    for name in COMMAND_ARGS:
        assert f"- `{name}` (" in text


@pytest.mark.parametrize("model", [CommandRequested, CommandSent])
def test_the_events_about_an_unlock_take_the_unlock_commands_one_limit(model: type[Data]) -> None:
    """`command.requested` and `command.sent` accept what `unlock` accepts and refuse what it refuses."""
    fields = {"device": "door-1", "command": "unlock", "by": "guard", "command_id": "c-1", "origin": "api",
              "expires": datetime(2026, 11, 22, 8, tzinfo=UTC)}
    known = {k: v for k, v in fields.items() if k in model.model_fields}
    assert model.model_validate({**known, "seconds": MAX_UNLOCK_S}).seconds == MAX_UNLOCK_S  # type: ignore[attr-defined]
    assert UnlockArgs(seconds=MAX_UNLOCK_S).seconds == MAX_UNLOCK_S
    for beyond in (0, MAX_UNLOCK_S + 0.5):
        with pytest.raises(ValidationError):
            model.model_validate({**known, "seconds": beyond})
        with pytest.raises(ValidationError):
            UnlockArgs(seconds=beyond)
