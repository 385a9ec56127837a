"""Invitations and arrivals: what the central service does for visitors beyond the event log.

A host (or a manager) invites a visitor ahead; the visitor gets a QR code `GH1:<visit_id>:<secret>`
and checks in at a kiosk by showing it. The desk stores the invitation with its audit record,
then emits `visitor.invited` through `emit` (the service's own emitter, or `console_emitter` in a
command-line process). The back office's batch hooks mark an invitation used when its
`visitor.checked_in` arrives, and queue the host's e-mail and webhooks in the same transaction.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import qrcode  # type: ignore[import-untyped]
from PIL import Image
from sqlalchemy import Connection, Engine

from broker.events import Event, to_rfc3339
from broker.schemas import VisitorCheckedIn, VisitorInvited, VisitorType
from security.office.audit import AuditRecord
from security.office.incidents import Emit
from security.office.notify.config import NotifyConfig, check_address
from security.office.notify.messages import one_line
from security.storage import invitations as store
from security.storage.audit_log import append_audit
from security.storage.engine import writing
from security.storage.invitations import Invitation, InvitationError, InvitationNotFoundError
from security.storage.notifications import Channel, enqueue

log = logging.getLogger(__name__)

CODE_PREFIX = "GH1"
ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as the kiosk's visit ids
ID_LENGTH = 10
SECRET_BYTES = 12
"""96 random bits in every QR code, URL-safe base64."""
ARRIVAL = "visitor.arrived"
"""The `type` of a host notification's payload (and how the notifier's callback knows one)."""
INVITATION_MAIL = "visitor.invitation"
"""The `type` of the payload of an invitation e-mailed to the visitor."""


def _now() -> datetime:
    return datetime.now(UTC)


def new_visit_id() -> str:
    """A random visit id: 10 characters of Crockford base32 (50 bits), like the kiosk's."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def new_code(visit_id: str) -> str:
    """The QR text of a new invitation: `GH1:<visit_id>:<96-bit URL-safe secret>`."""
    return f"{CODE_PREFIX}:{visit_id}:{secrets.token_urlsafe(SECRET_BYTES)}"


def qr_png(text: str, *, scale: int = 8) -> bytes:
    """A PNG of the QR code of `text`: black on white, `scale` pixels per module, a 4-module margin."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    side = len(matrix)
    image = Image.new("L", (side, side), 255)
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    out = io.BytesIO()
    image.resize((side * scale, side * scale), Image.Resampling.NEAREST).save(out, format="PNG")
    return out.getvalue()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The start of `day` and of the next day in `tz`, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


EARLY_ARRIVAL = timedelta(hours=2)
"""How early before the expected time a visitor may check in, even on the day before."""


def valid_from(invitation: Invitation, tz: ZoneInfo) -> datetime:
    """When the QR code starts to work: the start of the expected day, local to the site, or
    EARLY_ARRIVAL before the expected time when that is earlier (a visit expected at 00:30)."""
    start_of_day = day_bounds(invitation.expected_at.astimezone(tz).date(), tz)[0]
    return min(start_of_day, invitation.expected_at.astimezone(UTC) - EARLY_ARRIVAL)


def usable(invitation: Invitation, now: datetime, tz: ZoneInfo) -> bool:
    """Whether a kiosk may check in with this invitation at `now`: open and within its window."""
    return invitation.state == "open" and valid_from(invitation, tz) <= now < invitation.valid_until


@dataclass(frozen=True, slots=True)
class Issued:
    """A new invitation, the PNG of its QR code, and whether an e-mail to the visitor was queued."""

    invitation: Invitation
    png: bytes
    emailed: bool


class InvitationDesk:
    """Invite, look up, list and cancel invitations; each change stored and audited, invitations emitted."""

    def __init__(
        self, engine: Engine, *, site: str, audit_key: bytes | None, emit: Emit,
        tz: ZoneInfo | None = None, clock: Callable[[], datetime] = _now,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        """Work on `engine`'s database; `tz` is the site's zone (days, default valid_until)."""
        self._engine = engine
        self.site = site
        self._key = audit_key
        self._emit = emit
        self.tz = tz or ZoneInfo("UTC")
        self._clock = clock
        self._on_queued = on_queued

    def now(self) -> datetime:
        """The desk's clock."""
        return self._clock()

    def invite(
        self, *, visitor_name: str, host_id: str, by: str, company: str | None = None,
        email: str | None = None, visitor_type: str = VisitorType.GUEST, expected_at: datetime | None = None,
        valid_until: datetime | None = None, send_email: bool = False,
    ) -> Issued:
        """Invite a visitor of employee `host_id`; InvitationError naming what is wrong."""
        now = self._clock()
        expected = expected_at or now
        if expected.utcoffset() is None or (valid_until is not None and valid_until.utcoffset() is None):
            raise InvitationError("expected_at and valid_until need a time zone offset")
        until = valid_until or day_bounds(expected.astimezone(self.tz).date(), self.tz)[1]
        if until <= expected:
            raise InvitationError("valid_until must be after expected_at")
        if until <= now:
            raise InvitationError("the invitation would already have run out (valid_until is past)")
        kinds = [str(t) for t in VisitorType]
        if visitor_type not in kinds:
            raise InvitationError(f"visitor_type: one of {', '.join(kinds)}, not {visitor_type!r}")
        visit_id = new_visit_id()
        try:  # the contract checks the fields (lengths, ids) before anything is stored
            data = VisitorInvited(visit_id=visit_id, visitor_name=" ".join(visitor_name.split()),
                                  host_id=host_id, expected_at=expected, company=company or None,
                                  email=email or None, visitor_type=VisitorType(visitor_type))
        except ValueError as exc:
            raise InvitationError(_first_error(exc)) from None
        if data.email is not None:
            try:
                check_address(data.email)
            except ValueError as exc:
                raise InvitationError(f"email: {exc}") from None
        if send_email and data.email is None:
            raise InvitationError("email: needed to send the invitation")
        invitation = Invitation(visit_id, new_code(visit_id), data.visitor_name, data.company, data.email,
                                str(data.visitor_type), host_id, expected, until, by, now)
        with writing(self._engine) as conn:
            host = store.employee(conn, host_id)
            if host is None:
                raise InvitationError(f"host_id: no employee {host_id!r}")
            store.add_invitation(conn, invitation)
            details = {"host_id": host_id, "visitor_type": invitation.visitor_type,
                       "expected_at": to_rfc3339(expected), "valid_until": to_rfc3339(until),
                       "emailed": send_email}
            append_audit(conn, [AuditRecord(now, by, "invitation.created", f"visit:{visit_id}", details)],
                         key=self._key)
            if send_email:
                self._queue_mail(conn, invitation, host.name, now)
        self._emit("visitor.invited", data)
        if send_email and self._on_queued is not None:
            self._on_queued()
        log.info("invitation %s made by %s for host %s", visit_id, by, host_id)
        return Issued(invitation, qr_png(invitation.code), send_email)

    def _queue_mail(self, conn: Connection, invitation: Invitation, host_name: str, now: datetime) -> None:
        local = invitation.expected_at.astimezone(self.tz)
        until = invitation.valid_until.astimezone(self.tz)
        body = "\n".join([
            f"Hello {invitation.visitor_name},", "",
            f"{host_name} expects you on {local:%A %d %B %Y} at {local:%H:%M} ({self.tz.key}).", "",
            "At the visitor kiosk in reception, show your invitation code to the camera or the scanner;",
            "the kiosk shows your details, you confirm, and your badge is printed.", "",
            f"Your invitation code: {invitation.code}", f"Visit number: {invitation.visit_id}",
            f"Valid until: {until:%d %B %Y %H:%M}", "",
            "If the code will not scan, tell reception your visit number.", "",
        ])
        assert invitation.email is not None
        enqueue(conn, channel=Channel.EMAIL, target=invitation.email,
                subject=f"Your visit to {self.site}: {local:%d %B %Y %H:%M}", body=body,
                payload={"type": INVITATION_MAIL, "visit_id": invitation.visit_id}, now=now)

    def get(self, visit_id: str) -> Invitation | None:
        """The invitation of `visit_id` in any state, or None."""
        with self._engine.connect() as conn:
            return store.get_invitation(conn, visit_id)

    def qr(self, visit_id: str) -> bytes:
        """The PNG of an invitation's QR code; InvitationNotFoundError when there is none."""
        found = self.get(visit_id)
        if found is None:
            raise InvitationNotFoundError(f"no invitation {visit_id}")
        return qr_png(found.code)

    def lookup(self, code: str) -> Invitation | None:
        """The invitation a kiosk scanned, only while it is open and within its window; else None."""
        with self._engine.connect() as conn:
            found = store.find_by_code(conn, code.strip())
        return found if found is not None and usable(found, self._clock(), self.tz) else None

    def cancel(self, visit_id: str, by: str) -> Invitation:
        """Cancel an open invitation (audited); InvitationNotFoundError / InvitationClosedError otherwise."""
        now = self._clock()
        with writing(self._engine) as conn:
            cancelled = store.cancel_invitation(conn, visit_id, now)
            append_audit(conn, [AuditRecord(now, by, "invitation.cancelled", f"visit:{visit_id}", {})],
                         key=self._key)
        return cancelled

    def upcoming(self, hours: float) -> list[Invitation]:
        """Open invitations whose window is open now or opens within `hours` (a kiosk's offline cache)."""
        now = self._clock()
        with self._engine.connect() as conn:
            found = store.list_invitations(conn, valid_after=now, expected_before=now + timedelta(days=2,
                                           hours=hours), open_only=True, limit=5000)
        return [i for i in found if valid_from(i, self.tz) < now + timedelta(hours=hours)]

    def pending(self) -> list[Invitation]:
        """Open invitations that have not run out, by expected time."""
        with self._engine.connect() as conn:
            return store.list_invitations(conn, valid_after=self._clock(), open_only=True)

    def on_day(self, day: date) -> list[Invitation]:
        """Every invitation expected on `day` (local to the site), in any state."""
        start, end = day_bounds(day, self.tz)
        with self._engine.connect() as conn:
            return store.list_invitations(conn, expected_from=start, expected_before=end)

    def recent(self, days: int = 30) -> list[Invitation]:
        """Every invitation expected from `days` ago on, in any state."""
        with self._engine.connect() as conn:
            return store.list_invitations(conn, expected_from=self._clock() - timedelta(days=days))

    def host_names(self) -> dict[str, str]:
        """Employee id to name, for showing the host of an invitation."""
        with self._engine.connect() as conn:
            return {p.id: p.name for p in store.employees(conn)}


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)


def mark_invited_check_ins(conn: Connection, events: Sequence[Event], now: datetime) -> int:
    """Batch hook: an invited `visitor.checked_in` marks its invitation used; queues nothing (returns 0)."""
    for event in events:
        data = event.data
        if not isinstance(data, VisitorCheckedIn) or not data.invited:
            continue
        if not store.mark_checked_in(conn, data.visit_id, event.service_time):
            log.info("check-in %s says invited, but no open invitation has that visit id", data.visit_id)
    return 0


def arrival_text(data: VisitorCheckedIn, event: Event, tz: ZoneInfo) -> str:
    """`Ana Lopez from Acme is at reception (checked in 09:12 at kiosk-1)`."""
    who = f"{data.visitor_name} from {data.company}" if data.company else data.visitor_name
    return f"{who} is at reception (checked in {event.service_time.astimezone(tz):%H:%M} at {event.device})"


def queue_host_notices(
    conn: Connection, events: Sequence[Event], now: datetime, *, config: NotifyConfig, site: str,
    tz: ZoneInfo,
) -> int:
    """Batch hook: tell each checked-in visitor's host by e-mail and the `[notify.hosts]` webhooks."""
    queued = 0
    for event in events:
        data = event.data
        if not isinstance(data, VisitorCheckedIn) or not data.host_id:
            continue
        host = store.employee(conn, data.host_id)
        text = arrival_text(data, event, tz)
        payload = {
            "type": ARRIVAL, "site": site, "at": to_rfc3339(event.service_time), "visit_id": data.visit_id,
            "host_id": data.host_id, "host_name": host.name if host else data.host_name,
            "visitor_name": data.visitor_name, "company": data.company,
            "visitor_type": str(data.visitor_type), "kiosk": event.device, "text": text,
        }
        targets = [(Channel.WEBHOOK, url) for url in config.hosts.webhooks]
        if config.hosts.email and host is not None and host.email:
            try:
                targets.insert(0, (Channel.EMAIL, check_address(host.email)))
            except ValueError:
                log.warning("host %s has an e-mail address that cannot be used: %r", host.id, host.email)
        elif host is None:
            log.info("check-in %s names host %s, who is not an employee", data.visit_id, data.host_id)
        subject = one_line(f"[Gatehouse {site}] Your visitor {data.visitor_name} is at reception")
        body = f"{text}.\n\nVisitor type: {data.visitor_type}\nVisit: {data.visit_id}\n"
        for channel, target in targets:
            enqueue(conn, channel=channel, target=target, subject=subject, body=body, payload=payload,
                    now=now)
            queued += 1
    return queued
