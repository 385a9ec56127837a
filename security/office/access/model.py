"""People, credentials, door groups, access rights and the directory that holds them (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from broker.schemas import BadgeRead
from security.office.access.credentials import (
    WIEGAND_HEX,
    CredentialFormat,
    facility_matches,
    normalise_hex,
    wiegand_suffix,
)
from security.office.access.schedule import WeeklySchedule

VISITORS_GROUP = "visitors"
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class PersonKind(StrEnum):
    """Whether a person is staff or a visitor."""

    EMPLOYEE = "employee"
    VISITOR = "visitor"


@dataclass(slots=True, frozen=True)
class Person:
    """Someone who may hold credentials; `groups` name the people groups rights are given to."""

    id: str
    name: str
    kind: PersonKind = PersonKind.EMPLOYEE
    groups: frozenset[str] = frozenset()
    email: str | None = None

    def __post_init__(self) -> None:
        """Refuse an id the contract's `person_id` would refuse and an empty name."""
        if not _ID.fullmatch(self.id):
            raise ValueError(f"person id must be 1-64 of A-Z a-z 0-9 . _ : -, got {self.id!r}")
        if not self.name.strip():
            raise ValueError("a person needs a name")


@dataclass(slots=True, frozen=True)
class Credential:
    """A person's badge: its canonical hex value, format, validity window and revocation."""

    value: str
    format: CredentialFormat
    person_id: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        """Normalise the value; refuse naive times and an empty window."""
        object.__setattr__(self, "value", normalise_hex(self.value, self.format))
        for moment in (self.valid_from, self.valid_until, self.revoked_at):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("credential times must be time-zone aware")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")

    def is_revoked(self, now: datetime) -> bool:
        """Whether the credential was revoked at or before `now`."""
        return self.revoked_at is not None and self.revoked_at <= now

    def is_not_yet_valid(self, now: datetime) -> bool:
        """Whether `now` is before the validity window."""
        return self.valid_from is not None and now < self.valid_from

    def is_expired(self, now: datetime) -> bool:
        """Whether `now` is at or after the end of the validity window."""
        return self.valid_until is not None and now >= self.valid_until

    def state(self, now: datetime) -> str:
        """Whether it is `valid`, `revoked`, `expired` or `not_yet_valid` at `now`."""
        if self.is_revoked(now):
            return "revoked"
        if self.is_expired(now):
            return "expired"
        if self.is_not_yet_valid(now):
            return "not_yet_valid"
        return "valid"

    def revoke(self, at: datetime) -> Credential:
        """The same credential revoked at `at` (an earlier revocation is kept)."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return self
        return replace(self, revoked_at=at)


@dataclass(slots=True, frozen=True)
class DoorGroup:
    """A named set of doors that rights are given to."""

    name: str
    doors: frozenset[str]


@dataclass(slots=True, frozen=True)
class AccessRight:
    """A person (by id) or a people group may pass a door group's doors when the schedule is open."""

    door_group: str
    schedule: WeeklySchedule
    person_id: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        """Require exactly one subject: a person or a group."""
        if (self.person_id is None) == (self.group is None):
            raise ValueError("an access right names exactly one of person_id or group")

    def applies_to(self, person: Person) -> bool:
        """Whether this right is given to `person` (directly or through a group)."""
        return self.person_id == person.id or (self.group is not None and self.group in person.groups)


@dataclass(slots=True, frozen=True)
class Match:
    """The enrolled credential a read matched, and its holder."""

    credential: Credential
    person: Person


@dataclass(frozen=True)
class Directory:
    """Everyone and everything the access decision consults; update it by making a new one."""

    people: tuple[Person, ...] = ()
    credentials: tuple[Credential, ...] = ()
    door_groups: tuple[DoorGroup, ...] = ()
    rights: tuple[AccessRight, ...] = ()
    _people: dict[str, Person] = field(init=False, repr=False, compare=False)
    _exact: dict[str, tuple[Credential, ...]] = field(init=False, repr=False, compare=False)
    _suffix: dict[str, tuple[Credential, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index people by id and credentials by value and by Wiegand suffix."""
        exact: dict[str, list[Credential]] = {}
        suffix: dict[str, list[Credential]] = {}
        for cred in self.credentials:
            exact.setdefault(cred.value, []).append(cred)
            key = wiegand_suffix(cred.value, cred.format)
            if key is not None and cred.format is CredentialFormat.EM4100:
                suffix.setdefault(key, []).append(cred)
        object.__setattr__(self, "_people", {p.id: p for p in self.people})
        object.__setattr__(self, "_exact", {k: tuple(v) for k, v in exact.items()})
        object.__setattr__(self, "_suffix", {k: tuple(v) for k, v in suffix.items()})

    def person(self, person_id: str) -> Person | None:
        """The person with this id, if any."""
        return self._people.get(person_id)

    def candidates(self, read: BadgeRead) -> tuple[Credential, ...]:
        """Enrolled credentials a read may be, per the normalisation in `credentials`."""
        value = read.credential
        if value in self._exact:
            return self._exact[value]
        if read.format == "wiegand26" and len(value) == WIEGAND_HEX:
            if not facility_matches(value, read.facility):
                return ()
            return self._suffix.get(value, ())
        if read.format == "rdm6300" and len(value) > WIEGAND_HEX:
            found = self._exact.get(value[-WIEGAND_HEX:], ())
            return tuple(c for c in found if c.format is CredentialFormat.WIEGAND26)
        return ()

    def find(self, read: BadgeRead, now: datetime) -> Match | None:
        """The one credential (and holder) a read stands for; None when unknown or ambiguous.

        Several enrolments of the same value (an old revoked badge re-issued) resolve to the one in
        force at `now`, else the most recently issued; different holders are ambiguous.
        """
        found = [c for c in self.candidates(read) if c.person_id in self._people]
        if len({c.person_id for c in found}) > 1:
            found = [c for c in found if _in_force(c, now)]
            if len({c.person_id for c in found}) != 1:
                return None
        if not found:
            return None
        best = max(found, key=lambda c: (not c.is_revoked(now), _in_force(c, now), _start(c)))
        return Match(best, self._people[best.person_id])

    def doors_of(self, group_name: str) -> frozenset[str]:
        """The doors of a door group (empty when it does not exist)."""
        return next((g.doors for g in self.door_groups if g.name == group_name), frozenset())

    def rights_at(self, person: Person, door: str) -> tuple[AccessRight, ...]:
        """The rights that let `person` through `door` at some time."""
        return tuple(r for r in self.rights if r.applies_to(person) and door in self.doors_of(r.door_group))

    def with_person(self, person: Person, *credentials: Credential) -> Directory:
        """A new directory with `person` (replacing one with the same id) and extra credentials."""
        people = (*(p for p in self.people if p.id != person.id), person)
        return replace(self, people=people, credentials=self.credentials + credentials)

    def revoke_person(self, person_id: str, at: datetime) -> Directory:
        """A new directory where every credential of `person_id` is revoked at `at`."""
        creds = tuple(c.revoke(at) if c.person_id == person_id else c for c in self.credentials)
        return replace(self, credentials=creds)


def _in_force(cred: Credential, now: datetime) -> bool:
    """Whether a credential is neither revoked, expired nor not yet valid at `now`."""
    return not (cred.is_revoked(now) or cred.is_expired(now) or cred.is_not_yet_valid(now))


def _start(cred: Credential) -> float:
    """A sort key: when the credential became valid (earliest possible when open-ended)."""
    return cred.valid_from.timestamp() if cred.valid_from else float("-inf")


def visitor_badge(
    visit_id: str, name: str, badge: str, fmt: CredentialFormat, checked_in_at: datetime,
    *, groups: frozenset[str] = frozenset({VISITORS_GROUP}),
) -> tuple[Person, Credential]:
    """A visitor and their temporary badge, valid from check-in until check-out revokes it."""
    person = Person(id=visit_id, name=name, kind=PersonKind.VISITOR, groups=groups)
    return person, Credential(badge, fmt, visit_id, valid_from=checked_in_at)


def check_in(directory: Directory, person: Person, badge: Credential) -> Directory:
    """The directory after a visitor checked in with a temporary badge."""
    return directory.with_person(person, badge)


def check_out(directory: Directory, visit_id: str, at: datetime) -> Directory:
    """The directory after a visitor checked out: their badges are revoked from `at`."""
    return directory.revoke_person(visit_id, at)
