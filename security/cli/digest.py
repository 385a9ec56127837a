"""`gatehouse digest`: preview the managers' daily digest of a day, or send it by hand."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from broker.config import ENV_CONFIG, Settings
from broker.private import private_file
from security.office.digest_job import DigestResult, dedup_key, run_digest
from security.office.notify import Notifier
from security.office.notify.config import check_address
from security.site.central import CentralConfig
from security.storage import open_store
from security.storage.notifications import NotificationState, queued_once

PROG = "gatehouse digest"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a day is YYYY-MM-DD, not {text!r}") from None


def _address(text: str) -> str:
    try:
        return check_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _save(result: DigestResult, folder: Path) -> list[Path]:
    """Write the digest's HTML and CSV files into `folder`, each 0600: the CSVs may name visitors."""
    files = [(f"digest-{result.digest.day.isoformat()}.html", result.mail.html),
             *((a.filename, a.text) for a in result.mail.attachments)]
    written = []
    for name, text in files:
        path = private_file(folder / name)
        path.write_text(text, encoding="utf-8", newline="")
        written.append(path)
    return written


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    config = CentralConfig.read(getattr(args, "config", None) or os.environ.get(ENV_CONFIG))
    tz = ZoneInfo(config.office.alarms.timezone)
    now = datetime.now(UTC)
    day = args.day or now.astimezone(tz).date() - timedelta(days=1)
    if day >= now.astimezone(tz).date() and args.send:
        print(f"{PROG}: {day} has not ended yet in {tz}; only --print it", file=sys.stderr)
        return 2
    recipients = tuple(args.to) if args.to else config.digest.recipients(config.notify)
    if args.send and not recipients:
        print(f"{PROG}: nobody to send to: set [digest] emails or role, or give --to", file=sys.stderr)
        return 2
    with open_store(settings.db_url(), migrate=args.send) as store:
        result = run_digest(store, config.digest, config.notify, site=settings.site, day=day, tz=tz, now=now,
                            send=args.send, recipients=recipients)
        if args.save:
            for path in _save(result, Path(args.save)):
                print(f"wrote {path}", file=sys.stderr)
        if not args.send:
            print(f"Subject: {result.mail.subject}\n")
            print(result.mail.text, end="")
            return 0
        for address in result.already:
            print(f"{address}: the digest of {day} was queued before; not again")
        if not result.ids:
            return 0
        Notifier(store.engine, config.notify).run_once(datetime.now(UTC), ids=result.ids)
        with store.engine.connect() as conn:
            sent = {a: queued_once(conn, dedup_key(settings.site, day, a)) for a in result.queued}
    failed = 0
    for address, found in sent.items():
        if found is not None and found.state == NotificationState.SENT:
            print(f"{address}: sent")
        else:
            failed += 1
            error = found.last_error if found is not None else "not found"
            print(f"{address}: not sent yet ({error}); the service retries it")
    return 1 if failed else 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `digest` on the `gatehouse` parser."""
    dig = sub.add_parser("digest", parents=[common], help="preview or send the managers' daily digest")
    dig.add_argument("--day", type=_day, default=None, metavar="YYYY-MM-DD",
                     help="the local day (the site's zone); default yesterday")
    how = dig.add_mutually_exclusive_group()
    how.add_argument("--print", dest="send", action="store_false", help="print the e-mail's text (default)")
    how.add_argument("--send", dest="send", action="store_true",
                     help="queue it for each recipient not yet sent this day's digest, and deliver it now")
    dig.add_argument("--to", action="append", type=_address, metavar="ADDRESS",
                     help="send to this address instead of [digest]'s recipients (repeatable)")
    dig.add_argument("--save", metavar="DIR", help="also write the HTML and the CSV files into DIR")
    dig.set_defaults(run=_digest, send=False)
