"""The demo's manager at the web console: an account made for the run, a login, and what Today shows."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import urllib.parse
import urllib.request
from datetime import UTC, datetime

from security.accounts.users import add_user, get_account, reset_password
from security.storage import EventStore
from security.storage.people import Change, NotFoundError

ACCOUNT = "demo-manager"


def console_account(store: EventStore, audit_key: bytes | None) -> str:
    """The demo manager's password for this run (the account is made, or its password renewed)."""
    password = secrets.token_urlsafe(12)
    change = Change("demo", datetime.now(UTC), audit_key)
    try:
        get_account(store.engine, ACCOUNT)
    except NotFoundError:
        add_user(store.engine, ACCOUNT, "manager", password, change, grants=("export",))
    else:
        reset_password(store.engine, ACCOUNT, password, change)
    return password


def console_tour(base: str, password: str) -> tuple[int, int]:
    """Log in to the console at `base` as the demo manager; (open alarms, people on site) Today shows.

    Raises OSError (an HTTP error included) or ValueError when a step does not answer as it should.
    """
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def page(path: str, form: dict[str, str] | None = None) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(base + path, data=data)  # noqa: S310 (our own http:// URL)
        with opener.open(request, timeout=10) as answer:
            text: str = answer.read().decode()
        return text

    token = re.search(r'name="csrf" value="([^"]+)"', page("/console/login"))
    if token is None:
        raise ValueError("the login page has no form token")
    today = page("/console/login", {"csrf": token.group(1), "name": ACCOUNT, "password": password,
                                    "next": "/console/"})
    if 'id="alarms"' not in today:
        raise ValueError("the login did not lead to the Today page")
    alarms = _table(today, "alarms")
    people = _table(today, "people")
    return alarms, people


def _table(page: str, table_id: str) -> int:
    """Rows of a Today table, leaving out its 'nothing here' line."""
    found = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    if found is None:
        raise ValueError(f"Today has no {table_id} table")
    return len(re.findall(r"<tr(?![^>]*>\s*<td colspan)", found.group(1)))
