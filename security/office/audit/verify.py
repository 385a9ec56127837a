"""Checking a stored audit chain and explaining every problem in plain words (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from broker.safe_text import escape
from security.office.audit.chain import GENESIS, ChainHead, SealedRecord, UnreadableDetails, has_valid_hash


class ProblemKind(StrEnum):
    """What is wrong at one place in the chain."""

    EDITED = "edited"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"
    BROKEN_LINK = "broken_link"
    TRUNCATED = "truncated"
    ANCHOR_MISMATCH = "anchor_mismatch"


@dataclass(slots=True, frozen=True)
class Problem:
    """One problem: its kind, the first sequence number it concerns, where it was read, and why."""

    kind: ProblemKind
    seq: int
    message: str
    position: int | None = None
    """0-based index of the offending record in the order the records were given, if it exists."""
    last_seq: int | None = None
    """For a range of missing records, the last sequence number of the range."""


@dataclass(slots=True, frozen=True)
class VerifyReport:
    """The outcome of `verify`: how many records were read, the head, and every problem found."""

    count: int
    head: ChainHead
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        """The lowest sequence number with a problem, or None when the chain is intact."""
        return min((p.seq for p in self.problems), default=None)

    def summary(self) -> str:
        """A few lines a manager can read: the verdict, then one line per problem."""
        if self.ok:
            return f"Audit log intact: {self.count} records, last record {self.head.seq}."
        lines = [
            f"Audit log NOT intact: {len(self.problems)} problem(s) in {self.count} records; "
            f"first bad record is {self.first_bad_seq}."
        ]
        lines += [f"- {p.message}" for p in self.problems]
        return "\n".join(lines)


def _span(first: int, last: int) -> str:
    """'Record 4 is' or 'Records 4 to 7 are'."""
    return f"Record {first} is" if first == last else f"Records {first} to {last} are"


def _edited(records: list[SealedRecord], key: bytes | None) -> list[Problem]:
    """Records whose content no longer matches their own hash (or whose details cannot be read)."""
    return [
        Problem(ProblemKind.EDITED, rec.seq, _edited_message(rec), position=i)
        for i, rec in enumerate(records)
        if isinstance(rec.details, UnreadableDetails) or not has_valid_hash(rec, key)
    ]


def _edited_message(rec: SealedRecord) -> str:
    if isinstance(rec.details, UnreadableDetails):
        return (f"Record {rec.seq} was changed after it was written: its details are unreadable "
                f"({escape(rec.details.reason)}).")
    return f"Record {rec.seq} was changed after it was written (its seal does not match its content)."


def _order(records: list[SealedRecord]) -> list[Problem]:
    """Records stored out of sequence order, and sequence numbers that appear twice."""
    problems: list[Problem] = []
    seen: set[int] = set()
    highest: int | None = None
    for i, rec in enumerate(records):
        if rec.seq in seen:
            problems.append(
                Problem(
                    ProblemKind.DUPLICATE,
                    rec.seq,
                    f"Record {rec.seq} appears more than once (an extra copy was inserted).",
                    position=i,
                )
            )
        elif highest is not None and rec.seq < highest:
            problems.append(
                Problem(
                    ProblemKind.OUT_OF_ORDER,
                    rec.seq,
                    f"Record {rec.seq} is stored after record {highest} (records were moved).",
                    position=i,
                )
            )
        seen.add(rec.seq)
        highest = rec.seq if highest is None else max(highest, rec.seq)
    return problems


def _gaps_and_links(records: list[SealedRecord]) -> list[Problem]:
    """Missing sequence numbers, and links that do not point at the record before."""
    problems: list[Problem] = []
    first_at: dict[int, int] = {}
    for i, rec in enumerate(records):
        first_at.setdefault(rec.seq, i)
    by_seq = [records[first_at[s]] for s in sorted(first_at)]
    prev: SealedRecord | None = None
    for rec in by_seq:
        expected_seq = 1 if prev is None else prev.seq + 1
        if rec.seq < 1:
            problems.append(
                Problem(
                    ProblemKind.EDITED,
                    rec.seq,
                    f"Record {rec.seq} has an impossible number (numbers start at 1).",
                    position=first_at[rec.seq],
                )
            )
            continue
        if rec.seq > expected_seq:
            problems.append(
                Problem(
                    ProblemKind.MISSING,
                    expected_seq,
                    f"{_span(expected_seq, rec.seq - 1)} missing (deleted from the log).",
                    last_seq=rec.seq - 1,
                )
            )
        elif rec.prev_hash != (GENESIS if prev is None else prev.hash):
            before = "the start of the log" if prev is None else f"record {prev.seq}"
            problems.append(
                Problem(
                    ProblemKind.BROKEN_LINK,
                    rec.seq,
                    f"Record {rec.seq} does not follow on from {before} "
                    "(a record was replaced, removed or rewritten before it).",
                    position=first_at[rec.seq],
                )
            )
        prev = rec
    return problems


def _anchor(records: list[SealedRecord], expected: ChainHead) -> list[Problem]:
    """Compare the chain with a previously published head (count and last hash)."""
    at = {rec.seq: i for i, rec in reversed(list(enumerate(records)))}
    last = max(at, default=0)
    if expected.seq == 0:
        return []
    if expected.seq > last:
        return [
            Problem(
                ProblemKind.TRUNCATED,
                last + 1,
                f"{_span(last + 1, expected.seq)} missing from the end of the log "
                f"(the published anchor says the log reached record {expected.seq}).",
                last_seq=expected.seq,
            )
        ]
    if expected.seq in at and records[at[expected.seq]].hash != expected.hash:
        return [
            Problem(
                ProblemKind.ANCHOR_MISMATCH,
                expected.seq,
                f"Record {expected.seq} differs from the published anchor (the log was rewritten up to it).",
                position=at[expected.seq],
            )
        ]
    return []


def verify(
    records: Iterable[SealedRecord], *, key: bytes | None = None, expected: ChainHead | None = None
) -> VerifyReport:
    """Check records in the order they are stored; list every problem, first bad sequence number first.

    `key` must be the site secret the chain was sealed with (None for an unkeyed chain);
    `expected` is a published anchor (an earlier head) that detects records cut off the end.
    """
    items = list(records)
    problems = _edited(items, key) + _order(items) + _gaps_and_links(items)
    if expected is not None:
        problems += _anchor(items, expected)
    problems.sort(key=lambda p: (p.seq, list(ProblemKind).index(p.kind)))
    last = max(items, key=lambda r: r.seq, default=None)
    head = ChainHead(seq=0, hash=GENESIS) if last is None else last.head
    return VerifyReport(count=len(items), head=head, problems=tuple(problems))
