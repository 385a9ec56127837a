"""The API's HTTP layer on a real port: the OpenAPI document, the order of refusals, the body limit."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from http.client import HTTPConnection
from typing import Any

import pytest

from broker.api_models import REQUEST_BODIES
from security.api import MAX_BODY, ROUTES, ApiServer
from security.storage import open_store
from security.storage.people import Change
from security.storage.tokens import create_token
from tests.support import Reply, http

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = b"http-test-key"
BODIES = {
    ("POST", "/api/people"): "NewPerson",
    ("PUT", "/api/people/{id}"): "PersonUpdate",
    ("POST", "/api/people/{id}/credentials"): "NewCredential",
    ("PUT", "/api/door-groups/{name}"): "DoorGroupDoors",
    ("POST", "/api/rights"): "NewRight",
    ("POST", "/api/incidents"): "NewIncident",
    ("POST", "/api/incidents/{id}/notes"): "IncidentNote",
    ("POST", "/api/incidents/{id}/attach"): "IncidentAttachment",
    ("POST", "/api/incidents/{id}/close"): "IncidentClosing",
    ("POST", "/api/alarms/{id}/{action}"): "AlarmActionBody",
    ("POST", "/api/doors/{device}/unlock"): "UnlockRequest",
    ("POST", "/api/doors/{device}/schedule"): "DoorCommandNote",
    ("POST", "/api/door-groups/{name}/lockdown"): "DoorCommandNote",
    ("POST", "/api/door-groups/{name}/release"): "DoorCommandNote",
    ("POST", "/api/invitations"): "NewInvitation",
    ("POST", "/api/watchlist"): "NewWatchEntry",
}
"""The request body model of each route that takes JSON."""


class Api:
    """A running API server, a manager's token and a guard's."""

    def __init__(self, server: ApiServer, token: str, guard: str) -> None:
        """Keep the server and the tokens."""
        self.server, self.token, self.guard = server, token, guard

    def call(self, method: str, path: str, *, token: str | None = None, body: Any = None,
             data: bytes | None = None) -> Reply:
        """One request with urllib."""
        return http(method, self.server.url + path, token=token, body=body, data=data)


@pytest.fixture
def api(sqlite_url: str) -> Iterator[Api]:
    """An API server on SQLite (no central service) with a manager's token."""
    with open_store(sqlite_url) as store:
        token = create_token(store.engine, "manager-1", "manager", Change("test", NOW, KEY))[1]
        guard = create_token(store.engine, "guard-1", "guard", Change("test", NOW, KEY))[1]
        with ApiServer(store, port=0, site="hq", audit_key=KEY, now=lambda: NOW) as server:
            yield Api(server, token, guard)


def _schema_refs(schema: dict[str, Any]) -> set[str]:
    """The component names a schema refers to (directly or in an anyOf)."""
    found = {schema["$ref"].rsplit("/", 1)[1]} if "$ref" in schema else set()
    for option in schema.get("anyOf", []):
        found |= _schema_refs(option)
    return found


def test_the_openapi_document_lists_every_route_with_its_typed_bodies(api: Api) -> None:
    """/api/openapi.json (no token needed) has every route and method; each JSON body names its model."""
    reply = api.call("GET", "/api/openapi.json")
    assert reply.status == 200
    doc = reply.json
    served = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert served == {(r.method, r.pattern) for r in ROUTES}
    taking = {(method.upper(), path): op["requestBody"] for path, ops in doc["paths"].items()
              for method, op in ops.items() if "requestBody" in op}
    json_bodies = {route: _schema_refs(body["content"]["application/json"]["schema"])
                   for route, body in taking.items() if "application/json" in body["content"]}
    assert json_bodies == {route: {name} for route, name in BODIES.items()}
    assert set(taking) - set(json_bodies) == {("POST", "/api/people/import")}
    assert {m.__name__ for m in REQUEST_BODIES} <= set(doc["components"]["schemas"])
    assert doc["components"]["schemas"]["NewIncident"]["additionalProperties"] is False
    people = doc["paths"]["/api/people/{id}"]["get"]
    assert people["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PersonBody")
    assert "422" not in people["responses"]
    assert people["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert people["security"] == [{"token": []}]
    assert "security" not in doc["paths"]["/api/health"]["get"]


def test_no_documentation_page_that_needs_a_cdn(api: Api) -> None:
    """FastAPI's /docs and /redoc pages (scripts from a CDN) are not served."""
    for path in ("/docs", "/redoc", "/api/docs", "/docs/oauth2-redirect"):
        assert api.call("GET", path, token=api.token).status == 404, path


def test_the_token_is_checked_before_the_body(api: Api) -> None:
    """No token: 401 whatever the body (malformed, wrong, unknown route); with one, the body's 400."""
    for path, data in (("/api/incidents", b"{not json"), ("/api/people", b'{"id": 5}'),
                       ("/api/rights", b"[" * 50_000), ("/api/nothing", b"{}")):
        assert api.call("POST", path, data=data).status == 401, path
    malformed = api.call("POST", "/api/people", token=api.token, data=b"{not json")
    assert (malformed.status, malformed.json["error"].startswith("the body is not valid JSON")) == (400, True)
    deep = api.call("POST", "/api/people", token=api.token, data=b"[" * 50_000 + b"]" * 50_000)
    assert (deep.status, deep.json["error"]) == (400, "the body is nested too deeply")
    for data in (b"{not json", b'{"id": 5}'):  # a role too low is told so before its body is
        assert api.call("POST", "/api/people", token=api.guard, data=data).status == 403


def test_a_method_the_path_does_not_take_is_405_naming_the_ones_it_does(api: Api) -> None:
    """405 lists every method of the path, in the message and the Allow header; answers are not cached."""
    reply = api.call("DELETE", "/api/people", token=api.token)
    assert (reply.status, reply.headers["Allow"]) == (405, "GET, POST")
    assert reply.json["error"] == "DELETE is not allowed on /api/people; use GET, POST"
    assert reply.headers["Cache-Control"] == "no-store"
    assert api.call("GET", "/api/people", token=api.token).headers["Cache-Control"] == "no-store"


def _post_chunked(api: Api, path: str, chunks: Iterator[bytes]) -> tuple[int, dict[str, Any]]:
    """A POST whose body is sent chunked (no Content-Length), so only counting can stop it."""
    port = int(api.server.url.rsplit(":", 1)[1])
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=chunks, encode_chunked=True,
                     headers={"Authorization": f"Bearer {api.token}", "Content-Type": "text/csv"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def test_a_streamed_body_over_the_limit_is_413(api: Api) -> None:
    """Without a Content-Length, the bytes are counted: past MAX_BODY the answer is 413."""
    block = b"employee_id,name\n" + b"e-1,Ann\n" * 8000
    count = MAX_BODY // len(block) + 2
    status, doc = _post_chunked(api, "/api/people/import?dry_run=1", iter([block] * count))
    assert status == 413
    assert str(MAX_BODY) in doc["error"]
    small, report = _post_chunked(api, "/api/people/import?dry_run=1",
                                  iter([b"employee_id,name\n", b"e-1,Ann\n"]))
    assert (small, report["added"]) == (200, ["e-1"])


def test_a_declared_length_over_the_limit_is_413_before_anything_else(api: Api) -> None:
    """A Content-Length over MAX_BODY is refused at once (the body drained so the client reads it)."""
    huge = api.call("POST", "/api/incidents", data=b"x" * (MAX_BODY + 1))
    said = f"the body is {MAX_BODY + 1} bytes; the limit is {MAX_BODY}"
    assert (huge.status, huge.json["error"]) == (413, said)


def test_a_trailing_slash_is_no_route_and_no_redirect(api: Api) -> None:
    """`/api/people/` is not redirected (a 307 would tell a stranger the path exists): 401, then 404."""
    assert api.call("GET", "/api/people/").status == 401
    assert api.call("GET", "/api/people/", token=api.token).status == 404


def test_a_connection_that_sends_no_whole_request_head_is_closed(sqlite_url: str) -> None:
    """A client that connects and dribbles its headers (slowloris) is cut off; a prompt one is served."""
    with open_store(sqlite_url) as store, \
            ApiServer(store, port=0, site="hq", audit_key=KEY, now=lambda: NOW, head_timeout_s=0.2) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            assert slow.recv(1024) == b""  # closed by the server, not by the 10 s socket timeout
        with socket.create_connection(("127.0.0.1", port), timeout=10) as prompt:
            prompt.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert prompt.recv(1024).startswith(b"HTTP/1.1 200 ")
