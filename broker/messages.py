"""The non-event payloads of the contract: status, delivery watermark and command (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from broker.events import ContractError, format_time

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
            doc["since"] = format_time(self.since)
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
        return cls(
            state=state,
            kind=str(doc.get("kind", "device")),
            since=datetime.fromisoformat(since).astimezone(UTC) if isinstance(since, str) else None,
            detail=str(doc["detail"]) if doc.get("detail") else None,
        )


@dataclass(slots=True, frozen=True)
class Ack:
    """Delivery watermark: every seq up to `seq` of that source is stored."""

    seq: int

    def encode(self) -> bytes:
        """Wire payload."""
        return json.dumps({"seq": self.seq}).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Ack:
        """Parse a watermark payload."""
        seq = _object(payload, "ack").get("seq")
        if type(seq) is not int or seq < 0:
            raise ContractError(f"ack seq must be an integer >= 0, got {seq!r}")
        return cls(seq)


@dataclass(slots=True, frozen=True)
class Command:
    """A command to a device; dropped by the device once `expires` has passed."""

    id: str
    name: str
    expires: datetime
    args: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: datetime) -> bool:
        """True when the command arrived too late to be obeyed."""
        return now >= self.expires

    def encode(self) -> bytes:
        """Wire payload."""
        doc = {"id": self.id, "name": self.name, "expires": format_time(self.expires)}
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
        try:
            parsed = datetime.fromisoformat(expires)
        except ValueError:
            raise ContractError(f"command expires {expires!r} is not RFC 3339") from None
        if parsed.tzinfo is None:  # a zoneless time would be read as the device's local time
            raise ContractError(f"command expires {expires!r} has no time zone")
        when = parsed.astimezone(UTC)
        return cls(cid, name, when, args)


def _object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError as exc:
        raise ContractError(f"{what} payload is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ContractError(f"{what} payload must be a JSON object")
    return doc
