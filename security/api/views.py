"""JSON shapes of people, credentials, rights, alarms, incidents, tokens and the muster list (API and CLI)."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime
from typing import Any

from broker.api_models import (
    AlarmBody,
    AlarmStepBody,
    CredentialBody,
    ImportReportBody,
    ImportRowError,
    IncidentBody,
    IncidentItemBody,
    IncidentSummary,
    KioskInvitation,
    MusterEntry,
    PersonBody,
    RightBody,
    ScheduleBody,
    StaffInvitation,
    TokenBody,
    UpcomingInvitation,
    WatchlistEntryBody,
    WatchlistName,
)
from broker.masking import mask_company, mask_name
from broker.seal import seal
from security.office.access import AccessRight, Credential, OnSite
from security.office.alarms import Alarm
from security.office.incidents import Incident, IncidentItem
from security.storage.directory import schedule_to_json
from security.storage.invitations import Invitation
from security.storage.people import ImportReport, PersonView, mask
from security.storage.tokens import TokenInfo
from security.storage.watchlist import WatchEntry


def iso(moment: datetime | None) -> str | None:
    """An aware time as ISO 8601, or None."""
    return moment.isoformat() if moment is not None else None


def credential_state(cred: Credential, now: datetime) -> str:
    """Whether a credential is valid, revoked, expired or not yet valid at `now`."""
    return cred.state(now)


def _credential(cred: Credential, now: datetime, *, values: bool) -> CredentialBody:
    return CredentialBody(
        value=cred.value if values else mask(cred.value), format=str(cred.format), valid_from=cred.valid_from,
        valid_until=cred.valid_until, revoked_at=cred.revoked_at, state=credential_state(cred, now),
    )


def credential_json(cred: Credential, now: datetime, *, values: bool) -> dict[str, Any]:
    """A credential (`CredentialBody`); without `values` its number is masked to the last 4 digits."""
    return _credential(cred, now, values=values).dump()


def _right(right_id: int, right: AccessRight) -> RightBody:
    return RightBody(id=right_id, door_group=right.door_group, person_id=right.person_id, group=right.group,
                     schedule=ScheduleBody.read(schedule_to_json(right.schedule)))


def right_json(right_id: int, right: AccessRight) -> dict[str, Any]:
    """An access right with its id and schedule (`RightBody`)."""
    return _right(right_id, right).dump()


def person_json(view: PersonView, now: datetime, *, values: bool) -> dict[str, Any]:
    """A person with their credentials (values shown only with `values`) and rights (`PersonBody`)."""
    person = view.person
    return PersonBody(
        id=person.id, name=person.name, kind=str(person.kind), groups=sorted(person.groups),
        email=person.email,
        credentials=[_credential(c, now, values=values) for c in view.credentials],
        rights=[_right(i, r) for i, r in view.rights],
    ).dump()


def import_json(report: ImportReport) -> dict[str, Any]:
    """What a CSV import did, with each failed row (`ImportReportBody`)."""
    return ImportReportBody(
        dry_run=report.dry_run, added=list(report.added), updated=list(report.updated),
        credentials=report.credentials,
        errors=[ImportRowError(row=e.row, reason=e.reason) for e in report.errors],
    ).dump()


def muster_entry(entry: OnSite) -> MusterEntry:
    """One person on the muster list."""
    return MusterEntry(person_id=entry.person_id, name=entry.name, kind=str(entry.kind), since=entry.since,
                       last_door=entry.last_door, company=entry.company, host=entry.host)


def onsite_json(entry: OnSite) -> dict[str, Any]:
    """One person on the muster list (`MusterEntry`)."""
    return muster_entry(entry).dump()


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    """An alarm's state and history (`AlarmBody`)."""
    return AlarmBody(
        id=alarm.id, rule=alarm.rule, key=alarm.key, priority=str(alarm.priority), summary=alarm.summary,
        state=str(alarm.state), count=alarm.count, silent=alarm.silent, raised_at=alarm.raised_at,
        last_seen=alarm.last_seen, shelved_until=alarm.shelved_until, escalation_level=alarm.escalation_level,
        cause=list(alarm.cause),
        history=[AlarmStepBody(action=t.action, by=t.by, at=t.at, note=t.note) for t in alarm.history],
        normal=alarm.normal,
    ).dump()


def _item(item: IncidentItem) -> IncidentItemBody:
    """One incident item: an alarm, event or snapshot (ref; a snapshot's path in note) or a note."""
    return IncidentItemBody(kind=str(item.kind), ref=item.ref, note=item.note, by=item.by, at=item.at)


def incident_json(incident: Incident, *, items: bool = True) -> dict[str, Any]:
    """An incident with its item count (`IncidentSummary`) and, with `items`, its items (`IncidentBody`)."""
    summary = IncidentSummary(
        id=incident.id, number=incident.number, title=incident.title, state=incident.state,
        opened_by=incident.opened_by, opened_at=incident.opened_at, closed_by=incident.closed_by,
        closed_at=incident.closed_at, outcome=incident.outcome, item_count=len(incident.items),
    )
    if not items:
        return summary.dump()
    return IncidentBody(**dict(summary), items=[_item(i) for i in incident.items]).dump()


def token_json(info: TokenInfo) -> dict[str, Any]:
    """A stored token without its secret (`TokenBody`)."""
    return TokenBody(id=info.id, name=info.name, role=info.role, created_at=info.created_at,
                     revoked_at=info.revoked_at).dump()


_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "ss",
                               "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "\u0131": "i"})  # dotless i


def fold(text: str) -> str:
    """`text` for matching: accents dropped (Łódź: lodz), case folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def staff_invitation(
    invitation: Invitation, host_name: str | None, *, valid_from: datetime
) -> StaffInvitation:
    """An invitation as guards and managers see it, with its code and state."""
    return StaffInvitation(
        visit_id=invitation.visit_id, code=invitation.code, visitor_name=invitation.visitor_name,
        company=invitation.company, email=invitation.email, visitor_type=invitation.visitor_type,
        host_id=invitation.host_id, host_name=host_name, expected_at=invitation.expected_at,
        valid_from=valid_from, valid_until=invitation.valid_until, state=invitation.state,
        created_by=invitation.created_by, created_at=invitation.created_at,
        cancelled_at=invitation.cancelled_at, checked_in_at=invitation.checked_in_at,
    )


def invitation_json(invitation: Invitation, host_name: str | None, *, valid_from: datetime) -> dict[str, Any]:
    """An invitation as guards and managers see it (`StaffInvitation`)."""
    return staff_invitation(invitation, host_name, valid_from=valid_from).dump()


def kiosk_invitation_json(
    invitation: Invitation, host_name: str | None, *, valid_from: datetime, cache: bool
) -> dict[str, Any]:
    """An invitation as a kiosk needs it for the confirm screen (`KioskInvitation`).

    With `cache` (the upcoming list for a kiosk's offline cache, `UpcomingInvitation`) the list reaches
    every kiosk token, so the code is given only as its SHA-256 (`code_sha256`, hex), the e-mail is left
    out, the name and company are masked, and the full name and company are `sealed` under the code:
    only a kiosk shown the code can read them (broker.seal).
    """
    common = {
        "visit_id": invitation.visit_id, "visitor_type": invitation.visitor_type,
        "host_id": invitation.host_id, "host_name": host_name, "expected_at": invitation.expected_at,
        "valid_from": valid_from, "valid_until": invitation.valid_until,
    }
    if not cache:
        return KioskInvitation(**common, visitor_name=invitation.visitor_name, company=invitation.company,
                               email=invitation.email).dump()
    return UpcomingInvitation(
        **common, visitor_name=mask_name(invitation.visitor_name), company=mask_company(invitation.company),
        code_sha256=hashlib.sha256(invitation.code.strip().encode("utf-8")).hexdigest(),
        sealed=seal(invitation.code, {"visitor_name": invitation.visitor_name,
                                      "company": invitation.company}),
    ).dump()


def watch_json(entry: WatchEntry, *, full: bool) -> dict[str, Any]:
    """A watchlist entry (`WatchlistEntryBody`); without `full` (kiosks) only its id, name and aliases."""
    if not full:
        return WatchlistName(id=entry.id, name=entry.name, aliases=list(entry.aliases)).dump()
    return WatchlistEntryBody(id=entry.id, name=entry.name, aliases=list(entry.aliases), reason=entry.reason,
                              added_by=entry.added_by, added_at=entry.added_at,
                              removed_at=entry.removed_at).dump()
