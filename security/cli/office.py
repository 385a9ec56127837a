"""`gatehouse incident`, `gatehouse audit` and `gatehouse retention`: the back office from a terminal."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.config import ENV_CONFIG, Settings
from broker.private import private_file
from broker.safe_text import escape, text_fault
from broker.schemas import Category
from security.api.views import incident_json
from security.cli.events import display_time, parse_when
from security.office.audit import UnreadableDetails, verify
from security.office.audit.keys import audit_key, ensure_audit_key, read_key_file
from security.office.incidents import Incident, IncidentDesk, IncidentError, ItemKind, console_emitter
from security.office.retention_job import load_retention_config, run_retention
from security.office.snapshot_files import snapshot_folder
from security.storage import open_store
from security.storage.audit_log import chain_head, latest_records, read_chain
from security.storage.incident_store import StateFilter

DETAILS_WIDTH = 80


def default_actor() -> str:
    """`cli:` and the operating-system user running the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _actor(args: argparse.Namespace) -> str:
    return str(getattr(args, "actor", None) or default_actor())


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def incident_lines(incident: Incident) -> list[str]:
    """An incident for reading: its head, then one line per item in time order."""
    lines = [f"{incident.id}  [{incident.state}]  {incident.category}  {escape(incident.title)}",
             f"  opened {display_time(incident.opened_at)} by {escape(incident.opened_by)}"]
    if incident.closed_at is not None:
        closed = display_time(incident.closed_at)
        by, outcome = escape(incident.closed_by or ""), escape(incident.outcome or "")
        lines.append(f"  closed {closed} by {by}: {outcome}")
    for item in incident.items:
        what = " ".join(part for part in (item.ref, item.note) if part)
        lines.append(f"  {display_time(item.at)}  {item.kind:<8}  {escape(item.by)}: {escape(what)}")
    return lines  # escaped: a title typed elsewhere cannot move the cursor or forge a line here


@contextlib.contextmanager
def _desk(settings: Settings) -> Iterator[IncidentDesk]:
    with open_store(settings.db_url()) as store:
        key = ensure_audit_key(settings)
        yield IncidentDesk(store.engine, site=settings.site, audit_key=key,
                           emit=console_emitter(store, settings.site))


def _incident(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return _incident_action(settings, args)
    except IncidentError as exc:
        print(f"gatehouse incident: {exc}", file=sys.stderr)
        return 1


def _incident_action(settings: Settings, args: argparse.Namespace) -> int:
    action = args.incident_command
    _check_texts(args)
    if action == "report":
        return _report(settings, args)
    if action in ("list", "show"):
        with open_store(settings.db_url(), migrate=False) as store:
            desk = IncidentDesk(store.engine, site=settings.site, audit_key=None, emit=_no_emit)
            if action == "list":
                state: StateFilter = "open" if args.open else "closed" if args.closed else "all"
                found = desk.list(state, limit=args.limit)
                for i in found:
                    print(json.dumps(incident_json(i), ensure_ascii=False) if args.json else
                          f"{i.id:<8} {i.state:<6} {i.category:<9} {display_time(i.opened_at)}  "
                          f"{len(i.items):>3} item(s)  "
                          f"{escape(i.opened_by)}: {escape(i.title)}")
                return 0
            incident = desk.get(args.id)
        if incident is None:
            raise IncidentError(f"no incident {args.id}")
        shown = json.dumps(incident_json(incident), indent=2, ensure_ascii=False) if args.json else None
        print(shown or "\n".join(incident_lines(incident)))
        return 0
    with _desk(settings) as desk:
        by = _actor(args)
        if action == "open":
            opened = desk.open(args.title, by, alarm_ids=args.alarms or (), event_ids=args.events or (),
                               category=args.category)
            print(f"opened {opened.id}: {escape(opened.title)}")
        elif action == "note":
            desk.note(args.id, by, args.text)
            print(f"noted {args.id}")
        elif action == "attach":
            kind, ref = ((ItemKind.EVENT, args.event) if args.event else (ItemKind.ALARM, args.alarm)
                         if args.alarm else (ItemKind.SNAPSHOT, args.snapshot))
            item = desk.attach(args.id, by, kind=kind, ref=ref)
            note = f" ({item.note})" if item.note else ""
            print(escape(f"attached {item.kind} {item.ref} to {args.id}{note}"))
        else:
            closed = desk.close(args.id, by, args.outcome)
            print(f"closed {closed.id}: {escape(closed.outcome or '')}")
    return 0


def _report(settings: Settings, args: argparse.Namespace) -> int:
    """Write one incident's PDF report to --out (private: it holds people's names and camera images)."""
    from security.cli.visitors import site_zone  # visitors imports this module: imported when used

    out = Path(args.out)
    folder = Path(args.snapshots) if args.snapshots else snapshot_folder(settings.data_dir)
    with open_store(settings.db_url(), migrate=False) as store:
        desk = IncidentDesk(store.engine, site=settings.site, audit_key=None, emit=_no_emit)
        pdf = desk.report(args.id, tz=site_zone(args), snapshots=folder, data_dir=settings.data_dir)
    try:
        private_file(out).write_bytes(pdf)
    except OSError as exc:
        print(f"gatehouse incident report: cannot write {escape(str(out))}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"wrote the report of {args.id} to {escape(str(out))} ({len(pdf)} bytes)")
    return 0


TEXT_ARGS = ("id", "title", "text", "outcome", "actor", "event", "alarm", "snapshot", "alarms", "events")
"""The incident command's arguments that are stored: checked as the API checks a body's strings."""


def _check_texts(args: argparse.Namespace) -> None:
    """IncidentError naming the first argument no database can store (e.g. a byte that is not UTF-8)."""
    for name in TEXT_ARGS:
        value = getattr(args, name, None)
        values = value if isinstance(value, list) else [value]
        for text in values:
            fault = text_fault(text) if isinstance(text, str) else None
            if fault is not None:
                raise IncidentError(f"{name}: {fault}")


def _no_emit(_event_type: str, _data: object) -> None:
    raise IncidentError("this command only reads incidents")


def _key_for_verify(settings: Settings, args: argparse.Namespace) -> bytes | None:
    key_file = getattr(args, "key_file", None)
    return read_key_file(Path(key_file)) if key_file else audit_key(settings)


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        key = _key_for_verify(settings, args)
        with open_store(settings.db_url(), migrate=False) as store, store.engine.connect() as conn:
            anchor = chain_head(conn)
            report = verify(read_chain(conn), key=key, expected=anchor)
        if report.ok:
            print(f"audit log OK: {report.count} records, head {report.head.hash[:16]}")
            return 0
        for problem in report.problems:
            print(f"{problem.kind}: {problem.message}")
        print(f"audit log NOT intact: {len(report.problems)} problem(s) in {report.count} records",
              file=sys.stderr)
        return 1
    return _audit_list(settings, args)


def _audit_list(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = parse_when(args.since) if args.since else None
        if args.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {args.limit}")
    except ValueError as exc:
        print(f"gatehouse audit list: {exc}", file=sys.stderr)
        return 2
    with open_store(settings.db_url(), migrate=False) as store, store.engine.connect() as conn:
        records = latest_records(conn, args.limit, since)
    for rec in records:
        unreadable = rec.details if isinstance(rec.details, UnreadableDetails) else None
        if args.json:
            print(json.dumps({"seq": rec.seq, "time": _iso(rec.time), "actor": rec.actor,
                              "action": rec.action, "subject": rec.subject, "details": dict(rec.details),
                              "prev_hash": rec.prev_hash, "hash": rec.hash}
                             | ({"unreadable_details": unreadable.text} if unreadable is not None else {}),
                             ensure_ascii=False))
            continue
        details = (f"UNREADABLE ({unreadable.reason})" if unreadable is not None else
                   json.dumps(dict(rec.details), separators=(",", ":"), ensure_ascii=False))
        details = details if len(details) <= DETAILS_WIDTH else details[: DETAILS_WIDTH - 1] + "…"
        line = f"{rec.seq:>6}  {display_time(rec.time)}  {rec.actor}  {rec.action}  {rec.subject}  {details}"
        print(escape(line))
    return 0


def _retention(settings: Settings, args: argparse.Namespace) -> int:
    config = load_retention_config(getattr(args, "config", None) or os.environ.get(ENV_CONFIG))
    if args.days is not None:
        if args.days < 0:
            print(f"gatehouse retention: --days must be at least 0, got {args.days}", file=sys.stderr)
            return 2
        config = config.model_copy(update={"days": args.days})
    with open_store(settings.db_url()) as store:
        key = None if args.dry_run else ensure_audit_key(settings)
        result = run_retention(store, config.policy(), datetime.now(UTC), _actor(args), key,
                               dry_run=args.dry_run)
    older = f"older than {display_time(result.cutoff)} ({config.days} days)"
    if result.dry_run:
        print(f"retention (dry run): {result.anonymised} event(s) {older} would be anonymised")
    else:
        print(f"retention: {result.anonymised} event(s) {older} anonymised")
    for event_type, count in sorted(result.by_type.items()):
        print(f"  {event_type}: {count}")
    return 0


def _add_incident_commands(sub: Any, common: argparse.ArgumentParser, actor: argparse.ArgumentParser) -> None:
    """Register `incident open|note|attach|close|list|show|report`."""
    inc = sub.add_parser("incident", parents=[common], help="open, note, attach to, close and list incidents")
    inc.set_defaults(run=_incident)
    isub = inc.add_subparsers(dest="incident_command", required=True, metavar="ACTION")
    op = isub.add_parser("open", parents=[common, actor], help="open an incident")
    op.add_argument("title", help="what happened, in a few words")
    op.add_argument("--alarm", dest="alarms", action="append", metavar="ID", help="an alarm (repeatable)")
    op.add_argument("--event", dest="events", action="append", metavar="ID", help="an event (repeatable)")
    op.add_argument("--category", choices=[c.value for c in Category], default=Category.OTHER.value,
                    help="what kind of incident (default other); fixed once opened")
    note = isub.add_parser("note", parents=[common, actor], help="add a note to an open incident")
    note.add_argument("id", help="incident id, e.g. i-3")
    note.add_argument("text", help="the note")
    att = isub.add_parser("attach", parents=[common, actor], help="attach an alarm, event or snapshot")
    att.add_argument("id", help="incident id, e.g. i-3")
    what = att.add_mutually_exclusive_group(required=True)
    what.add_argument("--event", metavar="EV", help="a stored event's id")
    what.add_argument("--alarm", metavar="A", help="an alarm's id, e.g. a-7")
    what.add_argument("--snapshot", metavar="EV", help="the id of a camera.snapshot event (records its path)")
    close = isub.add_parser("close", parents=[common, actor], help="close an incident with its outcome")
    close.add_argument("id", help="incident id, e.g. i-3")
    close.add_argument("outcome", help="how it ended")
    lst = isub.add_parser("list", parents=[common], help="incidents, newest first")
    state = lst.add_mutually_exclusive_group()
    state.add_argument("--open", action="store_true", help="only open incidents")
    state.add_argument("--closed", action="store_true", help="only closed incidents")
    lst.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    lst.add_argument("--json", action="store_true", help="JSON lines, one incident each")
    show = isub.add_parser("show", parents=[common], help="one incident with its items")
    show.add_argument("id", help="incident id, e.g. i-3")
    show.add_argument("--json", action="store_true", help="as a JSON document")
    rep = isub.add_parser("report", parents=[common], help="one incident as a printable PDF report")
    rep.add_argument("id", help="incident id, e.g. i-3")
    rep.add_argument("--out", required=True, metavar="FILE",
                     help="the PDF file to write (made private, 0600)")
    rep.add_argument("--snapshots", metavar="DIR", default=None,
                     help="the folder snapshot images are read from (default DATA_DIR/snapshots); "
                          "a snapshot's file outside it is not shown")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `incident ...`, `audit verify|list` and `retention run` on the `gatehouse` parser."""
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument("--as", dest="actor", metavar="NAME", help="who does it (default cli:<OS user>)")

    _add_incident_commands(sub, common, actor)

    aud = sub.add_parser("audit", parents=[common], help="check and read the hash-chained audit log")
    aud.set_defaults(run=_audit)
    asub = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    ver = asub.add_parser("verify", parents=[common], help="check every record's seal and link")
    ver.add_argument("--key-file", metavar="F", help="the site key (default DATA_DIR/secrets/audit.key)")
    al = asub.add_parser("list", parents=[common], help="the newest audit records, oldest first")
    al.add_argument("--since", metavar="WHEN", help="ISO time or relative (15m, 2h, 1d)")
    al.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    al.add_argument("--json", action="store_true", help="JSON lines, one record each")

    ret = sub.add_parser("retention", parents=[common], help="anonymise visitors' old personal data")
    ret.set_defaults(run=_retention)
    rsub = ret.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    run = rsub.add_parser("run", parents=[common, actor], help="anonymise events older than the retention")
    run.add_argument("--days", type=int, default=None, help="keep this many days (default: [retention] days)")
    run.add_argument("--dry-run", action="store_true", help="only count what would be anonymised")
