"""The pure rules of a visitor's data on request: on site, the reason, audit records naming them, the JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from security.office.audit import AuditRecord, SealedRecord, append_all, pseudonym
from security.office.privacy import (
    EventEntry,
    InvitationEntry,
    PrivacyError,
    Terms,
    VisitorRecord,
    audit_mentions,
    check_email,
    check_name,
    check_reason,
    check_visit_ids,
    names_visitor,
    record_json,
    still_on_site,
    terms_of,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def entry(event_type: str, visit_id: str, hours_ago: float, **data: object) -> EventEntry:
    """A stored event of a visit, received `hours_ago` before NOW."""
    at = NOW - timedelta(hours=hours_ago)
    return EventEntry(f"ev-{event_type}-{visit_id}-{hours_ago}", "gatehouse/hq/kiosk-1", 1, event_type,
                      at, at, "kiosk-1", {"visit_id": visit_id, **data})


def sealed(*details: dict[str, object], subject: str = "x") -> list[SealedRecord]:
    """Audit records with these details, sealed in a chain."""
    return append_all(None, [AuditRecord(NOW, "user:maria", "test", subject, d) for d in details])


def test_on_site_is_a_recent_check_in_without_a_check_out() -> None:
    """In an hour ago: on site; out since: gone; in 30 hours ago and never out: past the muster horizon."""
    events = [entry("visitor.checked_in", "IN", 1), entry("visitor.checked_in", "OUT", 3),
              entry("visitor.checked_out", "OUT", 2), entry("visitor.checked_in", "OLD", 30),
              entry("visitor.checked_in", "BACK", 5), entry("visitor.checked_out", "BACK", 4),
              entry("visitor.checked_in", "BACK", 1), entry("visitor.photo", "PHOTO", 1)]
    assert still_on_site(events, NOW) == ["BACK", "IN"]
    assert still_on_site(events, NOW, timedelta(hours=48)) == ["BACK", "IN", "OLD"]
    assert still_on_site(events, NOW + timedelta(days=2)) == []


def test_visit_ids_names_and_addresses_are_checked() -> None:
    """Ids once and sorted; a name's spaces as stored; refusals say why."""
    assert check_visit_ids(["B", "A", "B"]) == ("A", "B")
    for bad in ([], ["a b"], ["x" * 65], ["ok", ""]):
        with pytest.raises(PrivacyError):
            check_visit_ids(bad)
    assert check_name("  Ana   Lopez ") == "Ana Lopez"
    assert check_email(" ana@example.org ") == "ana@example.org"
    for text in ("ana", "@example.org", "ana@", "a b@example.org", "a\x00@example.org"):
        with pytest.raises(PrivacyError):
            check_email(text)
    with pytest.raises(PrivacyError):
        check_name("\x00")


def test_audit_records_name_a_visitor_only_as_a_whole_word_or_id() -> None:
    """`Ana Lopez` and her visit id are found in subjects, nested details and keys; look-alikes are not."""
    terms = Terms(frozenset({"V1", "ev-9"}), frozenset({"Ana Lopez", "ana@example.org"}))
    records = sealed({"q": "name=ana lopez"}, {"q": "Banana Lopezz"}, {"ids": ["V10", "xV1"]},
                     {"nested": {"who": ["ANA@EXAMPLE.ORG"]}}, {"event_ids": ["ev-9"]}, {"ids": ["V1-2"]},
                     {"Ana Lopez": 1}, subject="visit:V12")
    records += sealed({}, subject="visit:V1")
    assert [r.seq for r in audit_mentions(records, terms)] == [1, 4, 5, 7, 1]  # the last one: visit:V1
    assert names_visitor(records, terms) == [1, 4, 7]
    assert audit_mentions(records, Terms()) == []
    spaced = sealed({"note": "Ana\n  LOPEZ came back"})
    assert names_visitor(spaced, terms) == [1]


def test_a_one_word_name_is_found_only_as_a_whole_value() -> None:
    """A visitor called `Maria` is not the account `user:maria`, nor any Maria in a sentence."""
    terms = Terms(words=frozenset({"Maria"}))
    records = sealed({"name": " maria "}, {"q": "maria asked"}, {}, subject="user:maria")
    assert names_visitor(records, terms) == [1]
    assert check_reason("Maria asked by phone", terms) == "Maria asked by phone"
    with pytest.raises(PrivacyError):
        check_reason("maria", terms)


def test_the_reason_may_not_name_the_visitor() -> None:
    """The reason is sealed for good: the name or address in it is refused, in any case."""
    terms = Terms(words=frozenset({"Ana Lopez", "ana@example.org"}))
    assert check_reason("  request   DSR-17 ", terms) == "request DSR-17"
    for reason in ("ANA LOPEZ asked", "mail from ana@example.org", "", "x" * 501, "bad\x00"):
        with pytest.raises(PrivacyError):
            check_reason(reason, terms)


def test_terms_leave_out_pseudonyms() -> None:
    """A record already erased names no one: its pseudonym is not a term, its ids still are."""
    erased = entry("visitor.checked_in", "V1", 50, visitor_name=pseudonym("V1"))
    invited = InvitationEntry("V1", "Ana Lopez", None, "ana@example.org", "guest", "e-1", NOW, NOW, "u", NOW,
                              None, None)
    record = VisitorRecord(("V1",), events=(erased,), invitations=(invited,))
    terms = terms_of(record)
    assert terms.words == {"Ana Lopez", "ana@example.org"}
    assert terms.ids == {"V1", record.events[0].event_id}


def test_the_export_document_has_its_header_and_sections() -> None:
    """Site, time, visit ids, counts and what each section is, then the sections with times in RFC 3339."""
    record = VisitorRecord(("V1",), events=(entry("visitor.photo", "V1", 2, jpeg="AAAA"),),
                           audit=tuple(sealed({"n": 1}, subject="visit:V1")))
    doc = json.loads(record_json(record, site="hq", generated_at=NOW))
    assert (doc["format"], doc["site"], doc["generated_at"], doc["visit_ids"]) == (
        "gatehouse-visitor-record/1", "hq", "2026-11-23T12:00:00.000000Z", ["V1"])
    assert doc["counts"] == {"events": 1, "invitations": 0, "notifications": 0, "audit": 1, "alarms": 0,
                             "directory": 0}
    assert list(doc["sections"]) == ["events", "invitations", "notifications", "audit", "alarms", "directory"]
    assert doc["events"][0]["data"] == {"visit_id": "V1", "jpeg": "AAAA"}
    assert doc["events"][0]["received_at"] == "2026-11-23T10:00:00.000000Z"
    assert doc["audit"][0] == {"seq": 1, "time": "2026-11-23T12:00:00.000000Z", "actor": "user:maria",
                               "action": "test", "subject": "visit:V1", "details": {"n": 1}}
