"""`gatehouse visit ...`, `gatehouse visitor ...` and `gatehouse watchlist ...` from a terminal.

`visit` invites visitors and lists and cancels invitations; `visitor export|erase` answers a
visitor's request to see or erase what is stored about them (GDPR Art. 15 and 17), acting as the
account named with `--by`, whose role and grants decide (`security.accounts.privacy`); `watchlist`
keeps the people the site wants to know about.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from broker.config import ENV_CONFIG, Settings
from broker.private import private_file
from broker.schemas import VisitorType
from security.accounts.privacy import PrivacyDesk
from security.accounts.roles import Account
from security.accounts.users import get_account
from security.api.views import invitation_json, watch_json
from security.cli.office import default_actor
from security.office.audit.keys import ensure_audit_key
from security.office.incidents import console_emitter
from security.office.invitations import InvitationDesk, valid_from
from security.office.privacy import PrivacyError
from security.storage import open_store
from security.storage import watchlist as watch
from security.storage.invitations import Invitation, InvitationError
from security.storage.people import Change, PeopleError
from security.storage.privacy import VisitMatch

CONFIRM = "erase"
"""What to type at the prompt to go on with an erasure."""


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


def confirm(question: str, stdin: TextIO, prompt: Callable[[str], str]) -> bool:
    """Whether the person at the terminal typed CONFIRM; PrivacyError when stdin is not a terminal."""
    if not stdin.isatty():
        raise PrivacyError("stdin is not a terminal: nothing was erased (pass --yes to erase without asking)")
    try:
        answer = prompt(f"{question} Type {CONFIRM!r} to go on: ")
    except EOFError:
        return False
    return answer.strip().lower() == CONFIRM


def _visit_lines(found: list[VisitMatch]) -> list[str]:
    return [f"  {m.visit_id}  first stored {m.first_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC  "
            f"({', '.join(m.found_in)})" for m in found]


def _open_new(path: Path) -> int:
    """A new private file (0600) at `path` to write; PrivacyError when it exists (never overwritten)."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PrivacyError(f"{path} exists; give a new file for the export") from None
    except OSError as exc:
        raise PrivacyError(f"cannot write {path}: {exc.strerror}") from None


def _visitor(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return _visitor_action(settings, args)
    except (PrivacyError, PeopleError) as exc:
        print(f"gatehouse visitor {args.visitor_command}: {exc}", file=sys.stderr)
        return 1


def _visitor_action(settings: Settings, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with open_store(settings.db_url()) as store:
        info = get_account(store.engine, args.by)
        if info.disabled:
            raise PrivacyError(f"user {info.account.name} is disabled")
        account = info.account
        desk = PrivacyDesk(store.engine, site=settings.site, audit_key=ensure_audit_key(settings))
        found = desk.find(account, visit_id=args.visit, email=args.email, name=getattr(args, "name", None))
        if not found:
            raise PrivacyError("no stored visit matches (an erased visit answers only to its visit id)")
        visit_ids = [m.visit_id for m in found]
        if args.visitor_command == "export":
            return _export(desk, account, visit_ids, Path(args.out), now)
        print(f"{len(found)} visit(s) to erase:")
        print("\n".join(_visit_lines(found)))
        if not args.yes and not confirm("Erase the visitor's personal data from them?", sys.stdin, input):
            print("nothing was erased")
            return 1
        erased = desk.erase(account, visit_ids, args.reason, now)
    counts = erased.counts
    events = ", ".join(f"{n} {t}" for t, n in sorted(counts.events.items())) or "none"
    print(f"erased: events {events}; invitations {counts.invitations} "
          f"({counts.invitations_cancelled} cancelled); notifications {counts.notifications} "
          f"({counts.notifications_pending} not yet sent); audit record {erased.audit_seq}")
    if counts.audit_kept:
        print(f"sealed audit records that name the visitor stay as they are: "
              f"{', '.join(map(str, counts.audit_kept))}")
    if counts.directory_kept:
        print(f"the directory holds visitor(s) of that name or address: {', '.join(counts.directory_kept)} "
              "(check, then `gatehouse people remove ID`)")
    return 0


def _export(desk: PrivacyDesk, account: Account, visit_ids: list[str], out: Path, now: datetime) -> int:
    fd = _open_new(out)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(desk.export_json(account, visit_ids, now))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    print(f"wrote the record of {len(visit_ids)} visit(s) ({', '.join(visit_ids)}) to {out}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `visit invite|list|cancel`, `visitor export|erase`, `watchlist add|list|remove`."""
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

    visitor = sub.add_parser("visitor", parents=[common],
                             help="a visitor's request: export or erase what is stored about them")
    visitor.set_defaults(run=_visitor)
    psub = visitor.add_subparsers(dest="visitor_command", required=True, metavar="ACTION")
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", required=True, metavar="USER", help="the account acting (a manager with the "
                    "export grant to export, the delete grant to erase); named in the audit log")
    exp = psub.add_parser("export", parents=[common, by], help="write everything stored about a visitor "
                          "(all their visits) to a new JSON file")
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--visit", metavar="ID", help="one visit id")
    which.add_argument("--email", metavar="E", help="every visit with this e-mail address (any case)")
    which.add_argument("--name", metavar="N", help="every visit with exactly this name (any case)")
    exp.add_argument("--out", required=True, metavar="FILE", help="the new file (0600; never overwritten)")
    erase = psub.add_parser("erase", parents=[common, by], help="erase a visitor's personal data from all "
                            "their visits (refused while on site)")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--visit", metavar="ID", help="one visit id")
    which.add_argument("--email", metavar="E", help="every visit with this e-mail address (any case)")
    erase.add_argument("--reason", required=True, metavar="TEXT", help="why (e.g. the request's reference); "
                       "kept in the audit log for good, so never the visitor's name")
    erase.add_argument("--yes", action="store_true", help="do not ask (needed when stdin is not a terminal)")

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
