"""The kiosk's client of the central API against a small real HTTP server, online and offline."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from broker.config import ConfigError
from broker.masking import mask_name
from broker.schemas import VisitorCheckedIn, VisitorType
from kiosk.cache import JsonCache, OwnVisits, cacheable_invitation, find_invitation
from kiosk.central_client import CentralApi, CentralClient
from kiosk.config import ENV_TOKEN, FileAgreements, agreement_text, load_kiosk, parse_kiosk
from kiosk.ports import Host, Invitation, OnSiteVisit, PastVisitor, ScreenResult, VisitorDetails
from kiosk.runner import remembering
from tests.support import wait_until

TOKEN = "kiosk-secret-token"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CODE = "GH1:V7F3A2K9QX:abcdefgh12345678"


def invitation_doc(visit_id: str, code: str, name: str, valid_until: datetime) -> dict[str, Any]:
    """An invitation as the service answers a kiosk's scan, with the code it is found by."""
    return {"visit_id": visit_id, "visitor_name": name, "company": "Acme", "email": "ana@acme.test",
            "visitor_type": "contractor", "host_id": "e2", "host_name": "Budi Santoso",
            "expected_at": (NOW + timedelta(hours=1)).isoformat(),
            "valid_from": (NOW - timedelta(hours=2)).isoformat(), "valid_until": valid_until.isoformat(),
            "code": code}


class FakeCentral:
    """The central service's kiosk routes over real HTTP, from plain data, in security.api's shapes."""

    def __init__(self) -> None:
        """Some employees, invitations, past visitors, visitors on site and a watchlist."""
        self.hosts = [{"id": "e1", "name": "Łucja Żak"}, {"id": "e2", "name": "Budi Santoso"},
                      {"id": "e3", "name": "Anna Zolc-Nowak"}]
        self.invitations = [invitation_doc("V7F3A2K9QX", CODE, "Ana Lopez", NOW + timedelta(hours=8)),
                            invitation_doc("VOLD000001", "GH1:VOLD000001:zzzzzzzz00000000", "Old Visit",
                                           NOW - timedelta(hours=1))]
        self.visitors = {"tok-1": {"visitor_name": "Maria Garcia", "company": "Globex",
                                   "visitor_type": "guest", "language": "en", "last_visit": "2026-10-01"}}
        self.onsite = [{"visit_id": "V100", "visitor_name": "Jan Kowalski", "badge": "0A1B2C3D4E5F6071"}]
        self.watchlist = [{"id": 7, "name": "Lukasz Zolc", "aliases": ["Lucky Z"]}]
        self.fail_with: int | None = None
        self.revoked = False  # the kiosk's token was revoked: 401 for everything
        self.paths: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve (again on the same port) in a thread."""
        central = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                central.paths.append(self.path)
                status, doc = central.answer(self.path, self.headers.get("Authorization", ""))
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering: the port refuses connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, path: str, auth: str) -> tuple[int, Any]:
        """(status, JSON) for one GET."""
        if auth != f"Bearer {TOKEN}" or self.revoked:
            return 401, {"error": "a kiosk token is needed"}
        if self.fail_with:
            return self.fail_with, {"error": "the service is unwell"}
        parts = urlsplit(path)
        route, q = parts.path, parse_qs(parts.query).get("q", [""])[0].casefold()
        tail = unquote(route.rsplit("/", 1)[-1])
        if route == "/api/kiosk/hosts":
            return 200, [h for h in self.hosts if any(w.casefold().startswith(q) for w in h["name"].split())]
        if route == "/api/kiosk/hosts/all":
            return 200, self.hosts
        if route == "/api/kiosk/invitations":
            return 200, [self.listed(i) for i in self.invitations]
        if route.startswith("/api/kiosk/invitations/"):
            found = [{k: v for k, v in i.items() if k != "code"}
                     for i in self.invitations if i["code"] == tail]
            return (200, found[0]) if found else (404, {"error": "no usable invitation has this code"})
        if route == "/api/kiosk/visitors":
            if len(q) < 2:
                return 400, {"error": "q: at least 2 characters"}
            return 200, [{"token": t, "name": mask_name(v["visitor_name"]), "company": "Glo***",
                          "last_visit": v["last_visit"]}
                         for t, v in self.visitors.items() if q in v["visitor_name"].casefold()]
        if route.startswith("/api/kiosk/visitors/"):
            return (200, self.visitors[tail]) if tail in self.visitors else (404, {"error": "token ran out"})
        if route.startswith("/api/kiosk/onsite-badge/"):
            shown = [self.shown(v) for v in self.onsite if tail in (v["badge"], v["visit_id"])]
            return (200, shown[0]) if shown else (404, {"error": "no visitor on site holds this badge"})
        if route == "/api/kiosk/onsite":
            return 200, [self.shown(v) for v in self.onsite if q in v["visitor_name"].casefold()]
        if route == "/api/kiosk/watchlist":
            return 200, self.watchlist
        return 404, {"error": "no such route"}

    @staticmethod
    def listed(invitation: dict[str, Any]) -> dict[str, Any]:
        """An upcoming invitation as the service lists it for kiosks: the code hashed, no e-mail."""
        doc = {k: v for k, v in invitation.items() if k not in ("code", "email")}
        doc["code_sha256"] = hashlib.sha256(invitation["code"].encode()).hexdigest()
        return doc

    @staticmethod
    def shown(visit: dict[str, str]) -> dict[str, Any]:
        """A visit on site as a kiosk may see it."""
        return {"visit_id": visit["visit_id"], "name": mask_name(visit["visitor_name"]), "company": None,
                "since": NOW.isoformat()}


@pytest.fixture
def central() -> Iterator[FakeCentral]:
    """A running fake central service."""
    server = FakeCentral()
    server.start()
    yield server
    server.stop()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The time now."""
        return self.now


def client_for(
    central: FakeCentral, folder: Path, *, token: str = TOKEN, clock: Clock | None = None
) -> CentralClient:
    """A client of `central` with its cache in `folder`."""
    api = CentralApi(central.url, token, timeout=2.0, retry_s=10.0, clock=clock or Clock())
    return CentralClient(api, JsonCache(folder), refresh_s=60, now=lambda: NOW, today=NOW.date)


def test_online_answers_come_from_the_service(central: FakeCentral, tmp_path: Path) -> None:
    client = client_for(central, tmp_path)
    assert not client.online  # nothing asked yet
    assert client.hosts.search("bu") == [Host(id="e2", name="Budi Santoso")]
    assert client.online
    assert client.hosts.search("  ") == []
    found = client.invitations.find(CODE)
    assert found == Invitation(visit_id="V7F3A2K9QX", visitor_name="Ana Lopez", company="Acme", host_id="e2",
                               host_name="Budi Santoso", visitor_type=VisitorType.CONTRACTOR,
                               email="ana@acme.test", expected_at=NOW + timedelta(hours=1))
    assert "/api/kiosk/invitations/GH1%3AV7F3A2K9QX%3Aabcdefgh12345678" in central.paths
    assert client.invitations.find("GH1:NOPE:00000000") is None
    assert client.visitors.search("mar") == [PastVisitor(token="tok-1", masked_name="M**** G*****",
                                                         masked_company="Glo***",
                                                         last_visit_date=date(2026, 10, 1))]
    assert client.visitors.search("m") == []
    assert client.visitors.details("tok-1") == VisitorDetails("Maria Garcia", "Globex", None)  # no e-mail
    assert client.visitors.details("tok-gone") is None
    assert client.visits.find_by_badge("0A1B2C3D4E5F6071") == OnSiteVisit("V100", "J** K*******")
    assert client.visits.search("kowal") == [OnSiteVisit("V100", "J** K*******")]
    assert client.online


def test_refresh_fills_the_cache_without_plain_invitation_codes(central: FakeCentral, tmp_path: Path) -> None:
    client = client_for(central, tmp_path)
    assert client.watchlist() is None
    assert client.screener(0.88).screen("Łukasz Żółć", None) == ScreenResult(result="error")
    assert client.refresh()
    assert {p.name for p in tmp_path.iterdir()} == {"hosts.json", "invitations.json", "watchlist.json"}
    cached = (tmp_path / "invitations.json").read_text()
    for secret in (CODE, CODE.rsplit(":", 1)[1], "ana@acme.test"):
        assert secret not in cached
    assert hashlib.sha256(CODE.encode()).hexdigest() in cached
    assert (tmp_path / "hosts.json").stat().st_mode & 0o077 == 0
    match = client.screener(0.88).screen("Łukasz Żółć", None)
    assert (match.result, match.entry_id) == ("match", "7")
    central.stop()  # a new client after a restart, with the service down, screens from the disk
    later = client_for(central, tmp_path)
    assert later.screener(0.88).screen("Lucky Z", None).entry_id == "7"
    assert later.screener(0.88).screen("Maria Garcia", None).result == "clear"


def test_offline_answers_come_from_the_cache_and_the_outage_is_logged_once(
    central: FakeCentral, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.central_client")
    clock = Clock()
    client = client_for(central, tmp_path, clock=clock)
    assert client.refresh()
    client.visits.remember("V200", "FFFF0000FFFF0000", "Siti Rahmawati")
    central.stop()
    clock.now += 60
    assert client.hosts.search("zol") == [Host(id="e3", name="Anna Zolc-Nowak")]
    assert not client.online
    assert client.hosts.search("ŁUC") == [Host(id="e1", name="Łucja Żak")]  # accents and case ignored
    assert client.hosts.search("zak") == [Host(id="e1", name="Łucja Żak")]
    assert client.hosts.search("santoso") == [Host(id="e2", name="Budi Santoso")]
    assert client.hosts.search("nobody") == []
    found = client.invitations.find(CODE)
    assert found is not None
    assert (found.visit_id, found.host_name) == ("V7F3A2K9QX", "Budi Santoso")
    assert client.invitations.find(CODE[:-1] + "9") is None
    assert client.invitations.find("GH1:VOLD000001:zzzzzzzz00000000") is None  # its time ran out
    assert client.visitors.search("maria") == []
    assert client.visitors.details("tok-1") is None
    assert client.visits.find_by_badge("ffff0000ffff0000") == OnSiteVisit("V200", "S*** R********")
    assert client.visits.find_by_badge("0A1B2C3D4E5F6071") is None  # not checked in here
    assert client.visits.search("siti") == [OnSiteVisit("V200", "S*** R********")]
    assert not client.refresh()
    outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outages) == 1
    assert outages[0].levelno == logging.WARNING
    central.start()
    clock.now += 60
    assert client.refresh()
    assert client.online
    assert client.hosts.search("bu") == [Host(id="e2", name="Budi Santoso")]
    recoveries = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(recoveries) == 1


def test_while_down_calls_wait_for_the_retry_not_the_network(central: FakeCentral, tmp_path: Path) -> None:
    clock = Clock()
    client = client_for(central, tmp_path, clock=clock)
    assert client.refresh()
    central.fail_with = 503
    asked = len(central.paths)
    assert client.hosts.search("bu") == [Host(id="e2", name="Budi Santoso")]  # from the cache
    assert len(central.paths) == asked + 1
    for _ in range(5):
        client.hosts.search("bu")
        client.invitations.find(CODE)
    assert len(central.paths) == asked + 1  # no request until the retry is due
    clock.now += 11
    central.fail_with = None
    assert client.hosts.search("an") == [Host(id="e3", name="Anna Zolc-Nowak")]
    assert len(central.paths) == asked + 2
    assert client.online


def test_a_wrong_token_is_an_error_and_nothing_is_answered(
    central: FakeCentral, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(central, tmp_path, token="wrong")
    assert not client.refresh()
    assert client.hosts.search("bu") == []
    assert client.invitations.find(CODE) is None
    assert not client.online
    assert client.api.refused
    [refused] = [r for r in caplog.records if "token was refused" in r.getMessage()]
    assert refused.levelno == logging.ERROR
    assert "ask an admin for a new one" in refused.getMessage()
    assert "HTTP 401: a kiosk token is needed" in refused.getMessage()


def test_a_revoked_token_admits_no_invited_visitor_from_the_cache(
    central: FakeCentral, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.central_client")
    clock = Clock()
    client = client_for(central, tmp_path, clock=clock)
    assert client.refresh()
    assert client.invitations.find(CODE) is not None
    central.revoked = True  # the service now answers 401
    assert client.invitations.find(CODE) is None  # not from the cache
    assert not client.online
    assert client.hosts.search("bu") == [Host(id="e2", name="Budi Santoso")]  # hosts still from the cache
    assert client.invitations.find(CODE) is None  # while waiting for the retry too
    clock.now += 11
    assert not client.refresh()
    assert client.invitations.find(CODE) is None
    central.stop()  # then the network goes too: still refused, still no cache
    clock.now += 11
    assert client.invitations.find(CODE) is None
    refusals = [r for r in caplog.records if "token was refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.ERROR]  # logged once
    central.revoked = False
    central.start()
    clock.now += 11
    assert client.refresh()
    assert client.online
    assert not client.api.refused
    assert client.invitations.find(CODE) is not None


def test_an_invitation_checked_in_here_leaves_the_cache(central: FakeCentral, tmp_path: Path) -> None:
    clock = Clock()
    client = client_for(central, tmp_path, clock=clock)
    assert client.refresh()
    sent: list[tuple[str, object]] = []
    emit = remembering(lambda kind, data: sent.append((kind, data)), client.visits)
    central.stop()
    clock.now += 60
    found = client.invitations.find(CODE)
    assert found is not None  # offline, from the cache
    emit("visitor.checked_in", VisitorCheckedIn(
        visit_id=found.visit_id, visitor_name=found.visitor_name, visitor_type=found.visitor_type,
        host_id=found.host_id, badge="FFFF0000FFFF0000", invited=True))
    assert [kind for kind, _ in sent] == ["visitor.checked_in"]
    assert client.invitations.find(CODE) is None  # the code cannot be used twice here
    assert found.visit_id not in (tmp_path / "invitations.json").read_text()
    assert client.visits.find_by_badge("FFFF0000FFFF0000") == OnSiteVisit(found.visit_id, "A** L****")
    central.start()  # the check-in is not delivered yet: the service still lists the invitation
    clock.now += 60
    assert client.refresh()
    assert found.visit_id not in (tmp_path / "invitations.json").read_text()


def test_a_walk_in_check_in_leaves_the_cached_invitations_alone(central: FakeCentral, tmp_path: Path) -> None:
    client = client_for(central, tmp_path)
    assert client.refresh()
    emit = remembering(lambda kind, data: None, client.visits)
    emit("visitor.checked_in", VisitorCheckedIn(visit_id="V7F3A2K9QX", visitor_name="Ana Lopez",
                                                 visitor_type=VisitorType.GUEST, badge="FFFF0000FFFF0000"))
    assert client.cached_invitation(CODE) is not None


def test_a_cached_invitation_ends_at_valid_until_as_on_the_service(tmp_path: Path) -> None:
    end = NOW + timedelta(hours=8)
    rows = [FakeCentral.listed(invitation_doc("V7F3A2K9QX", CODE, "Ana Lopez", end))]
    cached = [cacheable_invitation(row) for row in rows]
    assert find_invitation(cached, CODE, end - timedelta(microseconds=1)) is not None
    assert find_invitation(cached, CODE, end) is None  # the service refuses at valid_until: now < valid_until
    assert find_invitation(cached, CODE, NOW - timedelta(hours=2)) is not None  # from valid_from on
    assert find_invitation(cached, CODE, NOW - timedelta(hours=3)) is None
    with pytest.raises(KeyError):
        cacheable_invitation({k: v for k, v in rows[0].items() if k != "code_sha256"})
    with pytest.raises(ValueError, match="code_sha256"):
        cacheable_invitation({**rows[0], "code_sha256": CODE})  # a plain code is refused


def test_a_check_in_not_yet_delivered_is_found_by_its_badge(central: FakeCentral, tmp_path: Path) -> None:
    client = client_for(central, tmp_path)
    assert client.visits.find_by_badge("FFFF0000FFFF0000") is None
    client.visits.remember("V300", "FFFF0000FFFF0000", "Ana Lopez")
    assert client.visits.find_by_badge("FFFF0000FFFF0000") == OnSiteVisit("V300", "A** L****")
    assert client.online  # the service answered 404: it is up, the event is still in the outbox
    client.visits.forget("V300")
    assert client.visits.find_by_badge("FFFF0000FFFF0000") is None


def test_own_visits_are_kept_for_today_only(tmp_path: Path) -> None:
    day = [date(2026, 11, 22)]
    own = OwnVisits(JsonCache(tmp_path), today=lambda: day[0])
    own.remember("V1", "AAAA0000AAAA0000", "Ana Lopez")
    own.remember("V2", "BBBB0000BBBB0000", "Budi Santoso")
    own.remember("V1", "CCCC0000CCCC0000", "Ana Lopez")  # a reprinted badge replaces the old one
    assert [(v.visit_id, v.badge) for v in own.all()] == [("V2", "BBBB0000BBBB0000"),
                                                          ("V1", "CCCC0000CCCC0000")]
    assert own.find_by_badge("AAAA0000AAAA0000") is None
    assert own.find_by_badge("v2") is not None  # by visit id too, as the service does
    day[0] = date(2026, 11, 23)
    assert own.all() == []
    assert own.find_by_badge("BBBB0000BBBB0000") is None


def test_a_damaged_cache_file_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = JsonCache(tmp_path)
    cache.write("watchlist", [{"id": 1, "name": "A B", "aliases": []}])
    assert cache.read("watchlist") == [{"id": 1, "name": "A B", "aliases": []}]
    (tmp_path / "watchlist.json").write_text("[{\"id\": 1,")
    assert cache.read("watchlist") is None
    assert any("damaged" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="cache name"):
        cache.write("../escape", [])


def test_background_refresh_at_start(central: FakeCentral, tmp_path: Path) -> None:
    client = client_for(central, tmp_path)
    client.start()
    try:
        wait_until(lambda: client.watchlist() is not None, 10, "the first refresh")
        assert (tmp_path / "hosts.json").exists()
        assert client.online
    finally:
        client.stop()


def test_settings_defaults_and_the_token_from_the_environment(tmp_path: Path) -> None:
    config = parse_kiosk({}, data_dir=tmp_path, environ={})
    assert (config.api_url, config.languages, config.default_language) == (
        "http://127.0.0.1:8080", ["en", "id", "pl"], "en")
    assert (config.idle_s, config.refresh_s, config.camera, config.printer, config.scanner) == (
        30.0, 300.0, 0, None, None)
    assert config.cache_dir == tmp_path / "kiosk-cache"
    assert config.token() is None
    doc = {"kiosk": {"api_token": "from-file"}}
    assert parse_kiosk(doc, data_dir=tmp_path, environ={}).token() == "from-file"
    chosen = parse_kiosk(doc, data_dir=tmp_path, environ={ENV_TOKEN: TOKEN})
    assert chosen.token() == TOKEN
    assert TOKEN not in repr(chosen)
    client = CentralClient.from_config(chosen)
    assert client.cache.folder == tmp_path / "kiosk-cache"
    assert client.cache.folder.is_dir()


def test_settings_file_with_devices_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text('''
site = "lobby"
[kiosk]
api_url = "https://central.lan:8443"
camera = "videos/lobby.avi"
agreements_dir = "texts"
languages = ["pl", "en"]
default_language = "pl"
[kiosk.printer]
driver = "brother-ql"
port = "/dev/ttyUSB1"
label = "brother-62mm"
[kiosk.scanner]
port = "/dev/ttyACM0"
terminator = "lf"
''', encoding="utf-8")
    config = load_kiosk(tmp_path / "site.toml", data_dir=tmp_path / "data", environ={})
    assert config.camera == str(tmp_path / "videos/lobby.avi")
    assert config.agreements_dir == tmp_path / "texts"
    assert config.printer is not None
    assert config.printer.driver_model().family == "brother-ql"
    assert config.scanner is not None
    assert config.scanner.terminator == "lf"
    for camera, expected in (("none", None), ("2", 2), ("rtsp://cam.lan/1", "rtsp://cam.lan/1")):
        assert parse_kiosk({"kiosk": {"camera": camera}}, data_dir=tmp_path, environ={}).camera == expected
    for bad, word in (({"idle": 5}, "kiosk.idle"), ({"default_language": "de"}, "default_language"),
                      ({"api_url": "ftp://x"}, "kiosk.api_url"), ({"printer": {"driver": "zpl"}}, "either")):
        with pytest.raises(ConfigError, match=word):
            parse_kiosk({"kiosk": bad}, data_dir=tmp_path, environ={})


@pytest.mark.parametrize("kind", list(VisitorType))
def test_each_visitor_type_has_a_shipped_agreement_per_language(kind: VisitorType, tmp_path: Path) -> None:
    config = parse_kiosk({}, data_dir=tmp_path, environ={})
    texts = {lang: agreement_text(config, kind, lang) for lang in config.languages}
    assert len(set(texts.values())) == 3
    assert all(len(text) > 100 for text in texts.values())
    assert agreement_text(config, kind, "de") == texts["en"]  # no German: the default language


def test_a_sites_own_agreement_wins_and_its_name_follows_its_text(tmp_path: Path) -> None:
    (tmp_path / "texts").mkdir()
    doc = {"kiosk": {"agreements_dir": str(tmp_path / "texts")}}
    config = parse_kiosk(doc, data_dir=tmp_path, environ={})
    agreements = FileAgreements(config)
    shipped_name, shipped = agreements.text(VisitorType.GUEST, "en")
    assert shipped_name.startswith("guest-")
    (tmp_path / "texts" / "guest.en.txt").write_text("House rules of this site.\n", encoding="utf-8")
    assert agreements.text(VisitorType.GUEST, "en") == (shipped_name, shipped)  # read once, at start
    agreements = FileAgreements(config)  # the kiosk restarted
    assert agreements.preload(("en", "pl")) == 2 * len(VisitorType)
    name, text = agreements.text(VisitorType.GUEST, "en")
    assert text == "House rules of this site."
    assert name.startswith("guest-")
    assert name != shipped_name
    assert shipped != text
    default = parse_kiosk({}, data_dir=tmp_path, environ={})
    assert agreements.text(VisitorType.GUEST, "pl")[1] == agreement_text(default, VisitorType.GUEST, "pl")


def test_the_settings_example_in_docs_kiosk_md_is_valid(tmp_path: Path) -> None:
    """The `[kiosk]` example a reader copies from docs/kiosk.md loads as written."""
    text = (Path(__file__).parents[1] / "docs" / "kiosk.md").read_text()
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if b.startswith("[kiosk]")]
    config = parse_kiosk(tomllib.loads(block), data_dir=tmp_path, environ={})
    assert config.printer is not None
    assert config.printer.driver == "zpl"
    assert config.scanner is not None
    assert config.languages == ["en", "id", "pl"]
    assert config.cache_dir == tmp_path / "kiosk-cache"
