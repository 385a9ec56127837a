"""The visitor routes of the HTTP API on a real port with real tokens: invitations, the watchlist, and
what kiosks look up (hosts, invitations, returning visitors, visitors on site), with roles and masking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from broker.events import Event, make_event
from broker.masking import mask_company, mask_name
from broker.schemas import VisitorCheckedIn, VisitorCheckedOut
from broker.seal import unseal
from kiosk.central_client import CentralClient
from kiosk.config import parse_kiosk
from security.api import ApiServer
from security.api.core import Picks, allowed
from security.api.views import fold
from security.office.access import Person, PersonKind
from security.office.audit import verify
from security.office.incidents import console_emitter
from security.office.invitations import InvitationDesk
from security.storage import EventStore, open_store
from security.storage.audit_log import chain_head, read_chain
from security.storage.people import Change, add_person
from security.storage.tokens import create_token
from tests.support import Reply, http
from tests.test_invitations import decode_qr

KEY = b"visitor-api-key"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Site:
    """A running API server with an invitation desk, its store and a token per role."""

    server: ApiServer
    store: EventStore
    desk: InvitationDesk
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, role: str | None = None, body: Any = None) -> Reply:
        """One request with urllib as `role` (None: no token)."""
        return http(method, self.server.url + path, token=self.tokens[role] if role else None, body=body)


EMPLOYEES = [
    Person("e-1", "Jan Kowalski", email="jan@example.org"),
    Person("e-2", "Zoë Łukasik", email="zoe@example.org"),
    Person("e-3", "Ana-Maria Ortiz"),
    Person("v-1", "Jana Visitor", PersonKind.VISITOR, email="jana@visitor.example"),
    *[Person(f"t-{i}", f"Test Person {i}") for i in range(10)],
]


def _site(url: str) -> Iterator[Site]:
    with open_store(url) as store:
        change = Change("test", NOW, KEY)
        for person in EMPLOYEES:
            add_person(store.engine, person, change)
        desk = InvitationDesk(store.engine, site="hq", audit_key=KEY, emit=console_emitter(store, "hq"))
        server = ApiServer(store, port=0, site="hq", audit_key=KEY, invitations=desk)
        site = Site(server, store, desk)
        for role in ("guard", "manager"):
            site.tokens[role] = create_token(store.engine, role + "-1", role, change)[1]
        site.tokens["kiosk"] = create_token(store.engine, "kiosk-1", "kiosk", change)[1]
        with server:
            yield site


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Site]:
    """The API on SQLite."""
    yield from _site(sqlite_url)


@pytest.fixture
def db_site(db_url: str) -> Iterator[Site]:
    """The API on SQLite and on PostgreSQL."""
    yield from _site(db_url)


def test_roles_kiosk_below_guard() -> None:
    """kiosk < guard < manager < admin."""
    assert all(allowed(role, "kiosk") for role in ("kiosk", "guard", "manager", "admin"))
    assert not allowed("kiosk", "guard")
    assert not allowed("", "kiosk")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/people"), ("GET", "/api/onsite"), ("GET", "/api/alarms"), ("GET", "/api/invitations"),
    ("POST", "/api/invitations"), ("GET", "/api/watchlist"), ("GET", "/api/invitations/X/qr.png"),
])
def test_a_kiosk_token_is_refused_on_staff_routes(site: Site, method: str, path: str) -> None:
    """403 for a kiosk on every guard route; 401 without a token."""
    assert site.call(method, path, "kiosk", {} if method == "POST" else None).status == 403
    assert site.call(method, path).status == 401


@pytest.mark.parametrize("path", [
    "/api/kiosk/hosts?q=jan", "/api/kiosk/hosts/all", "/api/kiosk/invitations",
    "/api/kiosk/visitors?q=ana", "/api/kiosk/onsite?q=ana", "/api/kiosk/watchlist",
])
def test_kiosk_routes_answer_kiosks_and_guards_but_not_strangers(site: Site, path: str) -> None:
    """A guard may do what a kiosk may; no token is 401."""
    assert site.call("GET", path, "kiosk").status == 200
    assert site.call("GET", path, "guard").status == 200
    assert site.call("GET", path).status == 401


def test_host_search_shows_employees_only_by_name_prefix_ignoring_case_and_accents(site: Site) -> None:
    """Id and name, never a visitor, never an e-mail; any name word; at most 8."""
    def hosts(q: str) -> list[Any]:
        reply = site.call("GET", f"/api/kiosk/hosts?q={quote(q)}", "kiosk")
        assert reply.status == 200
        return list(reply.json)

    assert hosts("ja") == [{"id": "e-1", "name": "Jan Kowalski"}]  # not the visitor Jana
    assert hosts("KOW") == [{"id": "e-1", "name": "Jan Kowalski"}]
    assert hosts("jan kow") == [{"id": "e-1", "name": "Jan Kowalski"}]
    assert hosts("luk") == hosts("Łuk") == hosts("zoe") == [{"id": "e-2", "name": "Zoë Łukasik"}]
    assert hosts("ortiz") == [{"id": "e-3", "name": "Ana-Maria Ortiz"}]
    assert hosts("owalski") == []  # a prefix, not a substring
    assert len(hosts("test")) == 8
    assert site.call("GET", "/api/kiosk/hosts?q=", "kiosk").status == 400
    everyone = site.call("GET", "/api/kiosk/hosts/all", "kiosk")
    assert {p["id"] for p in everyone.json} == {p.id for p in EMPLOYEES if p.kind is PersonKind.EMPLOYEE}
    assert all(set(p) == {"id", "name"} for p in everyone.json)
    assert b"@" not in everyone.raw
    assert b"Jana" not in everyone.raw


def _soon_today() -> datetime:
    """Half an hour from now, or a minute before midnight (UTC, the site's zone here): still today."""
    now = datetime.now(UTC).replace(microsecond=0)
    return min(now + timedelta(minutes=30), now.replace(hour=23, minute=59, second=0))


def test_invitation_life_through_the_api(db_site: Site) -> None:
    """Invite (guard), look up by code (kiosk), cache list, QR, cancel (manager only), then gone."""
    call = db_site.call
    body = {"visitor_name": "Ana López", "host_id": "e-1", "company": "Analytica Experts",
            "email": "ana@example.org", "visitor_type": "interview",
            "expected_at": _soon_today().isoformat()}
    made = call("POST", "/api/invitations", "guard", body)
    assert made.status == 201, made.raw
    inv = made.json
    assert (inv["host_name"], inv["state"], inv["created_by"], inv["emailed"]) == (
        "Jan Kowalski", "open", "api:guard-1", False)
    assert call("POST", "/api/invitations", "guard", {**body, "host_id": "v-1"}).status == 400
    bad = call("POST", "/api/invitations", "guard", {**body, "expected_at": "2026-11-23T09:00"})
    assert (bad.status, bad.json["error"].startswith("expected_at:")) == (400, True)

    found = call("GET", f"/api/kiosk/invitations/{quote(inv['code'], safe='')}", "kiosk")
    assert found.status == 200
    assert found.json["visit_id"] == inv["visit_id"]
    assert (found.json["visitor_name"], found.json["host_name"], found.json["visitor_type"]) == (
        "Ana López", "Jan Kowalski", "interview")
    assert "code" not in found.json
    assert call("GET", f"/api/kiosk/invitations/{inv['code']}", "kiosk").status == 200  # unencoded colons
    assert call("GET", f"/api/kiosk/invitations/{quote(inv['code'][:-2])}", "kiosk").status == 404
    cached = call("GET", "/api/kiosk/invitations?upcoming_h=24", "kiosk")
    digest = hashlib.sha256(inv["code"].encode()).hexdigest()
    assert [(i["visit_id"], i["code_sha256"]) for i in cached.json] == [(inv["visit_id"], digest)]
    assert all("code" not in i and "email" not in i for i in cached.json)
    secret = inv["code"].rsplit(":", 1)[1]  # not in clear, nor JSON-escaped, nor the visitor's e-mail
    for hidden in (inv["code"], secret, json.dumps(inv["code"])[1:-1], "ana@example.org", "López",
                   "Analytica"):  # nor the visitor's name or company: masked, and sealed under the code
        assert hidden.encode() not in cached.raw
    [listed] = cached.json
    assert (listed["visitor_name"], listed["company"]) == ("A** L****", "Ana****** E******")
    full = {"visitor_name": "Ana López", "company": "Analytica Experts"}
    assert unseal(inv["code"], listed["sealed"]) == full
    with pytest.raises(ValueError, match="does not open"):
        unseal(inv["code"][:-1] + "x", listed["sealed"])
    assert call("GET", "/api/kiosk/invitations?upcoming_h=0", "kiosk").status == 400
    assert [i["visit_id"] for i in call("GET", "/api/invitations", "guard").json] == [inv["visit_id"]]
    assert [i["visit_id"] for i in call("GET", "/api/invitations?day=today", "guard").json] == [
        inv["visit_id"]]
    assert call("GET", "/api/invitations?day=monday", "guard").status == 400

    qr = call("GET", f"/api/invitations/{inv['visit_id']}/qr.png", "guard")
    assert (qr.status, qr.content_type) == (200, "image/png")
    assert decode_qr(qr.raw) == inv["code"]
    assert call("GET", "/api/invitations/NOPE/qr.png", "guard").status == 404

    assert call("DELETE", f"/api/invitations/{inv['visit_id']}", "guard").status == 403
    cancelled = call("DELETE", f"/api/invitations/{inv['visit_id']}", "manager")
    assert (cancelled.status, cancelled.json["state"]) == (200, "cancelled")
    assert call("DELETE", f"/api/invitations/{inv['visit_id']}", "manager").status == 409
    assert call("DELETE", "/api/invitations/NOPE", "manager").status == 404
    assert call("GET", f"/api/kiosk/invitations/{quote(inv['code'], safe='')}", "kiosk").status == 404
    assert call("GET", "/api/kiosk/invitations", "kiosk").json == []

    [invited] = db_site.store.query_events(types=["visitor.invited"])
    assert invited.data.visit_id == inv["visit_id"]  # type: ignore[attr-defined]
    with db_site.store.engine.connect() as conn:
        records = list(read_chain(conn))
        assert verify(records, key=KEY, expected=chain_head(conn)).ok
    assert [r.actor for r in records if r.action.startswith("invitation.")] == ["api:guard-1",
                                                                                "api:manager-1"]


def visit(visit_id: str, name: str, *, seq: int, days_ago: float = 0, company: str | None = None,
          email: str | None = None, badge: str | None = None) -> Event:
    """A kiosk check-in stored in the log."""
    data = VisitorCheckedIn(visit_id=visit_id, visitor_name=name, visitor_type="guest", company=company,
                            email=email, badge=badge, host_id="e-1")
    return make_event("hq", "kiosk-1", "visitor.checked_in", seq, data,
                      time=NOW - timedelta(days=days_ago, minutes=seq))


def test_returning_visitors_are_masked_until_the_visitor_picks_one(db_site: Site) -> None:
    """Newest visit per person, at most 5, names and companies masked; a token gives the details once."""
    events = [
        visit("V1", "Ana López", seq=1, days_ago=40, company="Old Corp", email="ana@example.org"),
        visit("V2", "Ana López", seq=2, days_ago=3, company="Analytica Experts", email="ana@example.org"),
        visit("V3", "Anabel Smith", seq=3, days_ago=5),
        visit("V4", "Diana Ross", seq=4, days_ago=6),
        visit("V5", "visitor 3fa2c1d9", seq=5, days_ago=7),  # anonymised by retention
        *[visit(f"W{i}", f"Ana Clone {i}", seq=10 + i, days_ago=8) for i in range(6)],
    ]
    assert len(db_site.store.store_batch(events, NOW).stored) == len(events)
    reply = db_site.call("GET", "/api/kiosk/visitors?q=ANA", "kiosk")
    assert reply.status == 200
    shown = reply.json
    assert len(shown) == 5
    assert shown[0] == {"token": shown[0]["token"], "name": "A** L****", "company": "Ana****** E******",
                        "last_visit": (NOW - timedelta(days=3, minutes=2)).date().isoformat()}
    assert [s["name"] for s in shown[:2]] == ["A** L****", "A***** S****"]  # name starts first, newest first
    for secret in (b"L\\u00f3pez", "López".encode(), b"Smith", b"Analytica", b"ana@example.org", b"visitor "):
        assert secret not in reply.raw
    assert "D**** R***" not in [s["name"] for s in shown]  # 'ana' inside Diana: later than the starts

    details = db_site.call("GET", f"/api/kiosk/visitors/{shown[0]['token']}", "kiosk")
    assert details.status == 200
    assert details.json == {"visitor_name": "Ana López", "company": "Analytica Experts",
                            "visitor_type": "guest", "language": None, "last_visit": shown[0]["last_visit"]}
    assert b"@" not in details.raw  # never the e-mail
    again = db_site.call("GET", f"/api/kiosk/visitors/{shown[0]['token']}", "kiosk")
    assert again.status == 404  # single use
    assert db_site.call("GET", f"/api/kiosk/visitors/{shown[0]['token']}", "guard").status == 404
    assert db_site.call("GET", f"/api/kiosk/visitors/{shown[1]['token']}", "kiosk").json["visitor_name"] == (
        "Anabel Smith")  # another result's token still works, once
    assert db_site.call("GET", "/api/kiosk/visitors/not-a-token", "kiosk").status == 404
    by_mail = db_site.call("GET", "/api/kiosk/visitors?q=ANA@example.org", "kiosk").json
    assert [s["name"] for s in by_mail] == ["A** L****"]
    assert db_site.call("GET", "/api/kiosk/visitors?q=diana", "kiosk").json[0]["name"] == "D**** R***"
    assert db_site.call("GET", "/api/kiosk/visitors?q=a", "kiosk").status == 400
    assert db_site.call("GET", "/api/kiosk/visitors?q=visitor", "kiosk").json == []


def test_visitors_on_site_for_check_out_by_badge_or_name(db_site: Site) -> None:
    """Only visitors still on site; masked; found by badge value, visit id or a part of the name."""
    out = VisitorCheckedOut(visit_id="V2", method="qr")
    events = [visit("V1", "Ana López", seq=1, badge="0A1B2C3D", company="Acme"),
              visit("V2", "Anabel Smith", seq=2, badge="0A1B2C3E"),
              make_event("hq", "kiosk-1", "visitor.checked_out", 3, out, time=NOW)]
    db_site.store.store_batch(events, NOW)
    found = db_site.call("GET", "/api/kiosk/onsite-badge/0a1b2c3d", "kiosk")
    assert found.status == 200
    assert found.json == {"visit_id": "V1", "name": "A** L****", "company": "Acm*",
                          "since": (NOW - timedelta(minutes=1)).isoformat()}
    assert db_site.call("GET", "/api/kiosk/onsite-badge/V1", "kiosk").json["visit_id"] == "V1"
    assert db_site.call("GET", "/api/kiosk/onsite-badge/0A1B2C3E", "kiosk").status == 404  # checked out
    named = db_site.call("GET", "/api/kiosk/onsite?q=lope", "kiosk")
    assert [(p["visit_id"], p["name"]) for p in named.json] == [("V1", "A** L****")]
    assert b"L\\u00f3pez" not in named.raw
    assert "López".encode() not in named.raw
    assert db_site.call("GET", "/api/kiosk/onsite?q=smith", "kiosk").json == []


def test_watchlist_managed_by_managers_read_by_guards_and_kiosks(db_site: Site) -> None:
    """Managers add and remove; guards see the reason; kiosks see names and aliases only."""
    call = db_site.call
    entry = {"name": "John  Smith", "aliases": ["Jon Smyth", "J. Smith"], "reason": "threatened staff"}
    assert call("POST", "/api/watchlist", "guard", entry).status == 403
    assert call("POST", "/api/watchlist", "kiosk", entry).status == 403
    added = call("POST", "/api/watchlist", "manager", entry)
    assert added.status == 201
    assert (added.json["name"], added.json["added_by"]) == ("John Smith", "api:manager-1")
    assert call("POST", "/api/watchlist", "manager", {"name": ""}).status == 400
    assert call("POST", "/api/watchlist", "manager", {"name": "X", "aliases": "Y"}).status == 400
    kiosk = call("GET", "/api/kiosk/watchlist", "kiosk").json
    assert kiosk == [{"id": added.json["id"], "name": "John Smith", "aliases": ["Jon Smyth", "J. Smith"]}]
    [full] = call("GET", "/api/watchlist", "guard").json
    assert full["reason"] == "threatened staff"
    assert call("DELETE", f"/api/watchlist/{full['id']}", "guard").status == 403
    assert call("DELETE", f"/api/watchlist/{full['id']}", "manager").status == 200
    assert call("DELETE", f"/api/watchlist/{full['id']}", "manager").status == 404
    assert call("DELETE", "/api/watchlist/abc", "manager").status == 404
    assert call("GET", "/api/kiosk/watchlist", "kiosk").json == []
    assert [e["removed_at"] is not None for e in call("GET", "/api/watchlist?removed=1", "guard").json] == [
        True]


def test_pick_tokens_run_out() -> None:
    """A token resolves until its time is up, then never again."""
    clock = [0.0]
    picks = Picks(ttl_s=60, clock=lambda: clock[0])
    token = picks.issue({"visitor_name": "Ana"})
    assert picks.resolve(token) == {"visitor_name": "Ana"}
    clock[0] = 61.0
    assert picks.resolve(token) is None
    clock[0] = 0.0
    assert picks.resolve(token) is None  # forgotten, not only hidden


@pytest.mark.parametrize(("name", "masked"), [
    ("Ana López", "A** L****"), ("Jo", "J*"), ("Ana  Maria de la Cruz", "A** M**** d* l* C***"), ("X", "X"),
])
def test_mask_name(name: str, masked: str) -> None:
    """The first letter of each word."""
    assert mask_name(name) == masked


def test_mask_company_and_fold() -> None:
    """Three letters of the first word, one of the rest; folding drops accents and case."""
    assert mask_company("Analytica Experts") == "Ana****** E******"
    assert mask_company("HP") == "HP"
    assert mask_company(None) is None
    assert fold("  Łódź  ZOË Straße ") == "lodz zoe strasse"


def test_the_kiosks_own_client_reads_the_real_api(site: Site, tmp_path: Path) -> None:
    """kiosk.central_client against the real routes: hosts (accents ignored), an invitation by its
    code online and, after a refresh, from the cache with the service gone."""
    code = site.desk.invite(visitor_name="Ana López", host_id="e-2", by="test").invitation.code
    config = parse_kiosk({"kiosk": {"api_url": site.server.url, "api_token": site.tokens["kiosk"],
                                    "camera": "none"}}, data_dir=tmp_path, environ={})
    client = CentralClient.from_config(config)
    assert [h.name for h in client.hosts.search("zoe")] == ["Zoë Łukasik"]
    found = client.invitations.find(code)
    assert found is not None
    assert (found.visitor_name, found.host_name) == ("Ana López", "Zoë Łukasik")
    assert client.refresh()
    site.server.stop()  # the service goes away: the kiosk answers from what it cached
    cached = client.invitations.find(code)
    assert cached == found  # the full name and company, opened with the code the visitor showed
    rows = json.loads((tmp_path / "kiosk-cache" / "invitations.json").read_text(encoding="utf-8"))
    assert [(r["visitor_name"], r["company"]) for r in rows] == [("A** L****", None)]
    assert [h.name for h in client.hosts.search("jan")] == ["Jan Kowalski"]
    assert not client.online

