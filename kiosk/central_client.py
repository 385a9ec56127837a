"""The central service's kiosk API over HTTP, with an offline cache behind every lookup.

`CentralClient` refreshes the cache (hosts, upcoming invitations, the watchlist) at start and every
`refresh_s` seconds in a thread. Each adapter asks the API (2 s at most) and blocks while it
does: the kiosk calls them on its look-up worker (`kiosk.work`), never on the UI thread. When the
service is down it answers from the cache (hosts by prefix, invitations by code hash, check-out
from the kiosk's own check-ins of today; no returning visitors), without waiting on the network
until the retry.
When the service refuses the kiosk's token (401/403, e.g. it was revoked) that is logged as an
error and invitations are no longer taken from the cache: a revoked kiosk admits no invited visitor.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

from broker.api_models import (
    ErrorBody,
    HostEntry,
    KioskInvitation,
    OnSiteEntry,
    ReturningVisitor,
    UpcomingInvitation,
    VisitorDetailsBody,
    read_list,
)
from broker.masking import mask_name
from kiosk.cache import (
    JsonCache,
    OwnVisits,
    cacheable_invitation,
    find_invitation,
    host_from_json,
    host_json,
    json_rows,
    search_hosts,
    without_invitation,
)
from kiosk.config import KioskConfig
from kiosk.ports import Host, Invitation, OnSiteVisit, PastVisitor, VisitorDetails
from kiosk.screening import CachedScreener, WatchlistEntry, normalise, parse_watchlist

log = logging.getLogger(__name__)

HOSTS, INVITATIONS, WATCHLIST = "hosts", "invitations", "watchlist"
"""Names of the cache files."""
SHOWN = 8
"""Most hosts or visits a search shows."""
MIN_QUERY = 2
"""Shortest text a visitor or on-site search sends."""
_MALFORMED = (ValueError, KeyError, TypeError)
"""What reading an unexpected JSON shape raises."""


class ApiError(Exception):
    """The API gave no usable answer."""


class NotFoundError(ApiError):
    """The API answered 404: there is no such thing."""


class RefusedError(ApiError):
    """The API refused the request as malformed (HTTP 400-499 but 401, 403 and 404)."""


class UnavailableError(ApiError):
    """The API cannot answer now: no network, a timeout, a server error, or a refused token."""


class TokenRefusedError(UnavailableError):
    """The API refused the kiosk's token (HTTP 401 or 403), now or last time it was reached."""


class CentralApi:
    """GET JSON from the central service with the kiosk's bearer token; knows whether it is up."""

    def __init__(
        self, base_url: str, token: str | None, *, timeout: float = 2.0, retry_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Talk to `base_url` (http or https); after a failure, wait `retry_s` before trying again."""
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"API URL must be http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout, self.retry_s, self._clock = timeout, retry_s, clock
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # on-site: no proxy
        self._lock = threading.Lock()
        self._online = False
        self._down_since: float | None = None  # set while an outage has been logged
        self._failed_at: float | None = None
        self._refused = False  # the last answer refused the token (logged once)

    @property
    def online(self) -> bool:
        """True when the last call reached the service (for a discreet staff-only indicator)."""
        return self._online

    @property
    def refused(self) -> bool:
        """True when the service refused the kiosk's token last time it answered."""
        return self._refused

    def _unavailable(self, message: str) -> UnavailableError:
        """The error for a call not answered: TokenRefusedError while the token stands refused."""
        return TokenRefusedError(message) if self._refused else UnavailableError(message)

    def get(self, path: str, query: Mapping[str, str] | None = None, *, probe: bool = False) -> Any:
        """The JSON at `path`; NotFoundError, RefusedError or UnavailableError otherwise.

        While the service is known down, fails at once until `retry_s` passed (or `probe` is set).
        """
        with self._lock:
            if not probe and self._failed_at is not None and self._clock() - self._failed_at < self.retry_s:
                raise self._unavailable("central service down or token refused; retrying later")
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (http(s) only)
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            self._answer_error(exc.code, _error_text(exc))
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets
            self._mark_down(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
            raise self._unavailable(str(exc)) from None
        try:
            doc = json.loads(body)
        except ValueError:
            self._mark_down("the answer is not JSON")
            raise self._unavailable(f"{path}: the answer is not JSON") from None
        self._mark_up()
        return doc

    def _answer_error(self, status: int, text: str) -> NoReturn:
        """Raise the error an HTTP error status stands for, noting whether the service is up."""
        if status == 404:
            self._mark_up()
            raise NotFoundError(text)
        if status in (401, 403):
            self._mark_refused(f"HTTP {status}: {text}")
            raise TokenRefusedError(f"HTTP {status}: {text}")
        if status >= 500:
            self._mark_down(f"HTTP {status}: {text}")
            raise self._unavailable(f"HTTP {status}: {text}")
        self._mark_up()
        raise RefusedError(f"HTTP {status}: {text}")

    def _mark_up(self) -> None:
        """The service answered with the token accepted: log the recovery once."""
        with self._lock:
            if self._down_since is not None:
                log.info("central service %s is reachable again after %.0f s", self.base_url,
                          self._clock() - self._down_since)
            if self._refused:
                log.info("the kiosk's API token is accepted again by %s", self.base_url)
            self._online, self._down_since, self._failed_at, self._refused = True, None, None, False

    def _mark_refused(self, reason: str) -> None:
        """The service refused the token: log it once as an error; the kiosk counts as offline."""
        with self._lock:
            if not self._refused:
                log.error("the kiosk's API token was refused by %s (%s): ask an admin for a new one; "
                           "invited visitors cannot check in until then", self.base_url, reason)
            self._refused, self._online, self._failed_at = True, False, self._clock()

    def _mark_down(self, reason: str) -> None:
        """The service did not answer: log the outage once."""
        with self._lock:
            now = self._clock()
            if self._down_since is None:
                log.warning("central service %s unreachable (%s); answering from the offline cache",
                             self.base_url, reason)
                self._down_since = now
            self._online, self._failed_at = False, now


class CentralClient:
    """The central service's data for the kiosk, online or from the cache; refreshes it in a thread."""

    def __init__(
        self, api: CentralApi, cache: JsonCache, *, refresh_s: float = 300.0, upcoming_h: int = 24,
        now: Callable[[], datetime] = lambda: datetime.now(UTC), today: Callable[[], date] = date.today,
    ) -> None:
        """Wire the client; the cache's last contents are available at once."""
        self.api, self.cache = api, cache
        self._refresh_s, self._upcoming_h, self._now = refresh_s, upcoming_h, now
        self.own_visits = OwnVisits(cache, today=today)
        self._watchlist = _load_watchlist(cache)
        self._invitations_lock = threading.Lock()  # the cached invitations' read-change-write
        self._used: set[str] = set()  # invitations checked in here, kept out of the cache
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hosts = CentralHosts(self)
        self.invitations = CentralInvitations(self)
        self.visitors = CentralVisitors(self)
        self.visits = CentralVisits(self)

    @classmethod
    def from_config(cls, config: KioskConfig) -> CentralClient:
        """The client the `[kiosk]` settings describe (cache folder created if missing)."""
        if config.cache_dir is None:
            raise ValueError("settings without a cache_dir: load them with parse_kiosk or load_kiosk")
        api = CentralApi(config.api_url, config.token(), timeout=config.api_timeout_s,
                         retry_s=min(10.0, config.refresh_s))
        return cls(api, JsonCache(config.cache_dir), refresh_s=config.refresh_s)

    @property
    def online(self) -> bool:
        """True when the central service answered last time it was asked."""
        return self.api.online

    def watchlist(self) -> list[WatchlistEntry] | None:
        """The cached watchlist (None if it was never fetched)."""
        return self._watchlist

    def screener(self, threshold: float, *, check_company: bool = False) -> CachedScreener:
        """A screener over the cached watchlist."""
        return CachedScreener(self.watchlist, threshold=threshold, check_company=check_company)

    def refresh(self) -> bool:
        """Fetch hosts, upcoming invitations and the watchlist into the cache; False if it failed."""
        try:
            everyone = read_list(HostEntry, self.api.get("/api/kiosk/hosts/all", probe=True))
            hosts = [host_json(host.dump()) for host in everyone]
            hours = {"upcoming_h": str(self._upcoming_h)}
            upcoming = read_list(UpcomingInvitation, self.api.get("/api/kiosk/invitations", hours))
            invitations = [cacheable_invitation(row.dump()) for row in upcoming]
            rows = self.api.get("/api/kiosk/watchlist")
            watchlist = parse_watchlist(rows)
        except (ApiError, *_MALFORMED) as exc:
            log.debug("cache refresh failed: %s", exc)
            return False
        self._watchlist = watchlist
        try:
            self.cache.write(HOSTS, hosts)
            with self._invitations_lock:  # one checked in here but not yet delivered stays out
                invitations = [i for i in invitations if str(i.get("visit_id")) not in self._used]
                self.cache.write(INVITATIONS, invitations)
            self.cache.write(WATCHLIST, rows)
        except OSError as exc:
            log.error("offline cache cannot be written in %s: %s", self.cache.folder, exc)
            return False
        log.info("offline cache refreshed: %d hosts, %d invitations, %d watchlist entries",
                  len(hosts), len(invitations), len(watchlist))
        return True

    def start(self) -> None:
        """Refresh now and then every `refresh_s` seconds (sooner while the service is down), in a thread."""
        if self._thread is not None:
            raise RuntimeError("central client already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kiosk-cache-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing; safe to call twice."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.api.timeout * 4 + 1)

    def _run(self) -> None:
        """Refresh loop."""
        while not self._stop.is_set():
            try:
                ok = self.refresh()
            except Exception:
                log.exception("offline cache refresh failed unexpectedly; trying again later")
                ok = False
            if self._stop.wait(self._refresh_s if ok else min(self._refresh_s, self.api.retry_s)):
                return

    def cached_hosts(self) -> list[Host]:
        """Every host in the cache ([] if there is none, or it is damaged)."""
        try:
            return [host_from_json(row) for row in json_rows(self.cache.read(HOSTS) or [])]
        except (ValueError, KeyError) as exc:
            log.error("cached hosts are damaged, ignored: %s", exc)
            return []

    def cached_invitation(self, code: str) -> Invitation | None:
        """The cached invitation with `code` that is usable now (codes compared in constant time)."""
        try:
            with self._invitations_lock:
                rows = json_rows(self.cache.read(INVITATIONS) or [])
                rows = [row for row in rows if str(row.get("visit_id")) not in self._used]
            return find_invitation(rows, code, self._now())
        except _MALFORMED as exc:
            log.error("cached invitations are damaged, ignored: %s", exc)
            return None

    def forget_invitation(self, visit_id: str) -> None:
        """Drop the invitation of `visit_id` from the cache: it was checked in here, its code is spent."""
        with self._invitations_lock:
            self._used.add(visit_id)
            try:
                rows = json_rows(self.cache.read(INVITATIONS) or [])
            except ValueError:
                return  # damaged: ignored when read anyway
            kept = without_invitation(rows, visit_id)
            if len(kept) != len(rows):
                self.cache.write(INVITATIONS, kept)


class CentralHosts:
    """`HostDirectory`: the employee directory, from the cached full list when offline."""

    def __init__(self, client: CentralClient) -> None:
        """Use `client`'s API and cache."""
        self._client = client

    def search(self, prefix: str) -> list[Host]:
        """Employees whose name, or a word of it, starts with `prefix` (accents and case ignored)."""
        wanted = normalise(prefix)
        if not wanted:
            return []
        try:
            rows = read_list(HostEntry, self._client.api.get("/api/kiosk/hosts", {"q": prefix}))
            return [Host(id=row.id, name=row.name) for row in rows]
        except (NotFoundError, RefusedError):
            return []
        except (UnavailableError, *_MALFORMED):
            pass
        return search_hosts(self._client.cached_hosts(), prefix, SHOWN)


class CentralInvitations:
    """`Invitations`: by the code in the visitor's QR; from the cached upcoming list when offline."""

    def __init__(self, client: CentralClient) -> None:
        """Use `client`'s API and cache."""
        self._client = client

    def find(self, code: str) -> Invitation | None:
        """The usable invitation with this code, or None."""
        code = code.strip()
        if not code:
            return None
        try:
            doc = self._client.api.get(f"/api/kiosk/invitations/{quote(code, safe='')}")
            return _invitation(KioskInvitation.read(doc))
        except (NotFoundError, RefusedError):
            return None
        except _MALFORMED as exc:
            log.error("invitation answer is malformed: %s", exc)
            return None
        except TokenRefusedError:
            return None  # a revoked kiosk admits no invited visitor, not even from its cache
        except UnavailableError:
            return self._client.cached_invitation(code)


class CentralVisitors:
    """`Visitors`: returning visitors, masked; not searched while the service is down."""

    def __init__(self, client: CentralClient) -> None:
        """Use `client`'s API."""
        self._client = client

    def search(self, text: str) -> list[PastVisitor]:
        """Past visitors by name or e-mail, masked ([] offline or for fewer than 2 characters)."""
        text = " ".join(text.split())
        if len(text) < MIN_QUERY:
            return []
        try:
            rows = read_list(ReturningVisitor, self._client.api.get("/api/kiosk/visitors", {"q": text}))
            return [PastVisitor(token=r.token, masked_name=r.name, masked_company=r.company or None,
                                last_visit_date=r.last_visit) for r in rows]
        except (ApiError, *_MALFORMED) as exc:
            log.debug("returning-visitor search not answered: %s", exc)
            return []

    def details(self, token: str) -> VisitorDetails | None:
        """The details behind a search result's single-use token (None offline, when used or ran out).

        The service gives no e-mail: the visitor types it again if the site asks for one.
        """
        try:
            answer = self._client.api.get(f"/api/kiosk/visitors/{quote(token, safe='')}")
            doc = VisitorDetailsBody.read(answer)
            return VisitorDetails(name=doc.visitor_name, company=doc.company or None, email=None)
        except (ApiError, *_MALFORMED) as exc:
            log.debug("returning-visitor details not answered: %s", exc)
            return None


class CentralVisits:
    """`Visits`: visitors on site; the kiosk's own check-ins of today when offline or not yet delivered."""

    def __init__(self, client: CentralClient) -> None:
        """Use `client`'s API and its own record of today's visits."""
        self._client = client
        self._own = client.own_visits
        self.remember, self.forget = self._own.remember, self._own.forget
        """Record a check-in made at this kiosk; drop a visit that checked out here."""
        self.forget_invitation = client.forget_invitation
        """Drop the cached invitation of an invited check-in made here (its code is spent)."""

    def find_by_badge(self, badge: str) -> OnSiteVisit | None:
        """The on-site visit holding `badge` (a 404 still looks at this kiosk's undelivered check-ins)."""
        badge = badge.strip()
        if not badge:
            return None
        try:
            found = OnSiteEntry.read(self._client.api.get(f"/api/kiosk/onsite-badge/{quote(badge, safe='')}"))
            return OnSiteVisit(found.visit_id, found.name)
        except (ApiError, *_MALFORMED) as exc:
            log.debug("on-site badge lookup not answered (%s); looking at own check-ins", exc)
        own = self._own.find_by_badge(badge)
        return OnSiteVisit(own.visit_id, mask_name(own.name)) if own else None

    def search(self, text: str) -> list[OnSiteVisit]:
        """On-site visits by name, masked; offline, only this kiosk's check-ins of today."""
        text = " ".join(text.split())
        if len(text) < MIN_QUERY:
            return []
        try:
            rows = read_list(OnSiteEntry, self._client.api.get("/api/kiosk/onsite", {"q": text}))
            return [OnSiteVisit(row.visit_id, row.name) for row in rows]
        except (NotFoundError, RefusedError):
            return []
        except (UnavailableError, *_MALFORMED):
            pass
        return [OnSiteVisit(v.visit_id, mask_name(v.name)) for v in self._own.search(text, SHOWN)]


def _invitation(body: KioskInvitation) -> Invitation:
    """The invitation a kiosk scanned, as the check-in flow takes it."""
    return Invitation(
        visit_id=body.visit_id, visitor_name=body.visitor_name, company=body.company or None,
        host_id=body.host_id, host_name=body.host_name or "", visitor_type=body.visitor_type,
        email=body.email or None, expected_at=body.expected_at)


def _load_watchlist(cache: JsonCache) -> list[WatchlistEntry] | None:
    """The watchlist last cached, or None (never fetched, or damaged)."""
    try:
        rows = cache.read(WATCHLIST)
        return None if rows is None else parse_watchlist(rows)
    except ValueError as exc:
        log.error("cached watchlist is damaged, ignored: %s", exc)
        return None


def _error_text(exc: urllib.error.HTTPError) -> str:
    """The `error` of a JSON error body, or the HTTP reason."""
    with exc:
        try:
            return ErrorBody.read(json.loads(exc.read() or b"{}")).error or str(exc.reason)
        except (OSError, ValueError):  # not JSON, or not the API's error body
            return str(exc.reason)
