"""People, badges, rights and CSV files built from what a client sent or a person typed (pure).

The HTTP API and the console's forms take the same fields; both build through these functions, so a
field is checked once, and a refusal (`FieldError`) names the field it is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from broker.safe_text import text_fault
from security.office.access.credentials import CredentialFormat
from security.office.access.model import AccessRight, Credential, Person, PersonKind
from security.office.access.schedule import WeeklySchedule, schedule_from_doc


class FieldError(ValueError):
    """A field that cannot be taken; the text starts with the field's name."""


def person_from_fields(
    person_id: str, name: str, kind: str | None, groups: Iterable[str], email: str | None, *,
    default: PersonKind = PersonKind.EMPLOYEE,
) -> Person:
    """A person (of `default` kind unless `kind` says); FieldError naming the bad field."""
    kind_text = kind or str(default)
    try:
        chosen = PersonKind(kind_text)
    except ValueError:
        raise FieldError(f"kind: must be employee or visitor, got {kind_text!r}") from None
    try:
        return Person(person_id, name.strip(), chosen, frozenset(groups), email)
    except ValueError as exc:
        raise FieldError(f"id: {exc}") from None


def credential_from_fields(
    person_id: str, value: str, fmt: str, valid_from: datetime | None, valid_until: datetime | None,
) -> Credential:
    """A badge of `person_id` in a named format; FieldError naming the bad field."""
    try:
        chosen = CredentialFormat(fmt.lower())
    except ValueError:
        choices = ", ".join(str(f) for f in CredentialFormat)
        raise FieldError(f"format: must be one of {choices}, got {fmt!r}") from None
    try:
        return Credential(value, chosen, person_id, valid_from, valid_until)
    except ValueError as exc:
        field = "valid_until" if "valid_until" in str(exc) else "value"
        raise FieldError(f"{field}: {exc}") from None


def right_from_fields(
    door_group: str, schedule: Mapping[str, Any], person_id: str | None, group: str | None,
) -> AccessRight:
    """A right on a door group for one person or one group, on a schedule document; FieldError naming it."""
    try:
        chosen: WeeklySchedule = schedule_from_doc(schedule)
    except (KeyError, TypeError, ValueError) as exc:  # an unknown zone is a KeyError
        raise FieldError(f"schedule: {exc}") from None
    try:
        return AccessRight(door_group, chosen, person_id=person_id, group=group)
    except ValueError as exc:
        raise FieldError(f"person_id/group: {exc}") from None


def csv_text(data: bytes, where: str = "body") -> str:
    """An uploaded CSV file as text: FieldError unless UTF-8 that can be stored."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FieldError(f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    fault = text_fault(text)
    if fault is not None:
        raise FieldError(f"{where}: {fault}")
    return text
