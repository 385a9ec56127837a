"""The credential store: one JSON file, mode 0600, a strong password per principal."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from broker.broker_cli import client_url, credential_store, ensure_default_principals
from broker.config import Settings
from broker.credentials import (
    CredentialError,
    CredentialStore,
    KindLookup,
    Principal,
    PrincipalsOfKind,
    Role,
)


def test_ensure_creates_once_and_then_returns_the_same(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "credentials.json"
    store = CredentialStore(path)
    assert store.principals() == []
    first = store.ensure("reader-1", Role.DEVICE)
    assert first.role is Role.DEVICE
    assert len(first.password) >= 40
    assert path.stat().st_mode & 0o777 == 0o600
    assert CredentialStore(path).ensure("reader-1", Role.DEVICE) == first
    second = store.ensure("kiosk-1", Role.KIOSK)
    assert second.password != first.password
    assert [p.name for p in CredentialStore(path).principals()] == ["kiosk-1", "reader-1"]
    assert store.get("kiosk-1") == second
    assert store.get("nobody") is None


def test_password_is_not_in_repr(tmp_path: Path) -> None:
    principal = CredentialStore(tmp_path / "c.json").ensure("service", Role.SERVICE)
    assert principal.password not in repr(principal)


def test_a_role_is_not_changed_silently(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.json")
    store.ensure("reader-1", Role.DEVICE)
    with pytest.raises(CredentialError, match="already exists as device"):
        store.ensure("reader-1", Role.STATION)


@pytest.mark.parametrize("name", ["Reader-1", "", "a_b", "a/b", "x" * 65, "alarm", "#"])
def test_names_follow_the_device_rule(tmp_path: Path, name: str) -> None:
    with pytest.raises(CredentialError, match="principal name"):
        CredentialStore(tmp_path / "c.json").ensure(name, Role.DEVICE)


def test_a_readable_file_is_made_private_again(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    CredentialStore(path).ensure("reader-1", Role.DEVICE)
    path.chmod(0o644)
    assert CredentialStore(path).get("reader-1") is not None
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"principals": {"reader-1": {"role": "wizard", "password": "x"}}}',
        '{"principals": {"Bad Name": {"role": "device", "password": "x"}}}',
        '{"principals": {"reader-1": {"role": "device", "password": ""}}}',
        '{"principals": {"reader-1": {"role": "device"}}}',
    ],
)
def test_a_broken_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(CredentialError, match=r"c\.json"):
        CredentialStore(path).principals()


def test_file_format(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    principal = CredentialStore(path).ensure("station-1", Role.STATION)
    assert json.loads(path.read_text()) == {
        "version": 2,
        "principals": {"station-1": {"kind": "station", "password": principal.password}},
    }


def test_a_version_1_file_stays_readable_and_a_device_learns_its_kind(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"version": 1, "principals": {
        "reader-1": {"role": "device", "password": "pw-r"},
        "station-1": {"role": "station", "password": "pw-s"},
    }}))
    path.chmod(0o600)
    store = CredentialStore(path)
    assert store.get("reader-1") == Principal("reader-1", Role.DEVICE, "pw-r")
    assert store.ensure("reader-1", Role.DEVICE).role is Role.DEVICE  # no kind known: stays generic
    upgraded = store.ensure("reader-1", Role.READER)  # the site file says it is a reader
    assert upgraded == Principal("reader-1", Role.READER, "pw-r")  # same password
    assert CredentialStore(path).get("reader-1") == upgraded
    assert store.ensure("reader-1", Role.DEVICE) == upgraded  # asked without a kind: keeps reader
    with pytest.raises(CredentialError, match="already exists as reader, not door"):
        store.ensure("reader-1", Role.DOOR)
    with pytest.raises(CredentialError, match="already exists as station, not reader"):
        store.ensure("station-1", Role.READER)  # only an unknown device's kind is learnt


def test_kind_lookup_learns_new_principals_and_kinds(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.json")
    kinds = KindLookup(store, recheck_s=0)
    assert kinds("reader-1") is None
    store.ensure("reader-1", Role.DEVICE)
    assert kinds("reader-1") is Role.DEVICE
    store.ensure("reader-1", Role.READER)
    assert kinds("reader-1") is Role.READER


def _ensure_many(path: str, names: list[str]) -> None:
    store = CredentialStore(path)
    for name in names:
        store.ensure(name, Role.DEVICE)


@pytest.mark.timeout(60)
def test_concurrent_processes_agree(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    names = [f"reader-{i}" for i in range(15)]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_ensure_many, args=(str(path), names)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    found = CredentialStore(path).principals()
    assert sorted(p.name for p in found) == sorted(names)
    again = CredentialStore(path)
    assert all(again.ensure(p.name, Role.DEVICE) == p for p in found)
    assert isinstance(found[0], Principal)


def test_client_url_takes_credentials_from_the_store(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path)
    ensure_default_principals(credential_store(embedded))
    reader = credential_store(embedded).get("reader-1")
    assert reader is not None
    url = client_url(embedded, "reader-1", Role.DEVICE)
    assert (url.port, url.username, url.password) == (18830, "reader-1", reader.password)
    new = client_url(embedded, "reader-7", Role.DEVICE)  # created on first use
    assert new.password == credential_store(embedded).get("reader-7").password  # type: ignore[union-attr]


def test_client_url_for_another_broker(tmp_path: Path) -> None:
    given = Settings(data_dir=tmp_path, mqtt="mqtt://svc:secret@broker.example:1883")
    assert client_url(given, "service", Role.SERVICE).password == "secret"
    bare = Settings(data_dir=tmp_path, mqtt="mqtt://broker.example:1883")
    assert client_url(bare, "reader-1", Role.DEVICE).username is None  # not invented
    credential_store(bare).ensure("reader-1", Role.DEVICE)
    assert client_url(bare, "reader-1", Role.DEVICE).username == "reader-1"


def test_client_url_gives_a_device_of_unknown_kind_its_kind(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mqtt="mqtt://broker.example:1883")
    old = credential_store(settings).ensure("door-3", Role.DEVICE)
    url = client_url(settings, "door-3", Role.DOOR)  # `gatehouse device run` knows it is a door
    assert (url.username, url.password) == ("door-3", old.password)
    assert credential_store(settings).get("door-3") == Principal("door-3", Role.DOOR, old.password)
    with pytest.raises(CredentialError, match="already exists as door, not kiosk"):
        client_url(settings, "door-3", Role.KIOSK)


def test_the_stations_are_whoever_the_store_says_now(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "c.json")
    stations = PrincipalsOfKind(KindLookup(store, recheck_s=0), Role.STATION)
    store.ensure("reader-1", Role.READER)
    assert "station-2" not in stations
    store.ensure("station-2", Role.STATION)  # added while the service runs
    assert "station-2" in stations
    assert "reader-1" not in stations
    assert 7 not in stations
