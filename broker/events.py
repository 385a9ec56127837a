"""The CloudEvents 1.0 envelope with a per-source `seq`, and the codec for it (pure)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from broker import topics
from broker.schemas import SCHEMAS, Data

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
MAX_PAYLOAD = 256 * 1024
MAX_SEQ = 2**63 - 1
_ENVELOPE_KEYS = frozenset(
    {"specversion", "id", "source", "type", "time", "seq", "datacontenttype", "data"}
)


class ContractError(ValueError):
    """A message that breaks the contract; the text says exactly what is wrong.

    When the envelope was sound and only the type or the data is wrong, `source` and `seq` say
    which event it was, so the central service can let the watermark pass it.
    """

    def __init__(self, message: str, *, source: str | None = None, seq: int | None = None) -> None:
        """Say what is wrong; optionally which (source, seq) it was."""
        super().__init__(message)
        self.source, self.seq = source, seq


@dataclass(slots=True, frozen=True)
class Event:
    """One event as the contract defines it; `data` is already validated."""

    id: str
    source: str
    type: str
    time: datetime
    seq: int
    data: Data

    @property
    def site(self) -> str:
        """The site part of `source`."""
        return self.source.split("/")[1]

    @property
    def device(self) -> str:
        """The device part of `source`."""
        return self.source.split("/")[2]

    @property
    def topic(self) -> str:
        """The topic this event is published on."""
        return f"{self.source}/event/{self.type}"


def make_event(
    site: str,
    device: str,
    event_type: str,
    seq: int,
    data: Data,
    *,
    time: datetime | None = None,
    event_id: str | None = None,
) -> Event:
    """Build a valid event; raise ContractError if `data` does not fit `event_type`."""
    schema = SCHEMAS.get(event_type)
    if schema is None:
        raise ContractError(f"unknown event type {event_type!r}")
    if type(data) is not schema:
        raise ContractError(f"{event_type} needs {schema.__name__} data, got {type(data).__name__}")
    if seq < 1:
        raise ContractError(f"seq must be >= 1, got {seq}")
    try:
        src = topics.source(site, device)
    except topics.TopicError as exc:
        raise ContractError(str(exc)) from exc
    return Event(
        id=event_id or str(uuid.uuid4()),
        source=src,
        type=event_type,
        time=(time or datetime.now(UTC)).astimezone(UTC),
        seq=seq,
        data=data,
    )


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a 'Z', as the contract writes times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_dict(event: Event) -> dict[str, Any]:
    """The JSON-ready structured CloudEvents document of `event`."""
    return {
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": format_time(event.time),
        "seq": event.seq,
        "datacontenttype": CONTENT_TYPE,
        "data": event.data.model_dump(mode="json", exclude_none=True),
    }


def encode(event: Event) -> bytes:
    """Serialise `event` to its wire payload; raise ContractError if it is over the size limit."""
    payload = json.dumps(to_dict(event), separators=(",", ":"), ensure_ascii=False).encode()
    if len(payload) > MAX_PAYLOAD:
        raise ContractError(f"{event.type} event is {len(payload)} bytes, the limit is {MAX_PAYLOAD}")
    return payload


def decode(payload: bytes, topic: str | None = None) -> Event:
    """Parse and validate a wire payload; with `topic`, also check it matches the payload."""
    if len(payload) > MAX_PAYLOAD:
        raise ContractError(f"payload is {len(payload)} bytes, the limit is {MAX_PAYLOAD}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except ValueError as exc:
        raise ContractError(f"payload is not JSON: {exc}") from exc
    return from_dict(doc, topic)


def from_dict(doc: object, topic: str | None = None) -> Event:
    """Validate a decoded JSON document as an event."""
    if not isinstance(doc, dict):
        raise ContractError(f"payload must be a JSON object, got {type(doc).__name__}")
    unknown = doc.keys() - _ENVELOPE_KEYS
    if unknown:
        raise ContractError(f"unknown envelope field(s): {', '.join(sorted(map(str, unknown)))}")
    if doc.get("specversion") != SPEC_VERSION:
        raise ContractError(f"specversion must be '1.0', got {doc.get('specversion')!r}")
    if doc.get("datacontenttype", CONTENT_TYPE) != CONTENT_TYPE:
        raise ContractError(f"datacontenttype must be {CONTENT_TYPE!r}")
    event_id = _text(doc, "id", 128)
    source = _text(doc, "source", 200)
    event_type = _text(doc, "type", 100)
    seq = doc.get("seq")
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise ContractError(f"seq must be an integer from 1 to 2^63-1, got {seq!r}")
    when = _time(doc.get("time"))
    try:
        topics.check_type(event_type)
        _, site, device = _split_source(source)
        topics.check_name(site, "site")
        topics.check_device(device)
    except topics.TopicError as exc:
        raise ContractError(str(exc)) from exc
    if topic is not None and topic != f"{source}/event/{event_type}":
        raise ContractError(
            f"topic {topic!r} does not match source {source!r} and type {event_type!r}"
        )
    schema = SCHEMAS.get(event_type)
    if schema is None:
        raise ContractError(f"unknown event type {event_type!r}", source=source, seq=seq)
    raw = doc.get("data")
    if not isinstance(raw, dict):
        raise ContractError(f"data must be a JSON object, got {type(raw).__name__}", source=source, seq=seq)
    try:
        data = schema.model_validate(raw)
    except ValidationError as exc:
        raise ContractError(f"{event_type} data: {_explain(exc)}", source=source, seq=seq) from None
    return Event(event_id, source, event_type, when, seq, data)


def _text(doc: dict[str, Any], key: str, limit: int) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ContractError(f"{key} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ContractError(f"{key} is longer than {limit} characters")
    return value


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ContractError(f"time must be an RFC 3339 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ContractError(f"time {value!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise ContractError(f"time {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _split_source(source: str) -> tuple[str, str, str]:
    parts = source.split("/")
    if len(parts) != 3 or parts[0] != topics.ROOT:
        raise ContractError(f"source {source!r} must be '{topics.ROOT}/{{site}}/{{device}}'")
    return parts[0], parts[1], parts[2]


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(data)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
