"""Audit hash chain: sealing, and verify finding edits, deletions, reordering and truncation."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from security.office.audit import (
    GENESIS,
    AuditError,
    AuditRecord,
    ChainHead,
    ProblemKind,
    SealedRecord,
    append,
    append_all,
    canonical_bytes,
    verify,
)

KEY = b"site-secret-for-tests"
T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def entry(i: int, actor: str = "guard:maria") -> AuditRecord:
    """A plausible audit record number `i`."""
    actions = ["alarm.acknowledge", "person.create", "export", "incident.note"]
    return AuditRecord(
        time=T0 + timedelta(minutes=i),
        actor=actor,
        action=actions[i % len(actions)],
        subject=f"alarm:a{i}",
        details={"note": f"step {i}", "n": i},
    )


def chain(n: int, key: bytes | None = KEY) -> list[SealedRecord]:
    """A sealed chain of `n` records."""
    return append_all(None, [entry(i) for i in range(n)], key=key)


def kinds(records: list[SealedRecord], **kw: object) -> list[tuple[ProblemKind, int]]:
    """(kind, seq) of every problem verify reports."""
    report = verify(records, **kw)  # type: ignore[arg-type]
    return [(p.kind, p.seq) for p in report.problems]


def test_first_record_chains_from_genesis_and_numbers_from_one() -> None:
    first = append(None, entry(0), key=KEY)
    second = append(first.head, entry(1), key=KEY)
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)


def test_canonical_encoding_is_fixed_order_compact_utc() -> None:
    record = AuditRecord(
        time=datetime(2026, 1, 2, 4, 5, 6, tzinfo=timezone(timedelta(hours=1))),
        actor="guard:maria",
        action="export",
        subject="visits",
        details={"b": 1, "a": "é"},
    )
    assert (
        canonical_bytes(7, record, GENESIS)
        == (
            '["gatehouse-audit/1",7,"2026-01-02T03:05:06.000000Z","guard:maria","export","visits",'
            '{"a":"é","b":1},"' + GENESIS + '"]'
        ).encode()
    )


def test_same_content_same_hash_and_key_changes_it() -> None:
    assert append(None, entry(0)).hash == append(None, entry(0)).hash
    assert append(None, entry(0)).hash != append(None, entry(0), key=KEY).hash
    assert append(None, entry(0), key=KEY).hash != append(None, entry(0), key=b"other").hash


def test_changing_the_callers_details_afterwards_does_not_change_the_record() -> None:
    details: dict[str, Any] = {"ids": ["a"]}
    record = AuditRecord(T0, "guard:maria", "export", "visits", details)
    sealed = append(None, record, key=KEY)
    details["ids"].append("b")
    assert sealed.details == {"ids": ["a"]}
    assert verify([sealed], key=KEY).ok


@pytest.mark.parametrize(
    "bad",
    [
        {"time": datetime(2026, 1, 1)},  # the naive time is the point
        {"actor": ""},
        {"details": {"x": float("nan")}},
        {"details": {"x": object()}},
    ],
    ids=["naive time", "empty actor", "nan", "not json"],
)
def test_records_that_cannot_be_encoded_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(AuditError):
        dataclasses.replace(entry(0), **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [KEY, None], ids=["keyed", "unkeyed"])
def test_untouched_chain_verifies_clean(key: bytes | None) -> None:
    records = chain(6, key)
    report = verify(records, key=key, expected=records[-1].head)
    assert report.ok
    assert report.first_bad_seq is None
    assert report.head == records[-1].head
    assert report.count == 6
    assert "intact" in report.summary()


def test_empty_chain_verifies_clean() -> None:
    assert verify([]).ok
    assert verify([], expected=ChainHead(0, GENESIS)).ok


def test_edited_row_is_found_at_its_sequence_number() -> None:
    records = chain(5)
    records[2] = dataclasses.replace(records[2], actor="guard:mallory")
    report = verify(records, key=KEY)
    assert kinds(records, key=KEY) == [(ProblemKind.EDITED, 3)]
    assert report.first_bad_seq == 3
    assert report.problems[0].position == 2
    assert "Record 3 was changed" in report.summary()


def test_edited_row_with_recomputed_unkeyed_hash_breaks_the_next_link() -> None:
    records = chain(5, key=None)
    forged = append(records[1].head, dataclasses.replace(records[2].record, actor="guard:mallory"))
    records[2] = forged
    assert kinds(records) == [(ProblemKind.BROKEN_LINK, 4)]


def test_deleted_middle_row_is_a_gap() -> None:
    records = chain(5)
    del records[2]
    report = verify(records, key=KEY)
    assert kinds(records, key=KEY) == [(ProblemKind.MISSING, 3)]
    assert "Record 3 is missing" in report.summary()


def test_deleted_first_row_is_a_gap_at_one() -> None:
    records = chain(5)
    del records[0]
    assert kinds(records, key=KEY) == [(ProblemKind.MISSING, 1)]


def test_deleted_run_is_reported_as_one_range() -> None:
    records = chain(8)
    del records[2:5]
    report = verify(records, key=KEY)
    assert [(p.kind, p.seq, p.last_seq) for p in report.problems] == [(ProblemKind.MISSING, 3, 5)]


def test_reordered_pair_is_out_of_order() -> None:
    records = chain(5)
    records[1], records[2] = records[2], records[1]
    report = verify(records, key=KEY)
    assert kinds(records, key=KEY) == [(ProblemKind.OUT_OF_ORDER, 2)]
    assert report.problems[0].position == 2
    assert "stored after record 3" in report.summary()


def test_swapped_contents_keeping_numbers_are_edits() -> None:
    records = chain(5)
    a, b = records[1], records[2]
    records[1] = dataclasses.replace(b, seq=a.seq)
    records[2] = dataclasses.replace(a, seq=b.seq)
    assert {k for k, _ in kinds(records, key=KEY)} >= {ProblemKind.EDITED}
    assert verify(records, key=KEY).first_bad_seq == 2


def test_truncated_tail_is_found_only_with_an_anchor() -> None:
    records = chain(6)
    anchor = records[-1].head
    cut = records[:4]
    assert verify(cut, key=KEY).ok, "without an anchor, a shorter chain looks complete"
    report = verify(cut, key=KEY, expected=anchor)
    assert [(p.kind, p.seq, p.last_seq) for p in report.problems] == [(ProblemKind.TRUNCATED, 5, 6)]
    assert "published anchor" in report.summary()


def test_records_after_the_anchor_are_fine() -> None:
    records = chain(6)
    assert verify(records, key=KEY, expected=records[3].head).ok


def test_rewritten_chain_differs_from_anchor() -> None:
    records = chain(4, key=None)
    anchor = records[-1].head
    rewritten = append_all(
        None, [dataclasses.replace(entry(0), actor="guard:mallory")] + [entry(i) for i in range(1, 4)]
    )
    assert verify(rewritten).ok
    assert kinds(rewritten, expected=anchor) == [(ProblemKind.ANCHOR_MISMATCH, 4)]


def test_forged_append_is_detected_with_a_key() -> None:
    records = chain(4)
    forged = append(records[-1].head, entry(9, actor="guard:mallory"), key=b"attacker-guess")
    assert kinds([*records, forged], key=KEY) == [(ProblemKind.EDITED, 5)]


def test_forged_append_is_not_detectable_without_a_key() -> None:
    """Without a site secret anyone with database access can seal a valid-looking record."""
    records = chain(4, key=None)
    forged = append(records[-1].head, entry(9, actor="guard:mallory"))
    assert verify([*records, forged]).ok


def test_wrong_key_flags_every_record() -> None:
    records = chain(3)
    assert [k for k, _ in kinds(records, key=b"wrong")] == [ProblemKind.EDITED] * 3


def test_all_problems_are_listed_in_sequence_order() -> None:
    records = chain(10)
    records[7] = dataclasses.replace(records[7], subject="alarm:other")
    del records[4]
    records[0] = dataclasses.replace(records[0], details={"note": "changed"})
    report = verify(records, key=KEY, expected=ChainHead(12, "f" * 64))
    assert [(p.kind, p.seq) for p in report.problems] == [
        (ProblemKind.EDITED, 1),
        (ProblemKind.MISSING, 5),
        (ProblemKind.EDITED, 8),
        (ProblemKind.TRUNCATED, 11),
    ]
    assert report.first_bad_seq == 1
    assert len(report.summary().splitlines()) == 5


def test_duplicated_row_is_reported() -> None:
    records = chain(4)
    records.insert(3, records[1])
    assert kinds(records, key=KEY) == [(ProblemKind.DUPLICATE, 2)]


# --- property: any single mutation of a keyed chain is detected -------------------------------

FIELDS = ["seq", "time", "actor", "action", "subject", "details", "prev_hash", "hash"]


def _mutated_value(rec: SealedRecord, name: str, draw: st.DrawFn) -> object:
    """A different value for field `name` of `rec`."""
    if name == "seq":
        return draw(st.integers(min_value=-3, max_value=50).filter(lambda s: s != rec.seq))
    if name == "time":
        return rec.time + timedelta(microseconds=draw(st.integers(1, 10**9)))
    if name == "details":
        details = {**rec.details, draw(st.text(min_size=1, max_size=5)): draw(st.integers())}
        assume(details != rec.details)
        return details
    text = draw(st.text(min_size=1, max_size=64))
    assume(text != getattr(rec, name))
    return text


@st.composite
def mutation(draw: st.DrawFn) -> tuple[list[SealedRecord], list[SealedRecord]]:
    """An intact keyed chain and the same chain with exactly one mutation."""
    n = draw(st.integers(min_value=1, max_value=8))
    actors = draw(st.lists(st.sampled_from(["guard:maria", "manager:li", "system"]), min_size=n, max_size=n))
    original = append_all(None, [entry(i, actor=a) for i, a in enumerate(actors)], key=KEY)
    records = list(original)
    kind = draw(st.sampled_from(["edit", "delete", "swap", "insert", "append"]))
    i = draw(st.integers(min_value=0, max_value=n - 1))
    if kind == "edit":
        name = draw(st.sampled_from(FIELDS))
        changed: dict[str, Any] = {name: _mutated_value(records[i], name, draw)}
        records[i] = dataclasses.replace(records[i], **changed)
    elif kind == "delete":
        del records[i]
    elif kind == "swap":
        assume(n >= 2)
        j = draw(st.integers(min_value=0, max_value=n - 1).filter(lambda j: j != i))
        records[i], records[j] = records[j], records[i]
    else:
        head = records[i - 1].head if i > 0 else None
        forged = append(head, entry(99, actor="guard:mallory"), key=b"not-the-site-key")
        records.insert(len(records) if kind == "append" else i, forged)
    return original, records


@settings(max_examples=300, deadline=None)
@given(mutation())
def test_any_single_mutation_is_detected_with_a_key(
    case: tuple[list[SealedRecord], list[SealedRecord]],
) -> None:
    original, mutated = case
    assert verify(original, key=KEY, expected=original[-1].head).ok
    report = verify(mutated, key=KEY, expected=original[-1].head)
    assert not report.ok
    assert report.first_bad_seq is not None
