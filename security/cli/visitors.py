"""`gatehouse visit ...` and `gatehouse watchlist ...`: invitations and the watchlist from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from broker.config import ENV_CONFIG, Settings
from broker.private import private_file
from broker.schemas import VisitorType
from security.api.views import invitation_json, watch_json
from security.cli.office import default_actor
from security.office.audit.keys import ensure_audit_key
from security.office.incidents import console_emitter
from security.office.invitations import InvitationDesk, valid_from
from security.storage import open_store
from security.storage import watchlist as watch
from security.storage.invitations import Invitation, InvitationError
from security.storage.people import Change, PeopleError


def _actor(args: argparse.Namespace) -> str:
    return str(getattr(args, "actor", None) or default_actor())


def site_zone(args: argparse.Namespace) -> ZoneInfo:
    """The site's time zone: `[alarms] timezone` of the --config file (UTC without one)."""
    from security.site.central import CentralConfig

    path = getattr(args, "config", None) or os.environ.get(ENV_CONFIG)
    return ZoneInfo(CentralConfig.read(path).office.alarms.timezone)


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """An ISO time; one without an offset is local to the site."""
    moment = datetime.fromisoformat(text)
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=tz)


@contextmanager
def _desk(settings: Settings, args: argparse.Namespace) -> Iterator[InvitationDesk]:
    with open_store(settings.db_url()) as store:
        yield InvitationDesk(store.engine, site=settings.site, audit_key=ensure_audit_key(settings),
                             emit=console_emitter(store, settings.site), tz=site_zone(args))


def _line(inv: Invitation, hosts: dict[str, str], tz: ZoneInfo) -> str:
    company = f" ({inv.company})" if inv.company else ""
    host = hosts.get(inv.host_id, inv.host_id)
    return (f"{inv.visit_id}  {inv.state:<10}  {inv.expected_at.astimezone(tz):%Y-%m-%d %H:%M}  "
            f"host {host}  {inv.visitor_name}{company}")


def _visit(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return _visit_action(settings, args)
    except (InvitationError, ValueError) as exc:
        print(f"gatehouse visit: {exc}", file=sys.stderr)
        return 1


def _visit_action(settings: Settings, args: argparse.Namespace) -> int:
    with _desk(settings, args) as desk:
        if args.visit_command == "invite":
            expected = parse_local(args.at, desk.tz) if args.at else None
            until = parse_local(args.until, desk.tz) if args.until else None
            issued = desk.invite(visitor_name=args.name, host_id=args.host, by=_actor(args),
                                 company=args.company, email=args.email, visitor_type=args.type,
                                 expected_at=expected, valid_until=until, send_email=args.send)
            inv = issued.invitation
            path = Path(args.qr) if args.qr else settings.data_dir / "invitations" / f"{inv.visit_id}.png"
            private_file(path).write_bytes(issued.png)  # the code in it admits the visitor
            print(f"invited {inv.visitor_name} (visit {inv.visit_id}), expected "
                  f"{inv.expected_at.astimezone(desk.tz):%Y-%m-%d %H:%M}, valid until "
                  f"{inv.valid_until.astimezone(desk.tz):%Y-%m-%d %H:%M}")
            print(f"code: {inv.code}")
            print(f"QR code: {path}")
            if issued.emailed:
                print(f"e-mail to {inv.email} queued; the central service sends it")
            return 0
        if args.visit_command == "cancel":
            cancelled = desk.cancel(args.visit_id, _actor(args))
            print(f"cancelled {cancelled.visit_id} ({cancelled.visitor_name})")
            return 0
        found = desk.recent() if args.all else desk.pending()
        hosts = desk.host_names()
        for inv in found:
            if args.json:
                doc = invitation_json(inv, hosts.get(inv.host_id), valid_from=valid_from(inv, desk.tz))
                print(json.dumps(doc, ensure_ascii=False))
            else:
                print(_line(inv, hosts, desk.tz))
    return 0


def _watchlist(settings: Settings, args: argparse.Namespace) -> int:
    action = args.watchlist_command
    try:
        with open_store(settings.db_url()) as store:
            if action == "list":
                for entry in watch.list_entries(store.engine):
                    doc: dict[str, Any] = watch_json(entry, full=True)
                    also = f" (also {', '.join(entry.aliases)})" if entry.aliases else ""
                    print(json.dumps(doc, ensure_ascii=False) if args.json else
                          f"{entry.id:>5}  {entry.name}{also}  - {entry.reason or 'no reason given'}")
                return 0
            change = Change(_actor(args), datetime.now(UTC), ensure_audit_key(settings))
            if action == "add":
                added = watch.add_entry(store.engine, args.name, change, aliases=args.aliases or (),
                                        reason=args.reason)
                print(f"added watchlist entry {added.id}: {added.name}")
            else:
                removed = watch.remove_entry(store.engine, args.id, change)
                print(f"removed watchlist entry {removed.id}: {removed.name}")
    except PeopleError as exc:
        print(f"gatehouse watchlist: {exc}", file=sys.stderr)
        return 1
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `visit invite|list|cancel` and `watchlist add|list|remove` on the `gatehouse` parser."""
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument("--as", dest="actor", metavar="NAME", help="who does it (default cli:<OS user>)")

    visit = sub.add_parser("visit", parents=[common], help="invite visitors, list and cancel invitations")
    visit.set_defaults(run=_visit)
    vsub = visit.add_subparsers(dest="visit_command", required=True, metavar="ACTION")
    inv = vsub.add_parser("invite", parents=[common, actor], help="invite a visitor; writes the QR PNG")
    inv.add_argument("name", help="the visitor's full name")
    inv.add_argument("--host", required=True, metavar="ID", help="the employee the visitor comes to see")
    inv.add_argument("--company", help="the visitor's company")
    inv.add_argument("--email", help="the visitor's e-mail address")
    inv.add_argument("--type", default=str(VisitorType.GUEST), choices=[str(t) for t in VisitorType],
                     help="visitor type (default guest)")
    inv.add_argument("--at", metavar="ISO", help="expected arrival, e.g. 2026-11-23T09:30 (site time); "
                     "default now")
    inv.add_argument("--until", metavar="ISO", help="valid until (default: the end of the expected day)")
    inv.add_argument("--qr", metavar="FILE", help="where to write the QR PNG "
                     "(default DATA_DIR/invitations/<visit id>.png)")
    inv.add_argument("--send", action="store_true", help="e-mail the code to --email (sent by the service)")
    lst = vsub.add_parser("list", parents=[common], help="open invitations (with --all: the last 30 days)")
    lst.add_argument("--all", action="store_true", help="every state, expected in the last 30 days or later")
    lst.add_argument("--json", action="store_true", help="JSON lines, one invitation each")
    cancel = vsub.add_parser("cancel", parents=[common, actor], help="cancel an open invitation")
    cancel.add_argument("visit_id", help="the invitation's visit id")

    wl = sub.add_parser("watchlist", parents=[common], help="the people to know about when they check in")
    wl.set_defaults(run=_watchlist)
    wsub = wl.add_subparsers(dest="watchlist_command", required=True, metavar="ACTION")
    add = wsub.add_parser("add", parents=[common, actor], help="put a person on the watchlist")
    add.add_argument("name", help="the person's name")
    add.add_argument("--alias", dest="aliases", action="append", metavar="A", help="another name (repeat)")
    add.add_argument("--reason", metavar="R", help="why the site watches for them")
    wlist = wsub.add_parser("list", parents=[common], help="the active entries")
    wlist.add_argument("--json", action="store_true", help="JSON lines, one entry each")
    rm = wsub.add_parser("remove", parents=[common, actor], help="take an entry off the watchlist")
    rm.add_argument("id", type=int, help="the entry's id")
