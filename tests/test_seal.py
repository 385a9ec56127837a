"""Details sealed under a secret (broker.seal), and the kiosk's cache opening them with a scanned code."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from broker.seal import seal, unseal
from kiosk.cache import find_invitation

CODE = "GH1:V7F3A2K9QX:abcdefgh12345678"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def test_a_sealed_document_opens_only_with_its_secret() -> None:
    """Round trip (the code's surrounding space ignored); another secret, a changed byte, junk: ValueError."""
    doc = {"visitor_name": "Ana López", "company": None}
    sealed = seal(CODE, doc)
    assert unseal(CODE, sealed) == unseal(f" {CODE}\n", sealed) == doc
    assert seal(CODE, doc) != sealed  # a fresh nonce each time
    assert "Ana" not in sealed
    middle = len(sealed) // 2
    flipped = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1:]
    for secret, text in ((CODE[:-1] + "9", sealed), (CODE, flipped), (CODE, "s2.!!"), (CODE, "s1.abc"),
                         (CODE, "s2.")):
        with pytest.raises(ValueError):
            unseal(secret, text)


def test_the_kiosk_cache_opens_the_sealed_name_with_the_scanned_code() -> None:
    """A cached upcoming invitation shows the masked name; scanned with its code, the full one; a sealed
    part that does not open leaves the masked name (logged), never an exception."""
    row = {"visit_id": "V7F3A2K9QX", "visitor_name": "A** L****", "company": "Acm*", "host_id": "e2",
           "host_name": "Budi Santoso", "visitor_type": "guest", "expected_at": NOW.isoformat(),
           "valid_until": (NOW + timedelta(hours=8)).isoformat(),
           "code_sha256": hashlib.sha256(CODE.encode()).hexdigest(),
           "sealed": seal(CODE, {"visitor_name": "Ana López", "company": "Acme"})}
    found = find_invitation([row], CODE, NOW)
    assert found is not None
    assert (found.visitor_name, found.company) == ("Ana López", "Acme")
    damaged = find_invitation([{**row, "sealed": seal("another code", {"visitor_name": "X"})}], CODE, NOW)
    assert damaged is not None
    assert (damaged.visitor_name, damaged.company) == ("A** L****", "Acm*")
    assert find_invitation([row], CODE + "x", NOW) is None
