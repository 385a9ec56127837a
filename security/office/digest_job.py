"""The daily digest job: read one local day from storage, build the digest and its CSVs, queue the e-mails.

One e-mail per recipient goes into the notifications queue (`storage.notifications`), which the
notifier delivers with its retries; its payload holds the HTML body and the two CSV files. Each is
queued once: its dedup key names the site, the day and the address, so a service restarted in
the digest's hour, or a second `gatehouse digest --send`, queues nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from security.office.alarms.kpis import AlarmLife
from security.office.digest import (
    DayDigest,
    DeviceStatusFact,
    IncidentFact,
    build_digest,
    day_bounds,
    render_html,
    render_text,
    subject,
)
from security.office.digest_texts import TEXTS
from security.office.exports import alarms_csv, visits_csv
from security.office.notify.config import ROLE, NotifyConfig, check_address
from security.office.notify.messages import ATTACHMENTS, HTML, Attachment, attachments_payload
from security.storage import EventStore
from security.storage.engine import writing
from security.storage.notifications import Channel, enqueue_once
from security.storage.reports.alarms import iter_alarm_history, lives_for_kpis
from security.storage.reports.day import device_faults, incidents_closed
from security.storage.reports.incidents import IncidentRow, iter_incidents
from security.storage.reports.keyset import TimeRange
from security.storage.reports.visits import VisitRow, invitation_facts, iter_visits, visit_facts

log = logging.getLogger(__name__)

PAYLOAD_TYPE = "digest.daily"


class DigestConfig(BaseModel):
    """`[digest]`: the managers' daily digest by e-mail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=False, description="Send the digest every day (needs recipients).")
    hour: int = Field(default=6, ge=0, le=23, description="Local hour (the site's zone) the digest of the "
                      "day before goes out.")
    emails: list[str] = Field(default_factory=list, description="Addresses that receive the digest.")
    role: str | None = Field(default=None, description="A role of [notify.roles] whose e-mail addresses "
                             "receive it too (its webhooks do not).")
    personal_data: bool = Field(default=False, description="Visitors' full names and companies in the "
                                "visits CSV; masked when false.")
    max_attachment_bytes: int = Field(default=5_000_000, ge=0, description="A CSV larger than this is "
                                      "left out (the e-mail says so).")

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [check_address(a) for a in value]

    @field_validator("role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not ROLE.fullmatch(value):
            raise ValueError(f"a role name is 1 to 64 of a-z, 0-9 and '-', not {value!r}")
        return value

    def recipients(self, notify: NotifyConfig) -> tuple[str, ...]:
        """The addresses to send to: `emails`, then the role's, each once (any case)."""
        found: dict[str, str] = {}
        role = notify.targets(self.role).emails if self.role else []
        for address in (*self.emails, *role):
            found.setdefault(address.lower(), address)
        return tuple(found.values())

    def check(self, notify: NotifyConfig) -> None:
        """ValueError when the digest is on but nobody would get it, or its role is not in [notify.roles]."""
        if self.role is not None and self.role not in notify.roles:
            raise ValueError(f"role {self.role!r} is not in [notify.roles]")
        if self.enabled and not self.recipients(notify):
            raise ValueError("the digest is enabled but has no recipients: set emails, or a role with emails")


@dataclass(frozen=True, slots=True)
class DigestMail:
    """The e-mail of one digest: subject, plain text, HTML, and the CSV files."""

    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...]


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What one run did: the digest, its e-mail, and which recipients got it queued now or before."""

    digest: DayDigest
    mail: DigestMail
    queued: tuple[str, ...]
    already: tuple[str, ...]
    ids: tuple[int, ...] = ()
    """The queued notifications' ids, in the order of `queued`."""


def dedup_key(site: str, day: date, address: str) -> str:
    """The key that lets one day's digest be queued once per address."""
    return f"digest:{site}:{day.isoformat()}:{address.lower()}"


def _incident(row: IncidentRow) -> IncidentFact:
    return IncidentFact(row.id, row.title, row.opened_at, row.opened_by, row.closed_at, row.closed_by,
                        row.outcome)


def read_day(
    store: EventStore, *, site: str, day: date, tz: tzinfo, now: datetime
) -> tuple[DayDigest, list[VisitRow], list[AlarmLife]]:
    """The digest of `day`, with the day's visits and alarms for the CSVs (read in one connection)."""
    start, end = day_bounds(day, tz)
    span = TimeRange(start, end)
    with store.engine.connect() as conn:
        visits = list(iter_visits(conn, span))
        facts = list(visit_facts(conn, span))
        invitations = invitation_facts(conn, span)
        lives = list(lives_for_kpis(conn, span))
        alarms = list(iter_alarm_history(conn, span))
        opened = [_incident(r) for r in iter_incidents(conn, span)]
        closed = [_incident(r) for r in incidents_closed(conn, span)]
        faults = device_faults(conn, span)
    statuses = [DeviceStatusFact(s.source, s.status.kind, s.status.state, s.status.since)
                for s in store.list_status()]
    digest = build_digest(site=site, day=day, tz=tz, visits=facts, invitations=invitations, lives=lives,
                          opened=opened, closed=closed, statuses=statuses, faults=faults, as_of=now)
    return digest, visits, alarms


def compose(
    digest: DayDigest, visits: list[VisitRow], alarms: list[AlarmLife], *, personal: bool, max_bytes: int
) -> DigestMail:
    """The digest's e-mail: the two CSVs (oldest first) attached unless over `max_bytes`, notes saying so."""
    day = digest.day.isoformat()
    files = (
        (f"visits-{day}.csv", "".join(visits_csv(reversed(visits), digest.tz, personal=personal))),
        (f"alarms-{day}.csv", "".join(alarms_csv(reversed(alarms), digest.tz))),
    )
    attached: list[Attachment] = []
    notes: list[str] = []
    for name, text in files:
        size = len(text.encode())
        if size > max_bytes:
            notes.append(TEXTS["too_large"].format(name=name, size=size, limit=max_bytes))
        else:
            attached.append(Attachment(name, "text/csv", text))
    if attached:
        notes.insert(0, TEXTS["attached"].format(names=", ".join(a.filename for a in attached)))
    if not personal:
        notes.append(TEXTS["masked"])
    return DigestMail(subject(digest), render_text(digest, notes), render_html(digest, notes),
                      tuple(attached))


def queue_digest(
    store: EventStore, mail: DigestMail, *, site: str, day: date, recipients: tuple[str, ...], now: datetime
) -> dict[str, int | None]:
    """Queue `mail` for each recipient that has not had this day's digest: per address, the new id or None."""
    payload = {"type": PAYLOAD_TYPE, "site": site, "day": day.isoformat(), HTML: mail.html,
               ATTACHMENTS: attachments_payload(mail.attachments)}
    with writing(store.engine) as conn:
        return {address: enqueue_once(conn, dedup=dedup_key(site, day, address), channel=Channel.EMAIL,
                                      target=address, subject=mail.subject, body=mail.text, payload=payload,
                                      now=now)
                for address in recipients}


def run_digest(
    store: EventStore, config: DigestConfig, notify: NotifyConfig, *, site: str, day: date, tz: tzinfo,
    now: datetime, send: bool = True, recipients: tuple[str, ...] | None = None,
) -> DigestResult:
    """Build the digest of `day` and (with `send`) queue it for every recipient not yet sent it.

    `recipients` replaces the configured ones (`gatehouse digest --to`).
    """
    digest, visits, alarms = read_day(store, site=site, day=day, tz=tz, now=now)
    mail = compose(digest, visits, alarms, personal=config.personal_data,
                   max_bytes=config.max_attachment_bytes)
    if not send:
        return DigestResult(digest, mail, (), ())
    recipients = recipients if recipients is not None else config.recipients(notify)
    done = queue_digest(store, mail, site=site, day=day, recipients=recipients, now=now)
    queued = tuple(a for a, new in done.items() if new is not None)
    already = tuple(a for a, new in done.items() if new is None)
    if queued:
        log.info("digest of %s queued for %d recipient(s)", day, len(queued))
    if already:
        log.info("digest of %s was queued before for %d recipient(s); not again", day, len(already))
    return DigestResult(digest, mail, queued, already, tuple(i for i in done.values() if i is not None))
