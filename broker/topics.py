"""The MQTT topic map of the Gatehouse contract: build and parse every topic, pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "gatehouse"
NAME_RE = re.compile(r"^[a-z0-9-]{1,64}$")
RESERVED_DEVICES = frozenset({"alarm"})
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class TopicError(ValueError):
    """A topic or topic part that the contract does not allow."""


class Kind(StrEnum):
    """What a topic carries."""

    EVENT = "event"
    STATUS = "status"
    COMMAND = "command"
    ACK = "ack"
    ALARM = "alarm"


@dataclass(slots=True, frozen=True)
class Topic:
    """A parsed topic: site, device (or alarm id), kind and the event type or command name."""

    site: str
    device: str
    kind: Kind
    name: str = ""


def check_name(value: str, what: str) -> str:
    """Return `value` if it is a valid site or device name, else raise TopicError naming `what`."""
    if not NAME_RE.match(value):
        raise TopicError(f"{what} {value!r} must be 1-64 characters of a-z, 0-9 and '-'")
    return value


def check_type(value: str) -> str:
    """Return `value` if it is a dotted event type such as 'badge.read'."""
    if not TYPE_RE.match(value):
        raise TopicError(f"event type {value!r} must be dotted lower-case words like 'badge.read'")
    return value


def check_device(value: str) -> str:
    """Return `value` if it is a valid device name that does not shadow a reserved subtree."""
    check_name(value, "device")
    if value in RESERVED_DEVICES:
        raise TopicError(f"device name {value!r} is reserved by the contract")
    return value


def source(site: str, device: str) -> str:
    """The CloudEvents `source` of a device: its topic prefix."""
    return f"{ROOT}/{check_name(site, 'site')}/{check_device(device)}"


def event(site: str, device: str, event_type: str) -> str:
    """Topic of one event of `event_type` written by `device`."""
    return f"{source(site, device)}/event/{check_type(event_type)}"


def status(site: str, device: str) -> str:
    """Retained availability topic of `device`."""
    return f"{source(site, device)}/status"


def command(site: str, device: str, name: str) -> str:
    """Topic of command `name` sent to `device`."""
    return f"{source(site, device)}/command/{check_name(name, 'command')}"


def ack(site: str, device: str) -> str:
    """Retained delivery watermark topic of `device`."""
    return f"{source(site, device)}/ack"


def alarm(site: str, alarm_id: str) -> str:
    """Retained state topic of one alarm."""
    return f"{ROOT}/{check_name(site, 'site')}/alarm/{check_name(alarm_id, 'alarm id')}"


def all_events(site: str = "+") -> str:
    """Subscription filter for every event of `site` (default: every site)."""
    return f"{ROOT}/{site}/+/event/#"


def all_statuses(site: str = "+") -> str:
    """Subscription filter for every device status of `site` (default: every site)."""
    return f"{ROOT}/{site}/+/status"


def all_alarms(site: str = "+") -> str:
    """Subscription filter for every alarm of `site`."""
    return f"{ROOT}/{site}/alarm/+"


def parse(topic: str) -> Topic:
    """Parse a concrete topic of the contract; raise TopicError saying what is wrong."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != ROOT:
        raise TopicError(f"topic {topic!r} is not under '{ROOT}/{{site}}/'")
    site = check_name(parts[1], "site")
    if parts[2] == "alarm":
        if len(parts) != 4:
            raise TopicError(f"alarm topic {topic!r} must be {ROOT}/{{site}}/alarm/{{id}}")
        return Topic(site, check_name(parts[3], "alarm id"), Kind.ALARM)
    device = check_device(parts[2])
    rest = parts[3:]
    if rest == ["status"]:
        return Topic(site, device, Kind.STATUS)
    if rest == ["ack"]:
        return Topic(site, device, Kind.ACK)
    if len(rest) == 2 and rest[0] == "event":
        return Topic(site, device, Kind.EVENT, check_type(rest[1]))
    if len(rest) == 2 and rest[0] == "command":
        return Topic(site, device, Kind.COMMAND, check_name(rest[1], "command"))
    raise TopicError(f"topic {topic!r} has no meaning in the contract")
