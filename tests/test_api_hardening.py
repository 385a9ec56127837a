"""The HTTP API against a hostile caller, on a real port, on SQLite and PostgreSQL: malformed bodies are
400 on every route, failed logins are throttled (429) and logged once a minute, user text cannot forge a
log line, and a database that goes away while a token is checked is 503."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from broker.embedded import free_port
from gatehouse.cli import log_handler
from security.api import ROUTES, ApiServer
from security.api.throttle import BURST, LOG_EVERY_S, REFILL_S, AuthThrottle, client_key
from security.office.access import Person
from security.office.alarms import Action, Output
from security.office.incidents import IncidentDesk, console_emitter
from security.office.invitations import InvitationDesk
from security.storage import EventStore, open_store
from security.storage.engine import make_engine
from security.storage.people import Change, add_person
from security.storage.tokens import create_token
from tests.support import Reply, http

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = b"hardening-key"
ROLES = ("kiosk", "guard", "manager", "admin")


@dataclass
class Site:
    """A running API server with incident and invitation desks, its store and a token per role."""

    server: ApiServer
    store: EventStore
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, role: str | None = "admin", *, body: Any = None,
             data: bytes | None = None, token: str | None = None, content_type: str = "application/json",
             ) -> Reply:
        """One request; `role` picks the token (None: no token)."""
        bearer = token or (self.tokens[role] if role else None)
        return http(method, self.server.url + path, token=bearer, body=body, data=data,
                    content_type=content_type)


def _no_alarms(_action: Action) -> Sequence[Output]:
    return []


@pytest.fixture
def db_site(db_url: str) -> Iterator[Site]:
    """The API with every desk, on SQLite and on PostgreSQL."""
    with open_store(db_url) as store:
        change = Change("test", NOW, KEY)
        add_person(store.engine, Person("e-1", "Jan Kowalski"), change)
        emit = console_emitter(store, "hq")
        server = ApiServer(store, port=0, site="hq", audit_key=KEY, now=lambda: NOW, alarm_actions=_no_alarms,
                           incidents=IncidentDesk(store.engine, site="hq", audit_key=KEY, emit=emit),
                           invitations=InvitationDesk(store.engine, site="hq", audit_key=KEY, emit=emit))
        site = Site(server, store)
        for role in ROLES:
            site.tokens[role] = create_token(store.engine, f"{role}-1", role, change)[1]
        with server:
            yield site


def _path(pattern: str) -> str:
    """A route pattern with every `{name}` filled in (`{action}` with a real alarm action)."""
    return re.sub(r"\{(\w+)\}", lambda m: "acknowledge" if m.group(1) == "action" else "x-1", pattern)


JSON_ROUTES = [(r.method, _path(r.pattern)) for r in ROUTES
               if r.method in ("POST", "PUT") and not r.pattern.endswith("/import")]
STRINGS = ("title", "note", "outcome", "name", "id", "visitor_name", "host_id", "company", "value", "format",
           "door_group", "person_id", "group", "reason", "event_id", "alarm_id", "expected_at", "until")
MALFORMED: dict[str, bytes] = {
    "lone surrogate": b'{"title": "Fire \\ud800", "note": "\\udfff", "name": "\\ud800"}',
    "lone surrogate key": b'{"\\udc00": "x"}',
    "50k deep array": b"[" * 50_000 + b"]" * 50_000,
    "50k deep object": b'{"title":' * 50_000 + b"1" + b"}" * 50_000,
    "40 deep": b'{"title": ' + b"[" * 40 + b"]" * 40 + b"}",
    "NUL in every field": json.dumps(dict.fromkeys(STRINGS, "Fire\x00 at door")).encode(),
    "NUL in a list": b'{"doors": ["d-1", "d\\u0000"], "aliases": ["\\u0000"], "alarm_ids": ["a\\u0000"]}',
    "NaN": b'{"minutes": NaN, "title": "t"}',
    "5000-digit number": b'{"minutes": 1' + b"0" * 5000 + b"}",
    "not UTF-8": b'{"title": "\xff\xfe"}',
    "truncated": b'{"title": "Fire',
    "not an object": b'["title"]',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_every_malformed_body_is_400_on_every_route(db_site: Site, body: bytes) -> None:
    """Each malformed body, on each route that takes JSON: 400 naming the problem, never 500."""
    answers = {f"{method} {path}": db_site.call(method, path, data=body) for method, path in JSON_ROUTES}
    assert {route: reply.status for route, reply in answers.items()} == dict.fromkeys(answers, 400)
    assert all(reply.json["error"] for reply in answers.values())


def test_a_nul_in_an_incident_title_is_400_and_stores_nothing(db_site: Site) -> None:
    """The PostgreSQL case of the issue: a NUL in a title is 400 naming the field; the next one is stored."""
    reply = db_site.call("POST", "/api/incidents", body={"title": "Door\x00forced"})
    assert (reply.status, reply.json["error"]) == (400, "title: contains a NUL character")
    surrogate = db_site.call("POST", "/api/incidents", data=b'{"title": "Door \\ud83d forced"}')
    assert (surrogate.status, surrogate.json["error"]) == (
        400, "title: contains a lone surrogate (U+D83D), not valid Unicode")
    assert db_site.call("GET", "/api/incidents").json == []
    assert db_site.call("POST", "/api/incidents", body={"title": "Door \U0001f6aa forced"}).status == 201


def test_nul_in_a_path_or_query_and_bad_csv_are_400(db_site: Site) -> None:
    """A NUL in a path segment or a query value, and a CSV with a NUL or not UTF-8: 400."""
    for path in ("/api/incidents/i%00-1", "/api/people/e%00", "/api/kiosk/hosts?q=a%00",
                 "/api/kiosk/onsite?q=ab%00", "/api/alarms/a%00"):
        reply = db_site.call("GET", path)
        assert (reply.status, "NUL" in reply.json["error"]) == (400, True), path
    assert db_site.call("PUT", "/api/door-groups/g%00", body={"doors": []}).status == 400
    for csv in (b"id,name\ne-9,Ann\x00\n", b"id,name\ne-9,\xff\n"):
        reply = db_site.call("POST", "/api/people/import", data=csv, content_type="text/csv")
        assert reply.status == 400, reply.raw
    for when, error in (("9999-12-31T23:59:59-23:00", "expected_at: time '9999-12-31T23:59:59-23:00' is not"),
                        ("9500-01-01T00:00:00Z", "expected_at: a year from 1970 to 9000")):
        far = db_site.call("POST", "/api/invitations", "guard",
                           body={"visitor_name": "Ana", "host_id": "e-1", "expected_at": when})
        assert (far.status, far.json["error"].startswith(error)) == (400, True), far.json


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
FIELDS = (*STRINGS, "alarm_ids", "event_ids", "doors", "aliases", "minutes", "schedule", "kind", "groups",
          "email", "send_email", "valid_until")
BODIES = st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(JSON_ROUTES), body=BODIES)
def test_no_json_body_makes_a_500(db_site: Site, route: tuple[str, str], body: dict[str, Any]) -> None:
    """Any JSON object with the routes' field names and any values (surrogates, NUL, NaN too): never 500."""
    method, path = route
    reply = db_site.call(method, path, data=json.dumps(body).encode())
    # 503 is the one 5xx a sound body may get: door commands need the central service, absent here
    commands = path.startswith("/api/doors/") or path.endswith(("/lockdown", "/release"))
    unavailable = commands and reply.status == 503
    assert reply.status < 500 or unavailable, (method, path, body, reply.raw)


def _request_from(address: str, site: Site, path: str, token: str) -> int:
    """The status of a GET sent from a chosen loopback address (127.0.0.2 is as loopback as .1)."""
    port = int(site.server.url.rsplit(":", 1)[1])
    conn = HTTPConnection("127.0.0.1", port, timeout=10, source_address=(address, 0))
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_failed_logins_are_throttled_per_address_and_logged_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """10 wrong tokens are 401, then 429 with Retry-After even for a good token (it is not checked);
    another address is not affected; the burst is logged once, naming the address; time passing
    (the throttle's clock) lets the address try again."""
    clock = [0.0]
    with open_store(db_url) as store:
        token = create_token(store.engine, "guard-1", "guard", Change("test", NOW, KEY))[1]
        with ApiServer(store, port=0, site="hq", audit_key=KEY, now=lambda: NOW,
                       throttle=AuthThrottle(clock=lambda: clock[0])) as server:
            site = Site(server, store, {"guard": token})
            with caplog.at_level(logging.WARNING, logger="security.api.throttle"):
                guesses = [site.call("GET", "/api/people", token=f"gh_{i}").status for i in range(BURST)]
                throttled = site.call("GET", "/api/people", token="gh_guess-x")
                good = site.call("GET", "/api/people", "guard")
                elsewhere = _request_from("127.0.0.2", site, "/api/people", token)
                health = site.call("GET", "/api/health", None)  # no token needed, no throttle
                clock[0] = REFILL_S
                later = site.call("GET", "/api/people", "guard")
    assert guesses == [401] * BURST
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, str(int(REFILL_S)))
    assert "too many failed authentications" in throttled.json["error"]
    assert (good.status, good.headers["Retry-After"]) == (429, str(int(REFILL_S)))
    assert (elsewhere, health.status, later.status) == (200, 200, 200)
    logged = [r.getMessage() for r in caplog.records if r.name == "security.api.throttle"]
    assert logged[0] == ("API authentication failed 1 time(s) from 127.0.0.1; "
                         "last: unknown or revoked token on GET /api/people")
    assert logged[1:] == ["API authentication failed 9 time(s) from 127.0.0.1; 2 more refused unchecked "
                          "(429); last: unknown or revoked token on GET /api/people"]  # at stop


def test_the_throttle_logs_once_a_minute_with_counts() -> None:
    """Pure: the first failure is logged at once, the rest of the minute as one line with the counts,
    refused attempts included; a quiet address is forgotten once its bucket is full again."""
    clock = [0.0]
    out = io.StringIO()
    logger = logging.getLogger("tests.throttle")
    logger.addHandler(handler := log_handler(out))
    logger.propagate = False
    try:
        throttle = AuthThrottle(clock=lambda: clock[0], logger=logger)
        for _ in range(BURST):
            assert throttle.retry_after("10.0.0.7") == 0
            throttle.failed("10.0.0.7", "unknown token on GET /api/people\nforged line")
        assert throttle.retry_after("10.0.0.7") == REFILL_S
        clock[0] = REFILL_S / 2
        assert throttle.retry_after("10.0.0.7") == REFILL_S / 2
        assert throttle.retry_after("10.0.0.8") == 0
        clock[0] = LOG_EVERY_S + 1
        assert throttle.retry_after("10.0.0.7") == 0
        clock[0] += LOG_EVERY_S * 2
        throttle.retry_after("10.0.0.8")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = out.getvalue().splitlines()
    assert [line.split("tests.throttle: ", 1)[1] for line in lines] == [
        "API authentication failed 1 time(s) from 10.0.0.7; "
        "last: unknown token on GET /api/people\\nforged line",
        "API authentication failed 9 time(s) from 10.0.0.7; 2 more refused unchecked (429); "
        "last: unknown token on GET /api/people\\nforged line",
    ]


def test_addresses_are_throttled_per_host_and_ipv6_per_64() -> None:
    """IPv4 as is, an IPv4-mapped IPv6 as IPv4, IPv6 by its /64."""
    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")


def test_a_title_cannot_forge_a_line_of_the_service_log(db_site: Site) -> None:
    """An incident title with a newline, through the API and the service's own log handler: one line."""
    out = io.StringIO()
    root = logging.getLogger()
    handler = log_handler(out)
    handler.setLevel(logging.INFO)
    old_level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        title = "Door forced\n10:00:00 INFO    security.alarms: alarm a-1 resolved by manager:ana\r\x1b[1A"
        assert db_site.call("POST", "/api/incidents", "guard", body={"title": title}).status == 201
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    [line] = [line for line in out.getvalue().splitlines() if "security.office.incidents" in line]
    assert line.endswith("incident i-1 (other) opened by api:guard-1: Door forced\\n10:00:00 INFO    "
                         "security.alarms: alarm a-1 resolved by manager:ana\\r\\x1b[1A")
    assert not [line for line in out.getvalue().splitlines() if line.startswith("10:00:00 INFO ")]


@pytest.mark.postgres
def test_a_postgresql_database_that_goes_away_is_503(
    pg_server: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is dropped (its connections terminated) while the API runs: 503 with Retry-After,
    logged once; health still answers."""
    name = f"gatehouse_test_gone_{free_port()}"
    with pg_server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server.url.set(database=name).render_as_string(hide_password=False)
    try:
        with open_store(url) as store:
            token = create_token(store.engine, "guard-1", "guard", Change("test", NOW, KEY))[1]
            with ApiServer(store, port=0, site="hq", audit_key=KEY, now=lambda: NOW) as server:
                assert http("GET", server.url + "/api/people", token=token).status == 200
                with pg_server.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                with caplog.at_level(logging.WARNING, logger="security.api.server"):
                    gone = [http("GET", server.url + "/api/people", token=token) for _ in range(3)]
                assert [r.status for r in gone] == [503] * 3
                assert gone[0].json["error"] == "the database is unavailable; try again later"
                assert gone[0].headers["Retry-After"] == "5"
                assert http("GET", server.url + "/api/health").status == 200
    finally:
        with pg_server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    [logged] = [r for r in caplog.records if r.name == "security.api.server"]
    assert "the database is unavailable" in logged.getMessage()


def test_a_postgresql_server_that_does_not_answer_is_503() -> None:
    """The API pointed at a port where no PostgreSQL listens: a token check is 503, not 500."""
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=3")
    with ApiServer(engine, port=0, site="hq", audit_key=KEY, now=lambda: NOW) as server:
        reply = http("GET", server.url + "/api/people", token="gh_any-token")
    engine.dispose()
    assert (reply.status, reply.headers["Retry-After"]) == (503, "5")


def test_a_sqlite_database_that_cannot_be_opened_is_503_until_it_is_back(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SQLite file replaced by something SQLite cannot open: 503; put back: 200, logged once each way."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with open_store(sqlite_url) as store:
        token = create_token(store.engine, "guard-1", "guard", Change("test", NOW, KEY))[1]
        with ApiServer(store, port=0, site="hq", audit_key=KEY, now=lambda: NOW) as server:
            assert http("GET", server.url + "/api/people", token=token).status == 200
            store.engine.dispose()  # as after a restart: the next request opens the file again
            kept = path.with_name("kept.db")
            path.rename(kept)
            path.mkdir()
            with caplog.at_level(logging.INFO, logger="security.api.server"):
                down = [http("GET", server.url + "/api/people", token=token).status for _ in range(2)]
                shutil.rmtree(path)
                kept.rename(path)
                back = http("GET", server.url + "/api/people", token=token).status
    assert (down, back) == ([503, 503], 200)
    messages = [r.getMessage() for r in caplog.records if r.name == "security.api.server"]
    assert len(messages) == 2
    assert "the database is unavailable (unable to open database file on GET /api/people)" in messages[0]
    assert messages[1] == "API: the database is reachable again"
