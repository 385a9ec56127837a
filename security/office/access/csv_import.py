"""Parse an employee list CSV into people and credentials, with per-row errors (pure, text in).

Default columns (rename them with `CsvColumns`): `employee_id`, `name`, `email`, `badge`,
`badge_format` (em4100, wiegand26, osdp or qr; default em4100), `valid_from`, `valid_until`
(ISO dates or date-times; a date means that day's start for `valid_from` and the next day's start,
i.e. the whole day included, for `valid_until`; times without an offset are in the site's zone)
and `groups` (separated by `;`). Only `employee_id` and `name` are required; a row without a badge
yields a person with no credential. Rows are numbered as in a spreadsheet: the header is row 1.
A bad row is reported and skipped; the good rows are kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from security.office.access.credentials import CredentialFormat, normalise_hex, wiegand_suffix
from security.office.access.model import Credential, Person, PersonKind


@dataclass(slots=True, frozen=True)
class CsvColumns:
    """The header names of each field in the file."""

    employee_id: str = "employee_id"
    name: str = "name"
    email: str = "email"
    badge: str = "badge"
    badge_format: str = "badge_format"
    valid_from: str = "valid_from"
    valid_until: str = "valid_until"
    groups: str = "groups"


@dataclass(slots=True, frozen=True)
class RowError:
    """Why one row was skipped."""

    row: int
    reason: str


@dataclass(slots=True, frozen=True)
class ImportResult:
    """The people and credentials of the good rows, and an error per bad row."""

    people: tuple[Person, ...]
    credentials: tuple[Credential, ...]
    errors: tuple[RowError, ...]


class BadRowError(ValueError):
    """A reason a row cannot be imported."""


def parse_employees(
    text: str,
    *,
    tz: str = "UTC",
    columns: CsvColumns | None = None,
    known_groups: frozenset[str] | None = None,
    enrolled: frozenset[str] = frozenset(),
) -> ImportResult:
    """Parse CSV text; `known_groups` (None accepts any) and `enrolled` badge values are checked."""
    cols = columns or CsvColumns()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        return ImportResult((), (), (RowError(1, f"unreadable CSV header: {exc}"),))
    missing = [c for c in (cols.employee_id, cols.name) if c not in header]
    if missing:
        return ImportResult((), (), (RowError(1, f"missing column(s): {', '.join(missing)}"),))
    people: list[Person] = []
    creds: list[Credential] = []
    errors: list[RowError] = []
    ids: set[str] = set()
    badges: dict[str, int] = {}
    zone = ZoneInfo(tz)
    taken = set(enrolled) | {v[-6:] for v in enrolled if len(v) >= 6}
    for number, row in enumerate(_rows(reader, errors), start=2):
        try:
            person, cred = _row(row, cols, zone, known_groups)
            if person.id in ids:
                raise BadRowError(f"duplicate employee_id {person.id!r}")
            if cred is not None:
                _check_badge(cred, badges, taken)
        except (BadRowError, ValueError) as exc:
            errors.append(RowError(number, str(exc)))
            continue
        ids.add(person.id)
        people.append(person)
        if cred is not None:
            badges[cred.value] = number
            suffix = wiegand_suffix(cred.value, cred.format)
            if suffix is not None:
                badges.setdefault(suffix, number)
            creds.append(cred)
    return ImportResult(tuple(people), tuple(creds), tuple(errors))


def _rows(reader: csv.DictReader[str], errors: list[RowError]) -> Iterator[dict[str | None, str | None]]:
    """The reader's rows; broken CSV quoting ends the file with an error on the row it happened in."""
    number = 1
    while True:
        number += 1
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(number, f"unreadable CSV, the rest of the file is skipped: {exc}"))
            return


def _check_badge(cred: Credential, badges: dict[str, int], taken: set[str]) -> None:
    """Refuse a badge already in the file, already enrolled, or that a Wiegand reader could not tell apart."""
    for key in (cred.value, wiegand_suffix(cred.value, cred.format)):
        if key is None:
            continue
        if key in badges:
            raise BadRowError(f"duplicate badge {cred.value} (same as row {badges[key]})")
        if key in taken:
            raise BadRowError(f"duplicate badge {cred.value} (already enrolled)")


def _row(
    row: dict[str | None, str | None], cols: CsvColumns, zone: ZoneInfo, known: frozenset[str] | None
) -> tuple[Person, Credential | None]:
    """One row as a person and maybe a credential, or a BadRowError saying what is wrong."""
    if None in row:
        raise BadRowError("more fields than the header has columns")

    def get(name: str) -> str:
        """A cell, stripped; empty when absent."""
        return (row.get(name) or "").strip()

    groups = frozenset(g.strip() for g in get(cols.groups).split(";") if g.strip())
    unknown = sorted(groups - known) if known is not None else []
    if unknown:
        raise BadRowError(f"unknown group(s): {', '.join(unknown)}")
    if not get(cols.employee_id) or not get(cols.name):
        raise BadRowError("employee_id and name are required")
    try:
        person = Person(get(cols.employee_id), get(cols.name), PersonKind.EMPLOYEE, groups,
                        get(cols.email) or None)
    except ValueError as exc:
        raise BadRowError(str(exc)) from exc
    if not get(cols.badge):
        return person, None
    try:
        fmt = CredentialFormat(get(cols.badge_format).lower() or CredentialFormat.EM4100)
    except ValueError:
        raise BadRowError(f"unknown badge_format {get(cols.badge_format)!r}") from None
    try:
        value = normalise_hex(get(cols.badge), fmt)
    except ValueError as exc:
        raise BadRowError(f"bad badge: {exc}") from None
    start = _moment(get(cols.valid_from), zone, end=False, column=cols.valid_from)
    until = _moment(get(cols.valid_until), zone, end=True, column=cols.valid_until)
    if start and until and until <= start:
        raise BadRowError(f"{cols.valid_until} is not after {cols.valid_from}")
    return person, Credential(value, fmt, person.id, start, until)


def _moment(text: str, zone: ZoneInfo, *, end: bool, column: str) -> datetime | None:
    """An ISO date or date-time cell as an aware time; a date is its day's start (or the next's)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRowError(f"bad date in {column}: {text!r} (use YYYY-MM-DD or ISO date-time)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
