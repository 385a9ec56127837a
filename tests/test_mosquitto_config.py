"""The generated Mosquitto configuration, run by a real Mosquitto 2, and the Mosquitto fixtures."""

from __future__ import annotations

import base64
import hashlib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.acl import MosquittoTls, mosquitto_password_hash
from broker.broker_cli import write_mosquitto_config
from broker.config import MqttUrl, Settings
from broker.credentials import CredentialStore, Role
from broker.embedded import accepts_connections, free_port
from broker.local_mosquitto import MOSQUITTO_BIN, LocalMosquitto
from tests.broker_contract import SITE, AclContract, SecuredSite, make_store
from tests.fixtures.mqtt import MqttClientFactory, mosquitto_run_as
from tests.fixtures.required import in_ci, unavailable
from tests.support import wait_until

needs_mosquitto = pytest.mark.skipif(  # under CI=true the test runs, and fails without it
    not MOSQUITTO_BIN.exists() and not in_ci(), reason=f"no {MOSQUITTO_BIN}"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMosquitto]:
    """Mosquitto running exactly the files `write_mosquitto_config` wrote, on a free port."""
    if not MOSQUITTO_BIN.exists():
        unavailable(f"no {MOSQUITTO_BIN}")
    root = tmp_path_factory.mktemp("mosquitto")
    settings = Settings(site=SITE, data_dir=root / "data")
    make_store(CredentialStore(settings.data_dir / "credentials.json"))
    port = free_port()
    write_mosquitto_config(
        settings,
        root / "etc",
        port=port,
        bind="127.0.0.1",
        persistence_location=str(root / "persist"),
        user=mosquitto_run_as(),
    )
    broker = LocalMosquitto(root / "etc" / "mosquitto.conf", port)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture(scope="module")
def secured(generated: LocalMosquitto) -> SecuredSite:
    """The generated broker and the principals its password file was made from."""
    store = CredentialStore(generated.config_file.parent.parent / "data" / "credentials.json")
    return SecuredSite(generated.url, {p.name: p for p in store.principals()})


class TestMosquittoAcl(AclContract):
    """Mosquitto 2.0 with the generated password_file and acl_file."""

    # Mosquitto 2.0's acl_file grants every SUBSCRIBE and checks `read` per delivered message.
    refuses_forbidden_subscribe = False
    # It accepts the CONNECT and drops a forbidden Will when it would be published.
    refuses_forbidden_will = False
    # Any user may take over any client id; the read ACL still filters what it receives.
    refuses_foreign_session = False
    # `use_username_as_clientid`: the CONNECT is accepted as the user's own session, nobody else's
    refuses_foreign_client_id = False


def test_written_files_name_each_other_and_are_private(tmp_path: Path) -> None:
    settings = Settings(site="lobby", data_dir=tmp_path / "data")
    written = write_mosquitto_config(settings, tmp_path / "etc", port=8883)
    etc = (tmp_path / "etc").resolve()
    assert written == [etc / "mosquitto.conf", etc / "passwd", etc / "acl"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in written)
    conf = (etc / "mosquitto.conf").read_text().splitlines()
    for line in (
        "allow_anonymous false",
        f"password_file {etc}/passwd",
        f"acl_file {etc}/acl",
        "listener 8883 127.0.0.1",
        "use_username_as_clientid true",
        "persistence true",
        f"persistence_location {(tmp_path / 'data' / 'mosquitto').resolve()}/",
        "log_dest stderr",
    ):
        assert line in conf
    users = [line.split(":", 1)[0] for line in (etc / "passwd").read_text().splitlines()]
    assert users == ["central", "kiosk-1", "reader-1", "station-1"]
    assert (tmp_path / "data" / "mosquitto").is_dir()  # persists under the data folder, made for it


def test_password_hash_matches_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    """Same `$7$` layout and PBKDF2-SHA512 digest as Mosquitto's own tool."""
    tool = MOSQUITTO_BIN.parent.parent / "bin" / "mosquitto_passwd"
    if not tool.exists():
        unavailable(f"no {tool}")
    passwd = tmp_path / "passwd"
    subprocess.run([str(tool), "-c", "-b", str(passwd), "alice", "s3cret"], check=True)
    theirs = passwd.read_text().strip().split(":", 1)[1]
    _, kind, rounds, salt, _digest = theirs.split("$")
    ours = mosquitto_password_hash("s3cret", salt=base64.b64decode(salt), iterations=int(rounds))
    assert (kind, ours) == ("7", theirs)


def test_password_hash_layout() -> None:
    salt = bytes(range(12))
    line = mosquitto_password_hash("pw", salt=salt, iterations=101)
    digest = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101)
    assert line == f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert mosquitto_password_hash("pw") != mosquitto_password_hash("pw")  # fresh salt


@needs_mosquitto
@pytest.mark.timeout(30)
def test_generated_broker_keeps_retained_messages_across_a_restart(
    generated: LocalMosquitto, secured: SecuredSite, mqtt_client: MqttClientFactory
) -> None:
    ack = f"gatehouse/{SITE}/reader-1/ack"
    service = mqtt_client(secured.url_for("service"))
    service.publish(ack, b'{"seq": 41}', retain=True)
    service.close()
    generated.restart()
    reader = mqtt_client(secured.url_for("reader-1"))
    assert not reader.subscribe(ack).is_failure
    got = reader.expect(ack)
    assert (got.payload, got.retain) == (b'{"seq": 41}', True)


@pytest.mark.mosquitto
@pytest.mark.timeout(20)
def test_shared_mosquitto_fixture(mosquitto_url: MqttUrl, mqtt_client: MqttClientFactory) -> None:
    topic = f"gatehouse/t-{free_port()}/reader-1/event/badge.read"
    subscriber = mqtt_client(mosquitto_url)
    assert not subscriber.subscribe(topic).is_failure
    mqtt_client(mosquitto_url).publish(topic, b"hello")
    assert subscriber.expect(topic).payload == b"hello"


@pytest.mark.timeout(40)
def test_private_mosquitto_survives_stop_but_a_kill_loses_unsaved_state(
    private_mosquitto: LocalMosquitto, mqtt_client: MqttClientFactory
) -> None:
    url = private_mosquitto.url
    mqtt_client(url).publish("gatehouse/t/x/status", b"saved", retain=True)
    private_mosquitto.restart()  # SIGTERM: Mosquitto writes its persistence file
    late = mqtt_client(url)
    assert not late.subscribe("gatehouse/t/x/status").is_failure
    assert late.expect().payload == b"saved"
    mqtt_client(url).publish("gatehouse/t/x/status", b"unsaved", retain=True)
    private_mosquitto.kill()
    private_mosquitto.start()
    again = mqtt_client(url)
    assert not again.subscribe("gatehouse/t/x/status").is_failure
    assert again.expect().payload == b"saved"


def test_the_site_file_s_devices_get_principals_of_their_kinds(tmp_path: Path) -> None:
    from gatehouse.cli import main

    site = tmp_path / "site.toml"
    site.write_text('[[devices.rdm6300]]\nname = "reader-9"\nport = "loop://"\n\n'
                    '[[devices.scanner]]\nname = "scanner-9"\nport = "loop://"\n')
    data = tmp_path / "data"
    CredentialStore(data / "credentials.json").ensure("reader-9", Role.DEVICE)  # an old file's device
    code = main(["broker", "mosquitto-config", "--config", str(site), "--data-dir", str(data),
                 "--site", "lobby", "--out", str(tmp_path / "etc")])
    assert code == 0
    assert CredentialStore(data / "credentials.json").get("reader-9").role is Role.READER  # type: ignore[union-attr]
    acl = (tmp_path / "etc" / "acl").read_text().splitlines()
    assert "topic write gatehouse/lobby/reader-9/event/badge.read" in acl
    assert "topic write gatehouse/lobby/scanner-9/event/code.scanned" in acl
    assert "topic write gatehouse/lobby/scanner-9/event/badge.read" not in acl


def test_missing_tls_files_are_a_clear_error(tmp_path: Path) -> None:
    from gatehouse.cli import main

    args = ["broker", "mosquitto-config", "--data-dir", str(tmp_path / "data"),
            "--out", str(tmp_path / "etc")]
    assert main([*args, "--tls-cert", str(tmp_path / "none.crt")]) == 2  # a key is needed too
    assert main([*args, "--tls-cert", str(tmp_path / "none.crt"), "--tls-key", str(tmp_path / "k")]) == 1
    assert not (tmp_path / "etc" / "mosquitto.conf").exists()


@needs_mosquitto
@pytest.mark.timeout(60)
def test_the_tls_listener_takes_a_verified_tls_client(tmp_path: Path) -> None:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    settings = Settings(site=SITE, data_dir=tmp_path / "data")
    port, tls_port = free_port(), free_port()
    write_mosquitto_config(settings, tmp_path / "etc", port=port, tls=MosquittoTls(str(cert), str(key), None,
                           tls_port), user=mosquitto_run_as())
    broker = LocalMosquitto(tmp_path / "etc" / "mosquitto.conf", port)
    broker.start()
    try:
        wait_until(lambda: accepts_connections("127.0.0.1", tls_port), 10, "the TLS listener open")
        central = CredentialStore(settings.data_dir / "credentials.json").get("central")
        assert central is not None
        answers: list[bool] = []
        for secure in (True, False):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="central")
            client.username_pw_set(central.name, central.password)
            if secure:
                client.tls_set(ca_certs=str(cert), tls_version=ssl.PROTOCOL_TLS_CLIENT)
            try:
                client.connect("127.0.0.1", tls_port, keepalive=5)
                answers.append(_handshake(client))
            except (OSError, ssl.SSLError):
                answers.append(False)
            finally:
                client.disconnect()
        assert answers == [True, False]  # plain MQTT on the TLS port gets nowhere
    finally:
        broker.kill()


def _handshake(client: mqtt.Client) -> bool:
    """Run the client's loop until CONNACK (or 5 s); True if it was accepted."""
    connected: list[bool] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.append(not reason.is_failure)
    for _ in range(50):
        if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS or connected:
            break
    return connected == [True]
