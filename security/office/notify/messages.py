"""What an escalation says: the e-mail's subject and body, and the webhook's JSON payload (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from broker.events import to_rfc3339
from security.office.alarms import Alarm
from security.storage.notifications import MAX_SUBJECT

PAYLOAD_TYPE = "alarm.escalated"


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
