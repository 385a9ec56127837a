"""What an escalation says: the e-mail's subject and body, and the webhook's JSON payload (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from broker.events import to_rfc3339
from security.office.alarms import Alarm
from security.storage.notifications import MAX_SUBJECT

PAYLOAD_TYPE = "alarm.escalated"
ATTACHMENTS = "attachments"
"""The payload key of an e-mail's attached files (a list of {"filename", "content_type", "text"})."""
HTML = "html"
"""The payload key of an e-mail's HTML alternative of its plain-text body."""
FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
CONTENT_TYPES = ("text/csv", "text/plain")


@dataclass(frozen=True, slots=True)
class Message:
    """One notification's text and machine-readable payload; every channel stores all three."""

    subject: str
    body: str
    payload: dict[str, Any]


def one_line(text: str) -> str:
    """`text` with line breaks and runs of spaces folded into single spaces (safe in a mail header)."""
    return " ".join(text.split())


def _clock(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _minutes(since: datetime, now: datetime) -> str:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    return "under a minute" if minutes < 1 else f"{minutes} min"


def escalation_subject(alarm: Alarm, level: int, site: str) -> str:
    """`[Gatehouse lobby] HIGH alarm a-7 not acknowledged (level 2): <summary>`, at most 300 characters."""
    text = (
        f"[Gatehouse {site}] {alarm.priority.upper()} alarm {alarm.id} not acknowledged "
        f"(level {level}): {one_line(alarm.summary)}"
    )
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1] + "…"


def escalation_body(alarm: Alarm, level: int, roles: Sequence[str], site: str, at: datetime) -> str:
    """Plain text for a phone screen: what, how urgent, since when, and what to do."""
    lines = [
        f"{alarm.priority.upper()} alarm not acknowledged for {_minutes(alarm.raised_at, at)}.",
        "",
        one_line(alarm.summary),
        "",
        f"Priority:  {alarm.priority}",
        f"Raised:    {_clock(alarm.raised_at)}",
        f"Escalated: {_clock(at)} (level {level})",
        f"State:     {alarm.state}",
        f"Count:     {alarm.count}" + (f" (last {_clock(alarm.last_seen)})" if alarm.last_seen else ""),
        f"Site:      {site}",
        f"Alarm:     {alarm.id} (rule {alarm.rule})",
        f"Sent to:   {', '.join(roles) or '-'}",
        "",
        "Acknowledge it at a guard station or the manager console to stop further escalation.",
        "",
    ]
    return "\n".join(lines)


def escalation_payload(
    alarm: Alarm, level: int, roles: Sequence[str], site: str, at: datetime
) -> dict[str, Any]:
    """The webhook document: `{"type": "alarm.escalated", "site", "at", "level", "roles", "alarm": {...}}`."""
    return {
        "type": PAYLOAD_TYPE,
        "site": site,
        "at": to_rfc3339(at),
        "level": level,
        "roles": list(roles),
        "alarm": {
            "id": alarm.id,
            "rule": alarm.rule,
            "priority": str(alarm.priority),
            "summary": alarm.summary,
            "state": str(alarm.state),
            "count": alarm.count,
            "silent": alarm.silent,
            "raised_at": to_rfc3339(alarm.raised_at),
            "last_seen": to_rfc3339(alarm.last_seen) if alarm.last_seen else None,
            "escalation_level": alarm.escalation_level,
            "cause": list(alarm.cause),
        },
    }


def escalation_message(alarm: Alarm, level: int, roles: Sequence[str], site: str, at: datetime) -> Message:
    """Subject, body and payload telling `roles` that `alarm` escalated to `level` at `at`."""
    return Message(
        escalation_subject(alarm, level, site),
        escalation_body(alarm, level, roles, site, at),
        escalation_payload(alarm, level, roles, site, at),
    )


@dataclass(frozen=True, slots=True)
class Attachment:
    """A text file attached to an e-mail: its name, its type (text/csv or text/plain) and its text."""

    filename: str
    content_type: str
    text: str

    def __post_init__(self) -> None:
        """Refuse a file name that is not plain (`visits-2026-12-04.csv`) and other types."""
        if not isinstance(self.filename, str) or not FILENAME.fullmatch(self.filename):
            raise ValueError(f"an attachment's name is 1 to 100 of A-Z, a-z, 0-9, '.', '_', '-', "
                             f"not {self.filename!r}")
        if self.content_type not in CONTENT_TYPES:
            raise ValueError(f"an attachment is one of {', '.join(CONTENT_TYPES)}, not {self.content_type!r}")
        if not isinstance(self.text, str):
            raise ValueError("an attachment's text must be text")


def attachments_payload(attachments: Iterable[Attachment]) -> list[dict[str, str]]:
    """`attachments` as the JSON a notification's payload keeps."""
    return [{"filename": a.filename, "content_type": a.content_type, "text": a.text} for a in attachments]


def attachments_of(payload: Mapping[str, object]) -> tuple[Attachment, ...]:
    """The attachments a stored payload holds (none without the key); ValueError if they are malformed."""
    found = payload.get(ATTACHMENTS, [])
    if not isinstance(found, list):
        raise ValueError("the payload's attachments are not a list")
    out = []
    for item in found:
        if not isinstance(item, dict) or set(item) != {"filename", "content_type", "text"}:
            raise ValueError("an attachment needs exactly filename, content_type and text")
        out.append(Attachment(item["filename"], item["content_type"], item["text"]))
    return tuple(out)
