"""The non-event payloads of the contract: status, delivery watermark and command (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from broker.commands import Args, parse_args
from broker.events import INCARNATION, ContractError, load_json, parse_time, to_rfc3339

State = Literal["online", "offline"]


@dataclass(slots=True, frozen=True)
class Status:
    """Retained availability of a device; its Last Will says offline."""

    state: State
    kind: str = "device"
    since: datetime | None = None
    detail: str | None = None

    def encode(self) -> bytes:
        """Wire payload."""
        doc: dict[str, Any] = {"state": self.state, "kind": self.kind}
        if self.since is not None:
            doc["since"] = to_rfc3339(self.since)
        if self.detail:
            doc["detail"] = self.detail
        return json.dumps(doc).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Status:
        """Parse a status payload; raise ContractError if it is not one."""
        doc = _object(payload, "status")
        state = doc.get("state")
        if state not in ("online", "offline"):
            raise ContractError(f"status state must be 'online' or 'offline', got {state!r}")
        since = doc.get("since")
        kind, detail = doc.get("kind", "device"), doc.get("detail")
        if not isinstance(kind, str) or not 1 <= len(kind) <= 64:
            raise ContractError(f"status kind must be a string of 1 to 64 characters, got {str(kind)[:80]!r}")
        return cls(
            state=state,
            kind=kind,
            since=parse_time(since, "status since") if since is not None else None,
            detail=str(detail)[:500] if detail else None,
        )


@dataclass(slots=True, frozen=True)
class Ack:
    """Delivery watermark: every seq up to `seq` of that source's `incarnation` is stored.

    An ack without an incarnation is for a source from before incarnations ('').
    """

    seq: int
    incarnation: str = ""

    def encode(self) -> bytes:
        """Wire payload."""
        doc: dict[str, Any] = {"seq": self.seq}
        if self.incarnation:
            doc["incarnation"] = self.incarnation
        return json.dumps(doc).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Ack:
        """Parse a watermark payload."""
        doc = _object(payload, "ack")
        seq, incarnation = doc.get("seq"), doc.get("incarnation", "")
        if type(seq) is not int or seq < 0:
            raise ContractError(f"ack seq must be an integer >= 0, got {seq!r}")
        if not isinstance(incarnation, str) or (incarnation and not INCARNATION.match(incarnation)):
            raise ContractError(f"ack incarnation must match {INCARNATION.pattern}, got {incarnation!r}")
        return cls(seq, incarnation)


@dataclass(slots=True, frozen=True)
class Command:
    """A command to a device; dropped by the device once `expires` has passed.

    `args` is the wire form; `typed_args()` is its schema in `broker.commands` (checked on decode).
    """

    id: str
    name: str
    expires: datetime
    args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls, command_id: str, expires: datetime, args: Args) -> Command:
        """The command whose name and args `args` gives."""
        return cls(command_id, args.NAME, expires, args.wire())

    def typed_args(self) -> Args:
        """The args as their command's schema; ContractError if they do not fit it."""
        return parse_args(self.name, self.args)

    def expired(self, now: datetime) -> bool:
        """True when the command arrived too late to be obeyed."""
        return now >= self.expires

    def encode(self) -> bytes:
        """Wire payload."""
        doc = {"id": self.id, "name": self.name, "expires": to_rfc3339(self.expires)}
        return json.dumps({**doc, "args": self.args}).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Command:
        """Parse a command payload."""
        doc = _object(payload, "command")
        cid, name, expires = doc.get("id"), doc.get("name"), doc.get("expires")
        if not isinstance(cid, str) or not isinstance(name, str) or not isinstance(expires, str):
            raise ContractError("command needs string fields id, name and expires")
        args = doc.get("args", {})
        if not isinstance(args, dict):
            raise ContractError("command args must be an object")
        command = cls(cid, name, parse_time(expires, "command expires"), args)
        command.typed_args()  # an unknown command, or args that do not fit its schema, is refused here
        return command


AlarmStateName = Literal["unacknowledged", "acknowledged", "shelved", "resolved"]
ALARM_STATES: tuple[AlarmStateName, ...] = ("unacknowledged", "acknowledged", "shelved", "resolved")
PRIORITIES = ("critical", "high", "medium", "low")


@dataclass(slots=True, frozen=True)
class AlarmStep:
    """One transition in an alarm's history, as the retained alarm topic shows it."""

    action: str
    by: str
    at: datetime
    note: str | None = None


@dataclass(slots=True, frozen=True)
class AlarmStatus:
    """Retained state of one open alarm on `gatehouse/{site}/alarm/{id}` (an empty payload clears it)."""

    id: str
    rule: str
    priority: str
    summary: str
    state: AlarmStateName
    raised_at: datetime
    updated_at: datetime
    count: int = 1
    silent: bool = False
    escalation_level: int = 0
    shelved_until: datetime | None = None
    cause: tuple[str, ...] = ()
    history: tuple[AlarmStep, ...] = ()
    procedure: str | None = None
    """What the site's procedure says to do for this alarm's rule (absent in older payloads)."""
    cameras: tuple[str, ...] = ()
    """Camera devices showing the alarm's door or zone, whose latest snapshot a station may ask for."""
    normal: bool = False
    """The condition has cleared (returned to normal) while the alarm waits for acknowledgement."""

    def encode(self) -> bytes:
        """Wire payload."""
        doc: dict[str, Any] = {
            "id": self.id, "rule": self.rule, "priority": self.priority, "summary": self.summary,
            "state": self.state, "raised_at": to_rfc3339(self.raised_at),
            "updated_at": to_rfc3339(self.updated_at), "count": self.count, "silent": self.silent,
            "escalation_level": self.escalation_level, "cause": list(self.cause),
            "history": [
                {"action": h.action, "by": h.by, "at": to_rfc3339(h.at)}
                | ({"note": h.note} if h.note else {})
                for h in self.history
            ],
        }
        if self.shelved_until is not None:
            doc["shelved_until"] = to_rfc3339(self.shelved_until)
        if self.procedure is not None:
            doc["procedure"] = self.procedure
        if self.cameras:
            doc["cameras"] = list(self.cameras)
        if self.normal:
            doc["normal"] = True
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> AlarmStatus:
        """Parse a retained alarm payload; raise ContractError if it is not one."""
        doc = _object(payload, "alarm")
        try:
            state = doc["state"]
            priority = doc["priority"]
            if state not in ALARM_STATES:
                raise ContractError(f"alarm state must be one of {', '.join(ALARM_STATES)}, got {state!r}")
            if priority not in PRIORITIES:
                known = ", ".join(PRIORITIES)
                raise ContractError(f"alarm priority must be one of {known}, got {priority!r}")
            history = tuple(
                AlarmStep(str(h["action"]), str(h["by"]), _time(h["at"], "history at"),
                          str(h["note"]) if h.get("note") else None)
                for h in doc.get("history", ())
            )
            until = doc.get("shelved_until")
            procedure, cameras = doc.get("procedure"), doc.get("cameras", [])
            if procedure is not None and not isinstance(procedure, str):
                raise ContractError("alarm procedure must be text")
            if not isinstance(cameras, list) or not all(isinstance(c, str) for c in cameras):
                raise ContractError("alarm cameras must be a list of device names")
            return cls(
                id=str(doc["id"]), rule=str(doc["rule"]), priority=priority, summary=str(doc["summary"]),
                state=state, raised_at=_time(doc["raised_at"], "raised_at"),
                updated_at=_time(doc["updated_at"], "updated_at"), count=int(doc.get("count", 1)),
                silent=bool(doc.get("silent", False)), escalation_level=int(doc.get("escalation_level", 0)),
                shelved_until=_time(until, "shelved_until") if until is not None else None,
                cause=tuple(str(c) for c in doc.get("cause", ())), history=history,
                procedure=procedure, cameras=tuple(cameras), normal=doc.get("normal") is True,
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            if isinstance(exc, ContractError):
                raise
            raise ContractError(f"alarm payload is incomplete or mistyped: {exc!r}") from None


def _time(value: Any, what: str) -> datetime:
    return parse_time(value, f"alarm {what}")


def _object(payload: bytes, what: str) -> dict[str, Any]:
    doc = load_json(payload, what)
    if not isinstance(doc, dict):
        raise ContractError(f"{what} payload must be a JSON object")
    return doc
