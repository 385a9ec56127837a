"""The console's forms for people, rights, invitations and the watchlist, over real HTTP: each one's
happy path (stored and audited as the API's are) and a refusal that changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from security.storage import people, watchlist
from security.storage.audit_log import read_chain
from tests.fixtures.console import ConsoleSite, Session

AWAY = 303


def _actions(site: ConsoleSite, actor: str) -> list[tuple[str, str]]:
    with site.store.engine.connect() as conn:
        return [(r.action, r.subject) for r in read_chain(conn)
                if r.actor == actor and not r.action.startswith("login.")]


def _logged_in(site: ConsoleSite, name: str) -> tuple[Session, str]:
    session = Session(site.base)
    assert session.login(name) == AWAY
    return session, session.csrf()


def test_a_manager_keeps_a_person_their_badge_and_right_and_a_guard_only_reads_them_masked(
    console_site: ConsoleSite,
) -> None:
    engine = console_site.store.engine
    manager, csrf = _logged_in(console_site, "max")
    status, headers, _page = manager.request("POST", "/console/people", {
        "csrf": csrf, "id": "e-nina", "name": "Nina New", "email": "nina@example.com",
        "groups": "staff, night"})
    assert (status, headers["location"]) == (AWAY, "/console/people/e-nina")
    again = {"csrf": csrf, "id": "e-nina", "name": "Again"}
    assert manager.request("POST", "/console/people", again)[0] == 409
    badge = {"csrf": csrf, "value": "00a1b2c3d4", "format": "em4100", "valid_until": "2099-01-01T00:00"}
    assert manager.request("POST", "/console/people/e-nina/badges", badge)[0] == AWAY
    status, _headers, page = manager.request("POST", "/console/people/e-nina/badges",
                                             {**badge, "value": "xyz"})
    assert status == 400
    assert "value" in page
    assert manager.request("POST", "/console/door-groups",
                           {"csrf": csrf, "name": "lobby", "doors": "front, side"})[0] == AWAY
    status, headers, _page = manager.request("POST", "/console/rights", {
        "csrf": csrf, "door_group": "lobby", "person_id": "e-nina", "days": ["0", "4"], "start": "08:00",
        "end": "18:00", "tz": "Europe/Warsaw"})
    assert (status, headers["location"]) == (AWAY, "/console/people/e-nina")
    assert manager.request("POST", "/console/rights", {"csrf": csrf, "door_group": "lobby",
                                                       "person_id": "e-nina"})[0] == 400  # no schedule

    view = people.get_person(engine, "e-nina")
    assert (view.person.name, view.person.groups) == ("Nina New", frozenset({"staff", "night"}))
    assert [c.value for c in view.credentials] == ["00A1B2C3D4"]
    assert view.credentials[0].valid_until == datetime(2099, 1, 1, tzinfo=console_site_tz(console_site))
    ((_right_id, right),) = view.rights
    assert (right.door_group, right.schedule.tz, [w.weekday for w in right.schedule.windows]) == (
        "lobby", "Europe/Warsaw", [0, 4])
    page = manager.request("GET", "/console/people/e-nina")[2]
    assert "00A1B2C3D4" in page
    assert "08:00\u201318:00" in page  # an en dash between the times

    guard, guard_csrf = _logged_in(console_site, "gus")
    page = guard.request("GET", "/console/people/e-nina")[2]
    assert "******C3D4" in page
    assert "00A1B2C3D4" not in page
    assert 'action="/console/people/e-nina/badges"' not in page
    refused = guard.request("POST", "/console/people/e-nina/badges", {**badge, "csrf": guard_csrf,
                                                                      "value": "00FFFFFFFF"})
    assert refused[0] == 403
    assert guard.request("POST", "/console/people/e-nina/delete", {"csrf": guard_csrf})[0] == 403
    assert "Nina New" in guard.request("GET", "/console/people?text=nina&kind=employee")[2]
    assert "Nina New" not in guard.request("GET", "/console/people?text=nina&kind=visitor")[2]

    assert manager.request("POST", "/console/people/e-nina/edit",
                           {"csrf": csrf, "name": "Nina Newer", "email": "", "groups": "staff"})[0] == AWAY
    assert manager.request("POST", "/console/people/e-nina/badges/revoke",
                           {"csrf": csrf, "value": "00A1B2C3D4"})[0] == AWAY
    assert manager.request("POST", "/console/people/e-nina/badges/revoke",
                           {"csrf": csrf, "value": "00A1B2C3D4"})[0] == 404  # revoked already
    view = people.get_person(engine, "e-nina")
    assert (view.person.name, view.person.email, view.person.groups) == ("Nina Newer", None,
                                                                         frozenset({"staff"}))
    assert view.credentials[0].revoked_at is not None
    assert manager.request("POST", "/console/people/e-nina/delete", {"csrf": csrf})[0] == AWAY
    with pytest.raises(people.NotFoundError):
        people.get_person(engine, "e-nina")
    assert _actions(console_site, "user:max") == [
        ("person.added", "person:e-nina"), ("credential.added", "person:e-nina"),
        ("door_group.set", "door_group:lobby"), ("right.granted", "person:e-nina"),
        ("person.updated", "person:e-nina"), ("credential.revoked", "person:e-nina"),
        ("person.removed", "person:e-nina")]
    assert _actions(console_site, "user:gus") == []


def console_site_tz(site: ConsoleSite) -> ZoneInfo:
    """The site's zone, which the forms' local times are in."""
    return ZoneInfo(site.central.config.office.alarms.timezone)


CSV = b"employee_id,name,email,groups,badge,badge_format\n" \
      b"e-csv1,Cara Csv,cara@example.com,staff,00C0FFEE01,em4100\n" \
      b",No Id,,,,\n"


def test_a_manager_imports_employees_from_a_file_and_sees_the_report(console_site: ConsoleSite) -> None:
    manager, csrf = _logged_in(console_site, "mia")
    status, _headers, page = manager.upload("/console/people/import", {"csrf": csrf, "dry_run": "true"},
                                            ("file", "staff.csv", CSV))
    assert status == 200, page
    assert "Checked only" in page
    with pytest.raises(people.NotFoundError):
        people.get_person(console_site.store.engine, "e-csv1")
    status, _headers, page = manager.upload("/console/people/import", {"csrf": csrf},
                                            ("file", "staff.csv", CSV))
    assert status == 200, page
    report = re.search(r'id="import-report">([^<]*)<', page)
    assert report is not None
    assert "Added: 1" in report.group(1)
    assert "Rows refused: 1" in report.group(1)
    assert 'id="import-errors"' in page
    assert [c.value for c in people.get_person(console_site.store.engine, "e-csv1").credentials] == [
        "00C0FFEE01"]
    status, _headers, page = manager.upload("/console/people/import", {"csrf": csrf},
                                            ("file", "staff.csv", b"\xff\xfe not utf-8"))
    assert status == 400
    assert "not UTF-8" in page

    reception, reception_csrf = _logged_in(console_site, "rita")
    status, _headers, _page = reception.upload("/console/people/import", {"csrf": reception_csrf},
                                               ("file", "staff.csv", CSV.replace(b"e-csv1", b"e-csv2")))
    assert status == 403
    with pytest.raises(people.NotFoundError):
        people.get_person(console_site.store.engine, "e-csv2")


def test_a_host_invites_only_as_herself_and_sees_the_qr_code_and_reception_cancels(
    console_site: ConsoleSite,
) -> None:
    tz = console_site_tz(console_site)
    tomorrow = (datetime.now(UTC).astimezone(tz) + timedelta(days=1)).date()
    host, csrf = _logged_in(console_site, "hana")
    form = {"csrf": csrf, "visitor_name": "Vera Visitor", "company": "Vista", "email": "vera@example.com",
            "visitor_type": "contractor", "host_id": "e-hana", "expected": f"{tomorrow}T15:30"}
    status, headers, _page = host.request("POST", "/console/invitations", form)
    assert status == AWAY
    visit_id = headers["location"].rsplit("/", 1)[1]
    made = console_site.central.invitations.get(visit_id)
    assert made is not None
    assert (made.visitor_name, made.company, made.visitor_type, made.host_id, made.created_by) == (
        "Vera Visitor", "Vista", "contractor", "e-hana", "user:hana")
    assert made.expected_at == datetime.combine(tomorrow, datetime.min.time(), tzinfo=tz).replace(hour=15,
                                                                                                  minute=30)
    page = host.request("GET", f"/console/invitations/{visit_id}")[2]
    assert "Vera Visitor" in page
    assert f'src="/console/invitations/{visit_id}/qr.png"' in page
    assert "Vera Visitor" in host.request("GET", "/console/invitations")[2]
    status, headers, _png = host.request("GET", f"/console/invitations/{visit_id}/qr.png")
    assert (status, headers["content-type"]) == (200, "image/png")
    png = _raw(host, f"/console/invitations/{visit_id}/qr.png")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    # the ArUco-based detector: the classic one misses about 1 code in 75 of these (measured)
    decoded, _points, _code = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    assert decoded == made.code

    others = len(console_site.central.invitations.recent())
    assert host.request("POST", "/console/invitations", {**form, "host_id": "e-other"})[0] == 403
    assert len(console_site.central.invitations.recent()) == others
    theirs = console_site.central.invitations.invite(visitor_name="Otto Other", host_id="e-other", by="setup")
    other_id = theirs.invitation.visit_id
    assert host.request("GET", f"/console/invitations/{other_id}")[0] == 404
    assert host.request("GET", f"/console/invitations/{other_id}/qr.png")[0] == 404
    assert host.request("POST", f"/console/invitations/{other_id}/cancel", {"csrf": csrf})[0] == 404
    assert "Otto Other" not in host.request("GET", "/console/invitations")[2]
    assert host.request("POST", "/console/invitations", {**form, "expected": "soon"})[0] == 400

    reception, reception_csrf = _logged_in(console_site, "rita")
    listed = reception.request("GET", "/console/invitations")[2]
    assert "Otto Other" in listed  # expected today: reception sees today's visitors in full
    assert "Vera Visitor" not in listed  # tomorrow's, masked as on the Visits page
    assert "V*** V******" in listed
    assert reception.request("POST", f"/console/invitations/{visit_id}/cancel",
                             {"csrf": reception_csrf})[0] == AWAY
    assert reception.request("POST", f"/console/invitations/{visit_id}/cancel",
                             {"csrf": reception_csrf})[0] == 409
    cancelled = console_site.central.invitations.get(visit_id)
    assert cancelled is not None
    assert cancelled.state == "cancelled"
    assert ("invitation.cancelled", f"visit:{visit_id}") in _actions(console_site, "user:rita")
    guard, guard_csrf = _logged_in(console_site, "gus")
    assert guard.request("POST", "/console/invitations", {**form, "csrf": guard_csrf})[0] == 403


def _raw(session: Session, path: str) -> bytes:
    with session.opener.open(session.base + path, timeout=15) as reply:
        data: bytes = reply.read()
        return data


def test_a_manager_keeps_the_watchlist_and_a_guard_reads_it(console_site: ConsoleSite) -> None:
    manager, csrf = _logged_in(console_site, "max")
    assert manager.request("POST", "/console/watchlist", {
        "csrf": csrf, "name": "Wanda Watched", "aliases": "W. Watched, Wanda W",
        "reason": "banned"})[0] == AWAY
    assert manager.request("POST", "/console/watchlist", {"csrf": csrf, "name": "   "})[0] == 400
    (entry,) = watchlist.list_entries(console_site.store.engine)
    assert (entry.name, entry.aliases, entry.reason, entry.added_by) == (
        "Wanda Watched", ("W. Watched", "Wanda W"), "banned", "user:max")
    guard, guard_csrf = _logged_in(console_site, "gus")
    page = guard.request("GET", "/console/watchlist")[2]
    assert "Wanda Watched" in page
    assert "/remove" not in page
    assert guard.request("POST", f"/console/watchlist/{entry.id}/remove", {"csrf": guard_csrf})[0] == 403
    assert guard.request("POST", "/console/watchlist", {"csrf": guard_csrf, "name": "Nobody"})[0] == 403
    assert manager.request("POST", f"/console/watchlist/{entry.id}/remove", {"csrf": csrf})[0] == AWAY
    assert manager.request("POST", f"/console/watchlist/{entry.id}/remove", {"csrf": csrf})[0] == 404
    assert watchlist.list_entries(console_site.store.engine) == []
    assert "Wanda Watched" not in guard.request("GET", "/console/watchlist")[2]
    assert "Wanda Watched" in guard.request("GET", "/console/watchlist?removed=true")[2]
    assert _actions(console_site, "user:max") == [("watchlist.added", f"watchlist:{entry.id}"),
                                                  ("watchlist.removed", f"watchlist:{entry.id}")]
