"""The CloudEvents 1.0 envelope with a per-source `seq`, and the codec for it (pure)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

from pydantic import ValidationError

from broker import topics
from broker.schemas import SCHEMAS, Data

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
MAX_PAYLOAD = 256 * 1024
MAX_SEQ = 2**63 - 1
MAX_DEPTH = 32
"""How deeply a payload's JSON may nest objects and arrays (an event's envelope and data use 3)."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""The times the contract accepts (UTC, LATEST excluded): room for any arithmetic on them."""
INCARNATION = re.compile(r"^[A-Za-z0-9-]{1,64}$")
"""An outbox's incarnation: a random id made with the outbox (the CloudEvents extension `incarnation`)."""
_ENVELOPE_KEYS = frozenset(
    {"specversion", "id", "source", "type", "time", "seq", "datacontenttype", "data", "incarnation"}
)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
_JSON_TOKEN = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


class ContractError(ValueError):
    """A message that breaks the contract; the text says exactly what is wrong.

    When the envelope was sound and only the type or the data is wrong, `source` and `seq` say
    which event it was, so the central service can let the watermark pass it.
    """

    def __init__(
        self, message: str, *, source: str | None = None, seq: int | None = None, incarnation: str = ""
    ) -> None:
        """Say what is wrong; optionally which (source, incarnation, seq) it was."""
        super().__init__(message)
        self.source, self.seq, self.incarnation = source, seq, incarnation


class ShapeError(ContractError):
    """A payload too large or nested too deeply to keep whole: its dead letter keeps a prefix."""


def parse_time(value: object, what: str = "time") -> datetime:
    """The contract's one RFC 3339 parser: a zoned date-time within EARLIEST..LATEST, in UTC.

    Raise ContractError naming `what` for anything else: no zone, a date that does not exist, or
    a moment that falls outside the range once moved to UTC.
    """
    if not isinstance(value, str):
        raise ContractError(f"{what} must be an RFC 3339 string, got {type(value).__name__}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ContractError(f"{what} {value[:64]!r} is not RFC 3339")
    if not match.group(8) and not match.group(9):  # a zoneless time would be read as local time
        raise ContractError(f"{what} {value!r} has no time zone")
    try:
        # a leap second is the last moment of its minute; any other text is now known to be
        # RFC 3339, which fromisoformat reads (fast, in C)
        leap = match.group(6) == "60"
        parsed = (_leap_second(match) if leap else datetime.fromisoformat(value.upper())).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ContractError(f"{what} {value!r} is not a valid moment: {exc}") from None
    if not EARLIEST <= parsed < LATEST:
        raise ContractError(f"{what} {value!r} is out of range ({EARLIEST.year} to {LATEST.year - 1})")
    return parsed


def _leap_second(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute = (int(g) for g in match.group(1, 2, 3, 4, 5))
    zone = UTC
    if match.group(9):
        sign = 1 if match.group(9) == "+" else -1
        zone = timezone(sign * timedelta(hours=int(match.group(10)), minutes=int(match.group(11))))
    return datetime(year, month, day, hour, minute, 59, 999_999, tzinfo=zone)


def json_depth(payload: bytes, limit: int = MAX_DEPTH) -> int:
    """How deeply `payload`'s JSON nests, counted without recursion; stops once past `limit`."""
    depth = deepest = 0
    in_string = False
    for token in _JSON_TOKEN.finditer(payload):
        char = token.group()
        if char == b'"':
            in_string = not in_string
        elif in_string or len(char) == 2:
            continue
        elif char in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def check_shape(payload: bytes, what: str = "") -> None:
    """Raise ShapeError when `payload` is over MAX_PAYLOAD bytes or nests deeper than MAX_DEPTH."""
    label = f"{what} payload" if what else "payload"
    if len(payload) > MAX_PAYLOAD:
        raise ShapeError(f"{label} is {len(payload)} bytes, the limit is {MAX_PAYLOAD}")
    # nearly every payload has too few brackets to go deeper than the limit: no need to count
    if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH and json_depth(payload) > MAX_DEPTH:
        raise ShapeError(f"{label} nests deeper than {MAX_DEPTH} levels")


def load_json(payload: bytes, what: str = "") -> object:
    """Decode a JSON payload of bounded size and depth; ContractError (or ShapeError) says why not."""
    check_shape(payload, what)
    label = f"{what} payload" if what else "payload"
    try:
        return json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(f"{label} is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except RecursionError:
        raise ShapeError(f"{label} nests too deeply") from None
    except ValueError as exc:
        raise ContractError(f"{label} is not JSON: {exc}") from exc


@dataclass(slots=True, frozen=True)
class Event:
    """One event as the contract defines it; `data` is already validated."""

    id: str
    source: str
    type: str
    time: datetime
    seq: int
    data: Data
    incarnation: str = ""
    """The source outbox's incarnation ('' for one from before incarnations): part of the identity."""
    received_at: datetime | None = field(default=None, compare=False)
    """When the central service received it (its own clock); None until then."""

    @property
    def service_time(self) -> datetime:
        """The service's receive time when known, else the device's time: what decisions go by."""
        return self.received_at if self.received_at is not None else self.time

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
    incarnation: str = "",
) -> Event:
    """Build a valid event; raise ContractError if `data` does not fit `event_type`."""
    schema = SCHEMAS.get(event_type)
    if schema is None:
        raise ContractError(f"unknown event type {event_type!r}")
    if type(data) is not schema:
        raise ContractError(f"{event_type} needs {schema.__name__} data, got {type(data).__name__}")
    if seq < 1:
        raise ContractError(f"seq must be >= 1, got {seq}")
    if incarnation and not INCARNATION.match(incarnation):
        raise ContractError(f"incarnation must match {INCARNATION.pattern}, got {incarnation!r}")
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
        incarnation=incarnation,
    )


def to_rfc3339(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a 'Z', as the contract writes times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_dict(event: Event) -> dict[str, Any]:
    """The JSON-ready structured CloudEvents document of `event`."""
    doc = {
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": to_rfc3339(event.time),
        "seq": event.seq,
        "datacontenttype": CONTENT_TYPE,
        "data": event.data.model_dump(mode="json", exclude_none=True),
    }
    if event.incarnation:
        doc["incarnation"] = event.incarnation
    return doc


def encode(event: Event) -> bytes:
    """Serialise `event` to its wire payload; raise ContractError if it is over the size limit."""
    payload = json.dumps(to_dict(event), separators=(",", ":"), ensure_ascii=False).encode()
    if len(payload) > MAX_PAYLOAD:
        raise ContractError(f"{event.type} event is {len(payload)} bytes, the limit is {MAX_PAYLOAD}")
    return payload


def decode(payload: bytes, topic: str | None = None, *, received_at: datetime | None = None) -> Event:
    """Parse and validate a wire payload; with `topic`, also check it matches the payload.

    A payload over MAX_PAYLOAD bytes or deeper than MAX_DEPTH raises ShapeError (a ContractError).
    """
    return from_dict(load_json(payload), topic, received_at=received_at)


def from_dict(doc: object, topic: str | None = None, *, received_at: datetime | None = None) -> Event:
    """Validate a decoded JSON document as an event (`received_at`: when the service got it)."""
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
    when = parse_time(doc.get("time"))
    incarnation = doc.get("incarnation", "")
    if not isinstance(incarnation, str) or (incarnation and not INCARNATION.match(incarnation)):
        raise ContractError(f"incarnation must match {INCARNATION.pattern}, got {incarnation!r}")
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
    fail = partial(ContractError, source=source, seq=seq, incarnation=incarnation)
    schema = SCHEMAS.get(event_type)
    if schema is None:
        raise fail(f"unknown event type {event_type!r}")
    raw = doc.get("data")
    if not isinstance(raw, dict):
        raise fail(f"data must be a JSON object, got {type(raw).__name__}")
    try:
        data = schema.model_validate(raw)
    except ValidationError as exc:
        raise fail(f"{event_type} data: {_explain(exc)}") from None
    return Event(event_id, source, event_type, when, seq, data, incarnation, received_at)


def _text(doc: dict[str, Any], key: str, limit: int) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ContractError(f"{key} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise ContractError(f"{key} is longer than {limit} characters")
    return value


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
