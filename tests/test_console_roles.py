"""Every console route for every role: allowed or refused as designed (a table, checked over real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from broker.schemas import DoorChange
from security.office.access import AccessRight, Person, PersonKind, WeeklySchedule
from security.storage import watchlist
from security.storage.alarm_store import list_alarms
from security.storage.people import Change, add_person, grant_right, set_door_group
from tests.fixtures.console import ACCOUNTS, ConsoleSite, Session
from tests.support import wait_until

# What each account gets on each route: 200 shown, 303 sent elsewhere, 403 refused, 400 not for its role's
# range. Written out by hand from the design (docs/console.md), not computed from the code it checks.
OK, AWAY, NO = 200, 303, 403
TODAY = "from={today}&to={today}"
TABLE: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/console/"): {"hana": OK, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK, "adam": AWAY},
    ("GET", "/console/today/panels"): {"hana": OK, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                       "adam": NO},
    ("GET", "/console/visits?" + TODAY): {"hana": OK, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                          "adam": NO},
    ("GET", "/console/visits?from=2026-01-01&to=2026-01-31"): {
        "hana": OK, "rita": OK, "gus": 400, "mia": OK, "max": OK, "aud": OK, "adam": NO},
    ("GET", "/console/visits.csv?" + TODAY): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": NO,
                                              "aud": OK, "adam": NO},
    ("GET", "/console/visits/v-1"): {"hana": OK, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                     "adam": NO},
    ("GET", "/console/visits/v-2"): {"hana": NO, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                     "adam": NO},
    ("GET", "/console/alarms"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                 "adam": NO},
    ("GET", "/console/alarms.csv"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": NO, "aud": OK,
                                     "adam": NO},
    ("GET", "/console/incidents"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                    "adam": NO},
    ("GET", "/console/incidents.csv"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": NO, "aud": OK,
                                        "adam": NO},
    ("POST", "/console/incidents"): {"hana": NO, "rita": NO, "gus": AWAY, "mia": AWAY, "max": AWAY, "aud": NO,
                                     "adam": NO},
    ("GET", "/console/devices"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                  "adam": NO},
    ("GET", "/console/devices.csv"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": NO, "aud": OK,
                                      "adam": NO},
    ("GET", "/console/devices/kiosk-1"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                          "adam": NO},
    ("GET", "/console/privacy?visit=v-1"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": NO,
                                            "aud": NO, "adam": NO},
    ("GET", "/console/audit"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": OK, "aud": OK,
                                "adam": OK},
    ("GET", "/console/audit.csv"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": NO, "aud": OK,
                                    "adam": NO},
    ("POST", "/console/audit/verify"): {"hana": NO, "rita": NO, "gus": NO, "mia": OK, "max": OK, "aud": OK,
                                        "adam": OK},
    ("GET", "/console/people"): {"hana": NO, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                 "adam": NO},
    ("GET", "/console/people?text=hana&kind=employee"): {"hana": NO, "rita": OK, "gus": OK, "mia": OK,
                                                          "max": OK, "aud": OK, "adam": NO},
    ("POST", "/console/people"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY, "max": AWAY, "aud": NO,
                                  "adam": NO},
    ("POST", "/console/people/import"): {"hana": NO, "rita": NO, "gus": NO, "mia": 400, "max": 400, "aud": NO,
                                         "adam": NO},
    ("GET", "/console/rights"): {"hana": NO, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                 "adam": NO},
    ("POST", "/console/door-groups"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY, "max": AWAY, "aud": NO,
                                       "adam": NO},
    ("POST", "/console/rights"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY, "max": AWAY, "aud": NO,
                                  "adam": NO},
    ("GET", "/console/invitations"): {"hana": OK, "rita": OK, "gus": NO, "mia": OK, "max": OK, "aud": NO,
                                      "adam": NO},
    ("POST", "/console/invitations"): {"hana": AWAY, "rita": AWAY, "gus": NO, "mia": AWAY, "max": AWAY,
                                       "aud": NO, "adam": NO},
    ("GET", "/console/watchlist"): {"hana": NO, "rita": OK, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                    "adam": NO},
    ("POST", "/console/watchlist"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY, "max": AWAY, "aud": NO,
                                     "adam": NO},
}
"""The import is posted without its file: refused (400) once the role may import, 403 before that."""
FIELDS: dict[str, dict[str, str]] = {
    "/console/incidents": {"title": "by {name}", "category": "other"},
    "/console/people": {"id": "p-{name}", "name": "Person of {name}", "groups": "staff"},
    "/console/door-groups": {"name": "lobby", "doors": "front, back"},
    "/console/rights": {"door_group": "lobby", "group": "staff", "always": "true"},
    "/console/invitations": {"visitor_name": "Guest of {name}", "host_id": "e-hana"},
    "/console/watchlist": {"name": "Watched by {name}", "reason": "seen"},
    "/console/people/{person_id}/edit": {"name": "Renamed by {name}", "groups": "staff"},
    "/console/people/{person_id}/badges": {"value": "{badge}", "format": "em4100"},
    "/console/people/{person_id}/badges/revoke": {"value": "{badge}"},
}
"""What each form posts (besides its CSRF token), filled in for the account."""


def _form(path: str, csrf: str, **values: str) -> dict[str, str]:
    return {"csrf": csrf, **{k: v.format(**values) for k, v in FIELDS.get(path, {}).items()}}


def test_the_table_names_every_account_and_every_route(console_site: ConsoleSite) -> None:
    assert all(row.keys() == ACCOUNTS.keys() for row in TABLE.values())
    assert console_site.central.api is not None
    routes = {path for _methods, path in console_site.central.api.web.state.console_routes}
    checked = {path.split("?")[0].replace("kiosk-1", "{device}") for _method, path in TABLE}
    checked |= {path.replace("{incident}", "{incident_id}") for _method, path in ONE_INCIDENT}
    checked |= {path.replace("{alarm}", "{alarm_id}") for _method, path in ONE_ALARM}
    checked |= {path for _method, path in ONE_EACH}
    # login, logout, static files, the live feed and snapshots are checked on their own
    assert routes - checked == {"/console/login", "/console/logout", "/console/static/{name}",
                                "/console/live", "/console/visits/{visit_id}", "/console/privacy/export",
                                "/console/privacy/erase",
                                "/console/incidents/{incident_id}/snapshots/{event_id}"}


def test_every_role_gets_what_the_table_says(console_site: ConsoleSite) -> None:
    day = _today(console_site)
    wrong: list[str] = []
    for name in ACCOUNTS:
        session = Session(console_site.base)
        assert session.login(name) == AWAY, name
        csrf = session.csrf("/console/audit" if name == "adam" else "/console/")
        for (method, path), row in TABLE.items():
            target = path.format(today=day)
            form = _form(path, csrf, name=name) if method == "POST" else None
            status, _headers, _text = session.request(method, target, form)
            if status != row[name]:
                wrong.append(f"{name} {method} {target}: {status}, expected {row[name]}")
    assert wrong == []


ONE_INCIDENT: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/console/incidents/{incident}"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK, "max": OK,
                                               "aud": OK, "adam": NO},
    ("GET", "/console/incidents/{incident}/report.pdf"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK,
                                                          "max": OK, "aud": OK, "adam": NO},
    ("POST", "/console/incidents/{incident}/note"): {"hana": NO, "rita": NO, "gus": AWAY, "mia": AWAY,
                                                     "max": AWAY, "aud": NO, "adam": NO},
    ("POST", "/console/incidents/{incident}/attach"): {"hana": NO, "rita": NO, "gus": 400, "mia": 400,
                                                       "max": 400, "aud": NO, "adam": NO},
    ("POST", "/console/incidents/{incident}/close"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                      "max": AWAY, "aud": NO, "adam": NO},
}
"""One incident's routes; each account works on an incident of its own (closing one ends it).
An attachment naming no stored event is refused (400) once the role may attach."""


def test_every_role_gets_what_the_table_says_on_one_incident(console_site: ConsoleSite) -> None:
    wrong: list[str] = []
    for name in ACCOUNTS:
        incident = console_site.central.incidents.open(f"for {name}", "setup").id
        session = Session(console_site.base)
        assert session.login(name) == AWAY, name
        csrf = session.csrf("/console/audit" if name == "adam" else "/console/")
        for (method, path), row in ONE_INCIDENT.items():
            form = {"csrf": csrf, "note": "seen", "outcome": "done", "kind": "event",
                    "ref": "no-such-event"} if method == "POST" else None
            status, _headers, _text = session.request(method, path.format(incident=incident), form)
            if status != row[name]:
                wrong.append(f"{name} {method} {path}: {status}, expected {row[name]}")
    assert wrong == []


ONE_EACH: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/console/people/{person_id}"): {"hana": NO, "rita": OK, "gus": OK, "mia": OK, "max": OK,
                                             "aud": OK, "adam": NO},
    ("POST", "/console/people/{person_id}/edit"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                   "max": AWAY, "aud": NO, "adam": NO},
    ("POST", "/console/people/{person_id}/badges"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                     "max": AWAY, "aud": NO, "adam": NO},
    ("POST", "/console/people/{person_id}/badges/revoke"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                            "max": AWAY, "aud": NO, "adam": NO},
    ("POST", "/console/people/{person_id}/delete"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                     "max": AWAY, "aud": NO, "adam": NO},
    ("POST", "/console/rights/{right_id}/delete"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                    "max": AWAY, "aud": NO, "adam": NO},
    ("GET", "/console/invitations/{visit_id}"): {"hana": OK, "rita": OK, "gus": NO, "mia": OK, "max": OK,
                                                 "aud": NO, "adam": NO},
    ("GET", "/console/invitations/{visit_id}/qr.png"): {"hana": OK, "rita": OK, "gus": NO, "mia": OK,
                                                        "max": OK, "aud": NO, "adam": NO},
    ("POST", "/console/invitations/{visit_id}/cancel"): {"hana": AWAY, "rita": AWAY, "gus": NO, "mia": AWAY,
                                                         "max": AWAY, "aud": NO, "adam": NO},
    ("POST", "/console/watchlist/{entry_id}/remove"): {"hana": NO, "rita": NO, "gus": NO, "mia": AWAY,
                                                       "max": AWAY, "aud": NO, "adam": NO},
}
"""A person, a right, an invitation (of hana's) and a watchlist entry of each account's own."""


def test_every_role_gets_what_the_table_says_on_one_of_each(console_site: ConsoleSite) -> None:
    engine, wrong = console_site.store.engine, []
    change = Change("setup", datetime.now(UTC))
    set_door_group(engine, "setup-doors", ["main"], change)
    for number, name in enumerate(ACCOUNTS):
        person = Person(f"one-{name}", f"One {name}", PersonKind.EMPLOYEE)
        add_person(engine, person, change)
        right = grant_right(engine, AccessRight("setup-doors", WeeklySchedule.all_hours(), group="g"), change)
        entry = watchlist.add_entry(engine, f"Entry of {name}", change)
        invited = console_site.central.invitations.invite(visitor_name=f"Invited for {name}",
                                                          host_id="e-hana", by="setup")
        values = {"person_id": person.id, "right_id": str(right), "visit_id": invited.invitation.visit_id,
                  "entry_id": str(entry.id), "badge": f"{0xA0000000 + number:010X}", "name": name}
        session = Session(console_site.base)
        assert session.login(name) == AWAY, name
        csrf = session.csrf("/console/audit" if name == "adam" else "/console/")
        for (method, path), row in ONE_EACH.items():
            form = _form(path, csrf, **values) if method == "POST" else None
            status, _headers, _text = session.request(method, path.format(**values), form)
            if status != row[name]:
                wrong.append(f"{name} {method} {path}: {status}, expected {row[name]}")
    assert wrong == []


def test_without_a_session_every_page_sends_to_the_login(console_site: ConsoleSite) -> None:
    anonymous = Session(console_site.base)
    for method, path in TABLE:
        status, headers, _text = anonymous.request(method, path.format(today="2026-12-04"),
                                                   {"csrf": "x"} if method == "POST" else None)
        if path.startswith("/console/today/"):
            assert status == 401, path
        else:
            assert status == AWAY, path
            assert headers["location"].startswith("/console/login?next=/console/"), path


def test_a_form_without_its_csrf_token_is_refused(console_site: ConsoleSite) -> None:
    manager = Session(console_site.base)
    assert manager.login("max") == AWAY
    status, _headers, page = manager.request("POST", "/console/audit/verify", {"csrf": "forged"})
    assert status == 403
    assert "out of date" in page
    status, _headers, _page = manager.request("POST", "/console/logout", {})
    assert status == 403
    assert manager.request("GET", "/console/")[0] == OK  # still logged in


@pytest.mark.parametrize(("password", "status"), [("wrong password!!", 401), ("", 400)])
def test_a_bad_login_is_refused_and_sets_no_session(console_site: ConsoleSite, password: str,
                                                     status: int) -> None:
    visitor = Session(console_site.base)
    assert visitor.login("mia", password) == status
    assert visitor.request("GET", "/console/")[0] == AWAY


def test_logout_ends_the_session_for_good(console_site: ConsoleSite) -> None:
    manager = Session(console_site.base)
    assert manager.login("mia") == AWAY
    cookies = list(manager.jar)
    assert manager.request("POST", "/console/logout", {"csrf": manager.csrf()})[0] == AWAY
    replay = Session(console_site.base)
    for cookie in cookies:
        replay.jar.set_cookie(cookie)
    assert replay.request("GET", "/console/")[0] == AWAY


def _today(site: ConsoleSite) -> str:
    tz = ZoneInfo(site.central.config.office.alarms.timezone)
    return datetime.now(UTC).astimezone(tz).date().isoformat()


def test_a_manager_with_the_grants_downloads_and_erases_a_visitor_and_others_may_not(
    console_site: ConsoleSite,
) -> None:
    guard = Session(console_site.base)
    assert guard.login("gus") == AWAY
    status, _headers, _text = guard.request("POST", "/console/privacy/export",
                                            {"csrf": guard.csrf(), "visit_ids": "v-3"})
    assert status == NO
    manager = Session(console_site.base)
    assert manager.login("mia") == AWAY
    csrf = manager.csrf()
    chosen = {"csrf": csrf, "visit_ids": "v-3"}
    status, headers, record = manager.request("POST", "/console/privacy/export", chosen)
    assert status == OK
    assert headers["content-type"].startswith("application/json")
    assert "Cy Dee" in record
    status, _headers, page = manager.request("POST", "/console/privacy/erase",
                                             {"csrf": csrf, "visit_ids": "v-3", "reason": "asked by mail"})
    assert status == OK, page
    assert 'id="erased"' in page
    status, _headers, record = manager.request("POST", "/console/privacy/export", chosen)
    assert "Cy Dee" not in record
    status, _headers, page = manager.request("POST", "/console/privacy/erase",
                                             {"csrf": csrf, "visit_ids": "v-1", "reason": "asked"})
    assert status == 400  # still on site: the muster list must name her
    assert "Ana Lopez" in manager.request("GET", "/console/visits/v-1")[2]


ONE_ALARM: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/console/alarms/{alarm}"): {"hana": NO, "rita": NO, "gus": OK, "mia": OK, "max": OK, "aud": OK,
                                         "adam": NO},
    ("GET", "/console/alarms/{alarm}/snapshots/{event_id}"): {"hana": NO, "rita": NO, "gus": 404, "mia": 404,
                                                              "max": 404, "aud": 404, "adam": NO},
}
"""One alarm's routes on a door-forced alarm; it has no snapshot, so a role that may look finds none (404)."""


def test_every_role_gets_what_the_table_says_on_one_alarm(console_site: ConsoleSite) -> None:
    console_site.device("door-1", "door").source.emit("door.forced", DoorChange(door="server-room"))

    def raised() -> list[str]:
        with console_site.store.engine.connect() as conn:
            return [a.id for a in list_alarms(conn)]
    wait_until(lambda: raised() != [], 15, "the door-forced alarm stored")
    [alarm] = raised()
    wrong: list[str] = []
    for name in ACCOUNTS:
        session = Session(console_site.base)
        assert session.login(name) == AWAY, name
        for (method, path), row in ONE_ALARM.items():
            target = path.format(alarm=alarm, event_id="no-such-event")
            status, _headers, _text = session.request(method, target)
            if status != row[name]:
                wrong.append(f"{name} {method} {path}: {status}, expected {row[name]}")
    assert wrong == []
