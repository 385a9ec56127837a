"""`gatehouse people ...`, `gatehouse onsite` and `gatehouse api token ...`: the directory from a shell."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from broker.config import Settings
from security.api.views import credential_state, import_json, onsite_json, person_json, right_json, token_json
from security.office.access import (
    AccessRight,
    Credential,
    CredentialFormat,
    Person,
    PersonKind,
    TimeWindow,
    WeeklySchedule,
    render_muster,
)
from security.office.onsite_query import current_on_site
from security.storage import EventStore, open_store, tokens
from security.storage import people as repo

AuditKeyOf = Callable[[Settings], bytes | None]
"""How the CLI finds the site's audit key (default: DATA_DIR/secrets/audit.key, made if missing)."""

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SCHEDULE = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})\s*$")


class _FailError(Exception):
    """A one-line error for stderr, exit 1."""


def site_audit_key(settings: Settings) -> bytes | None:
    """The site's audit key, as `gatehouse incident` and `audit verify` use it (created if missing)."""
    from security.office.audit.keys import ensure_audit_key

    return ensure_audit_key(settings)


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(args: argparse.Namespace) -> str:
    """`--as NAME`, else `cli:` and the OS user."""
    given: str | None = getattr(args, "actor", None)
    if given:
        return given
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def parse_time(text: str, field: str) -> datetime:
    """An ISO date or date-time; without an offset it is local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _FailError(f"{field}: not an ISO date or time: {text!r}") from None
    return moment if moment.utcoffset() is not None else moment.astimezone()


def parse_schedule(specs: list[str], tz: str) -> WeeklySchedule:
    """Windows like `mon-fri 07:00-19:00` or `sat,sun 09:00-13:00` (none: always open)."""
    try:
        if not specs:
            return WeeklySchedule.all_hours(tz)
        windows: list[TimeWindow] = []
        for spec in specs:
            match = _SCHEDULE.match(spec.lower())
            if match is None:
                raise _FailError(f"--schedule: {spec!r} is not like 'mon-fri 07:00-19:00'")
            start, end = (time.fromisoformat(match.group(n).zfill(5)) for n in (2, 3))
            windows += [TimeWindow(day, start, end) for day in _days(match.group(1), spec)]
        return WeeklySchedule(tz, tuple(windows))
    except (KeyError, ValueError) as exc:
        raise _FailError(f"--schedule/--tz: {exc}") from None


def _days(text: str, spec: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise _FailError(f"--schedule: unknown day in {spec!r}; use mon tue wed thu fri sat sun")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days += list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(b + 1)]
    return sorted(set(days))


def _run(settings: Settings, args: argparse.Namespace, key_of: AuditKeyOf) -> int:
    """Open the store, run the chosen action, print one line per error."""
    with open_store(settings.db_url()) as store:
        change = repo.Change(_actor(args), _now(), key_of(settings))
        try:
            action: Callable[[EventStore, repo.Change, argparse.Namespace, Settings], int] = args.action
            return action(store, change, args, settings)
        except (_FailError, ValueError) as exc:
            print(f"gatehouse: {exc}", file=sys.stderr)
            return 1


def _list(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    views = repo.list_people(store.engine)
    if args.json:
        print(json.dumps([person_json(v, change.now, values=True) for v in views], indent=2))
        return 0
    print(f"{'ID':<16} {'KIND':<9} {'NAME':<30} {'BADGES':>6}  GROUPS")
    for v in views:
        live = sum(credential_state(c, change.now) == "valid" for c in v.credentials)
        print(f"{v.person.id:<16} {v.person.kind!s:<9} {v.person.name:<30} {live:>6}  "
              f"{','.join(sorted(v.person.groups))}")
    print(f"{len(views)} people")
    return 0


def _show(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    doc = person_json(repo.get_person(store.engine, args.id), change.now, values=True)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{doc['id']}  {doc['name']}  ({doc['kind']})")
    print(f"  email:  {doc['email'] or '-'}\n  groups: {', '.join(doc['groups']) or '-'}")
    for c in doc["credentials"]:
        print(f"  badge {c['value']} {c['format']} {c['state']}"
              f" from {c['valid_from'] or '-'} until {c['valid_until'] or '-'}")
    for r in doc["rights"]:
        print(f"  right #{r['id']} doors {r['door_group']} {_schedule_text(r['schedule'])}")
    return 0


def _schedule_text(doc: dict[str, Any]) -> str:
    if doc["always"]:
        return f"always ({doc['tz']})"
    return ", ".join(f"{_DAYS[d]} {a}-{b}" for d, a, b in doc["windows"]) + f" ({doc['tz']})"


def _add(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    kind = PersonKind.VISITOR if args.visitor else PersonKind.EMPLOYEE
    person = Person(args.id, args.name, kind, frozenset(args.group or ()), args.email)
    repo.add_person(store.engine, person, change)
    print(f"added {person.id} ({person.name})")
    return 0


def _remove(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    count = repo.remove_person(store.engine, args.id, change)
    print(f"removed {args.id} and {count} badge(s)")
    return 0


def _badge_add(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    start = parse_time(args.valid_from, "--from") if args.valid_from else None
    until = parse_time(args.until, "--until") if args.until else None
    cred = Credential(args.value, CredentialFormat(args.format), args.id, start, until)
    repo.add_credential(store.engine, cred, change)
    print(f"badge {cred.value} ({cred.format}) added to {args.id}")
    return 0


def _badge_revoke(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    count = repo.revoke_credentials(store.engine, args.id, change, args.value)
    print(f"revoked {count} badge(s) of {args.id}")
    return 0


def _import(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _FailError(f"cannot read {args.file}: {exc}") from None
    report = repo.import_employees(store.engine, text, change, tz=args.tz, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(import_json(report), indent=2))
    else:
        verb = "would import" if report.dry_run else "imported"
        added, updated = len(report.added), len(report.updated)
        print(f"{verb} {added + updated} people ({added} new, {updated} updated), "
              f"{report.credentials} badge(s); {len(report.errors)} row error(s)")
        for error in report.errors:
            print(f"line {error.row}: {error.reason}")
    return 1 if report.errors else 0


def _group_set(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    repo.set_door_group(store.engine, args.name, args.doors, change)
    print(f"door group {args.name}: {', '.join(sorted(set(args.doors)))}")
    return 0


def _grant(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    right = AccessRight(args.doors, parse_schedule(args.schedule or [], args.tz),
                        person_id=args.person, group=args.group)
    right_id = repo.grant_right(store.engine, right, change)
    doc = right_json(right_id, right)
    print(f"right #{right_id}: {args.person or 'group ' + args.group} may pass {args.doors} "
          f"{_schedule_text(doc['schedule'])}")
    return 0


def _rights(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    for name, doors in repo.list_door_groups(store.engine).items():
        print(f"door group {name}: {', '.join(doors)}")
    for right_id, right in repo.list_rights(store.engine):
        who = f"person {right.person_id}" if right.person_id else f"group {right.group}"
        doc = right_json(right_id, right)
        print(f"right #{right_id}: {who} -> {right.door_group} {_schedule_text(doc['schedule'])}")
    return 0


def _revoke_right(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    repo.revoke_right(store.engine, args.right_id, change)
    print(f"revoked right #{args.right_id}")
    return 0


def _onsite(store: EventStore, change: repo.Change, args: argparse.Namespace, settings: Settings) -> int:
    entries = current_on_site(store, change.now, args.horizon)
    if args.json:
        print(json.dumps([onsite_json(e) for e in entries], indent=2))
    elif args.print:
        print(render_muster(entries, change.now.astimezone(), settings.site))
    else:
        for e in entries:
            print(f"{e.kind!s:<9} {e.name:<30} {e.person_id:<16} since {e.since.astimezone():%H:%M} "
                  f"{e.last_door or ''}".rstrip())
        print(f"{len(entries)} on site")
    return 0


def _token_create(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    info, text = tokens.create_token(store.engine, args.name, args.role, change)
    print(f"token #{info.id} for {info.name} ({info.role}); shown only this once:\n{text}")
    return 0


def _token_list(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    for info in tokens.list_tokens(store.engine):
        doc = token_json(info)
        state = f"revoked {doc['revoked_at']}" if info.revoked_at else "live"
        print(f"#{info.id:<4} {info.name:<30} {info.role:<8} created {doc['created_at']}  {state}")
    return 0


def _token_revoke(store: EventStore, change: repo.Change, args: argparse.Namespace, _s: Settings) -> int:
    info = tokens.revoke_token(store.engine, args.token_id, change)
    print(f"revoked token #{info.id} ({info.name})")
    return 0


def _leaf(parent: Any, name: str, action: Callable[..., int], text: str, ctx: _Ctx) -> Any:
    """A leaf subcommand that runs `action` against the opened store."""
    leaf = parent.add_parser(name, parents=ctx.parents, help=text)
    leaf.set_defaults(run=lambda settings, args: _run(settings, args, ctx.key_of), action=action)
    return leaf


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What every leaf subcommand shares: its parent parsers and the audit key lookup."""

    common: argparse.ArgumentParser
    parents: list[argparse.ArgumentParser]
    key_of: AuditKeyOf


def add_commands(sub: Any, common: argparse.ArgumentParser, audit_key: AuditKeyOf | None = None) -> None:
    """Register `people ...`, `onsite` and `api token ...` on the `gatehouse` subparsers."""
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--as", dest="actor", metavar="NAME", help="who to name in the audit log "
                     "(default cli:<OS user>)")
    ctx = _Ctx(common, [common, who], audit_key or site_audit_key)
    ppl = sub.add_parser("people", parents=[common], help="people, badges, door groups and rights")
    ps = ppl.add_subparsers(dest="people_command", required=True, metavar="ACTION")
    _person_commands(ps, ctx)
    _badge_commands(ps, ctx)
    _right_commands(ps, ctx)
    ons = _leaf(sub, "onsite", _onsite, "who is on site now (the muster list)", ctx)
    shape = ons.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--print", action="store_true", help="the printable muster list")
    ons.add_argument("--horizon", type=float, default=24.0, metavar="H", help="hours of events (default 24)")
    _token_commands(sub, ctx)


def _person_commands(ps: Any, ctx: _Ctx) -> None:
    """`people list | show | add | remove | import`."""
    _leaf(ps, "list", _list, "everyone, with their live badge count", ctx).add_argument(
        "--json", action="store_true", help="JSON with every badge")
    show = _leaf(ps, "show", _show, "one person: badges and rights", ctx)
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    add = _leaf(ps, "add", _add, "add an employee (or --visitor)", ctx)
    add.add_argument("id")
    add.add_argument("name")
    add.add_argument("--group", action="append", metavar="G", help="a people group (repeatable)")
    add.add_argument("--email", metavar="E")
    add.add_argument("--visitor", action="store_true", help="a visitor, not an employee")
    _leaf(ps, "remove", _remove, "remove a person with their badges", ctx).add_argument("id")
    imp = _leaf(ps, "import", _import, "add or update employees from a CSV file", ctx)
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument("--tz", default="UTC", help="zone of times without an offset (default UTC)")
    imp.add_argument("--json", action="store_true")


def _badge_commands(ps: Any, ctx: _Ctx) -> None:
    """`people badge add | revoke`."""
    badge = ps.add_parser("badge", parents=[ctx.common], help="enrol or revoke badges")
    bs = badge.add_subparsers(dest="badge_command", required=True, metavar="ACTION")
    badd = _leaf(bs, "add", _badge_add, "enrol a badge", ctx)
    badd.add_argument("id")
    badd.add_argument("value", help="the badge number in hex")
    badd.add_argument("--format", required=True, choices=[str(f) for f in CredentialFormat])
    badd.add_argument("--from", dest="valid_from", metavar="ISO", help="valid from (no offset: local)")
    badd.add_argument("--until", metavar="ISO", help="valid until")
    brev = _leaf(bs, "revoke", _badge_revoke, "revoke one badge, or all of a person's", ctx)
    brev.add_argument("id")
    brev.add_argument("value", nargs="?")


def _right_commands(ps: Any, ctx: _Ctx) -> None:
    """`people group set`, `people grant`, `people rights`, `people revoke-right`."""
    group = ps.add_parser("group", parents=[ctx.common], help="door groups")
    gs = group.add_subparsers(dest="group_command", required=True, metavar="ACTION")
    gset = _leaf(gs, "set", _group_set, "create or replace a door group", ctx)
    gset.add_argument("name")
    gset.add_argument("doors", nargs="+", metavar="DOOR")
    grant = _leaf(ps, "grant", _grant, "let a person or a people group through a door group", ctx)
    subject = grant.add_mutually_exclusive_group(required=True)
    subject.add_argument("--person", metavar="ID")
    subject.add_argument("--group", metavar="G")
    grant.add_argument("--doors", required=True, metavar="GROUP", help="the door group")
    grant.add_argument("--schedule", action="append", metavar="SPEC",
                       help="'mon-fri 07:00-19:00' (repeatable; default: always)")
    grant.add_argument("--tz", default="UTC", help="the schedule's time zone, e.g. Europe/Warsaw")
    _leaf(ps, "rights", _rights, "list door groups and rights", ctx)
    _leaf(ps, "revoke-right", _revoke_right, "delete an access right", ctx).add_argument("right_id", type=int)


def _token_commands(sub: Any, ctx: _Ctx) -> None:
    """`api token create | list | revoke`."""
    api = sub.add_parser("api", parents=[ctx.common], help="the HTTP API's tokens")
    api_sub = api.add_subparsers(dest="api_command", required=True, metavar="WHAT")
    token = api_sub.add_parser("token", parents=[ctx.common], help="create, list or revoke API tokens")
    ts = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = _leaf(ts, "create", _token_create, "create a token; its text is shown once", ctx)
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=tokens.ROLES)
    _leaf(ts, "list", _token_list, "every token, live and revoked", ctx)
    _leaf(ts, "revoke", _token_revoke, "revoke a token by id", ctx).add_argument("token_id", type=int)
