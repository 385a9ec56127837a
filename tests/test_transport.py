"""The bus over MQTT 5 and over TLS: the same delivery, other transports."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from broker.config import MqttUrl
from broker.embedded import free_port
from broker.local_mosquitto import MOSQUITTO_BIN, LocalMosquitto
from broker.schemas import BadgeRead
from security.storage import open_store
from tests.fixtures.mqtt import mosquitto_run_as
from tests.fixtures.required import unavailable
from tests.support import event_source, running_service, unique_site, wait_until


def _deliver(url: MqttUrl, db_url: str, folder: Path) -> None:
    site = unique_site()
    with running_service(url, db_url, site), event_source(url, folder, site, "reader-1") as source:
        for i in range(20):
            source.emit("badge.read", BadgeRead(credential=f"{i:04X}", reader=1))
        wait_until(lambda: source.pending() == 0, 20, "all 20 events acknowledged")
    with open_store(db_url) as store:
        assert store.count_events() == 20


@pytest.mark.mosquitto
def test_mqtt5(mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path) -> None:
    _deliver(replace(mosquitto_url, version=5), sqlite_url, tmp_path)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_tls(tmp_path: Path, sqlite_url: str) -> None:
    if not MOSQUITTO_BIN.exists() or shutil.which("openssl") is None:
        unavailable("needs mosquitto and openssl to run a TLS broker")
    pki = tmp_path / "pki"
    pki.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=pki)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr", cwd=pki)
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "1", "-extfile", "san.ext", "-out", "server.pem", cwd=pki)
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
        f"cafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.key\n"
        + (f"user {user}\n" if (user := mosquitto_run_as()) else "")
    )
    broker = LocalMosquitto(config, port)
    broker.start()
    try:
        url = MqttUrl.parse(f"mqtts://127.0.0.1:{port}?ca={pki}/ca.pem")
        _deliver(url, sqlite_url, tmp_path)
    finally:
        broker.stop()
