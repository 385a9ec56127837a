"""The embedded amqtt broker in its own process: lifecycle, port clashes, and the ACL contract."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.config import MqttUrl
from broker.credentials import CredentialStore
from broker.embedded import BrokerError, EmbeddedBroker, accepts_connections, free_port
from tests.broker_contract import SITE, AclContract, SecuredSite, make_store
from tests.fixtures.mqtt import MqttClientFactory


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredSite]:
    """One authenticated amqtt broker with the generated ACLs for this module's tests."""
    store = CredentialStore(tmp_path_factory.mktemp("creds") / "credentials.json")
    principals = make_store(store)
    with EmbeddedBroker(port=free_port(), site=SITE, principals=principals) as broker:
        yield SecuredSite(broker.url, {p.name: p for p in principals})


class TestAmqttAcl(AclContract):
    """amqtt 0.12.1 with FileAuthPlugin and broker.amqtt_plugins' TopicAcl and SessionGuard."""

    refuses_forbidden_subscribe = True
    refuses_forbidden_will = True
    refuses_foreign_session = True
    # broker.amqtt_identity authenticates before amqtt acts on a client id, which SessionGuard binds
    refuses_foreign_client_id = True


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie counts: no init here may reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.mark.timeout(20)
def test_fixture_broker_delivers_and_retains(
    embedded_broker: EmbeddedBroker, mqtt_client: MqttClientFactory
) -> None:
    publisher = mqtt_client(embedded_broker.url)
    publisher.publish("gatehouse/t/reader-1/status", b"online", retain=True)
    subscriber = mqtt_client(embedded_broker.url)
    assert not subscriber.subscribe("gatehouse/#").is_failure
    got = subscriber.expect("gatehouse/t/reader-1/status")
    assert (got.payload, got.retain) == (b"online", True)
    publisher.publish("gatehouse/t/reader-1/event/badge.read", b"live")
    assert subscriber.expect("gatehouse/t/reader-1/event/#").payload == b"live"


@pytest.mark.timeout(20)
def test_a_probe_barrier_comes_after_what_was_retained_for_it(
    embedded_broker: EmbeddedBroker, mqtt_client: MqttClientFactory
) -> None:
    """The handshake tests use to say "nothing (more) came": retained messages arrive before it."""
    publisher = mqtt_client(embedded_broker.url)
    for n in range(20):
        publisher.publish(f"gatehouse/t/reader-{n}/status", b"online", retain=True)
    late = mqtt_client(embedded_broker.url)
    assert not late.subscribe("gatehouse/t/+/status").is_failure
    late.barrier()
    assert len(late.received("gatehouse/t/+/status")) == 20
    assert late.received("test-barrier/#") == []


@pytest.mark.timeout(30)
def test_restart_serves_the_same_port_but_forgets_retained_messages(
    embedded_broker: EmbeddedBroker, mqtt_client: MqttClientFactory
) -> None:
    """amqtt keeps retained messages in memory only: publishers must re-assert them."""
    first_pid = embedded_broker.pid
    mqtt_client(embedded_broker.url).publish("gatehouse/t/x/status", b"online", retain=True)
    embedded_broker.restart()
    assert embedded_broker.pid != first_pid
    late = mqtt_client(embedded_broker.url)
    assert not late.subscribe("gatehouse/#").is_failure
    mqtt_client(embedded_broker.url).publish("gatehouse/t/x/event/a.b", b"after")
    assert late.expect().topic == "gatehouse/t/x/event/a.b"


@pytest.mark.timeout(20)
def test_stop_ends_the_process_cleanly_and_frees_the_port(embedded_broker: EmbeddedBroker) -> None:
    pid = embedded_broker.pid
    assert pid is not None
    assert embedded_broker.stop() == 0
    assert _gone(pid)
    assert not accepts_connections(embedded_broker.host, embedded_broker.port)
    assert embedded_broker.stop() is None  # idempotent
    embedded_broker.start()
    embedded_broker.wait_ready()
    assert accepts_connections(embedded_broker.host, embedded_broker.port)


@pytest.mark.timeout(20)
def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = EmbeddedBroker(port=port, anonymous=True)
        with pytest.raises(BrokerError, match=rf"port {port} on 127\.0\.0\.1 is already in use"):
            broker.start()
        assert broker.pid is None


@pytest.mark.timeout(20)
def test_the_module_entry_point_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "broker.embedded", "--anonymous", "--port", str(port)],
            capture_output=True, text=True, timeout=15, check=False,
        )  # fmt: skip
    assert run.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in run.stderr


@pytest.mark.timeout(20)
def test_a_broker_that_dies_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    broker = EmbeddedBroker(port=free_port(), host="192.0.2.1", anonymous=True)  # not ours
    with pytest.raises(BrokerError, match="exited with code 1 before it was ready"), broker:
        pass
    assert broker.pid is None


def test_constructor_wants_an_explicit_mode() -> None:
    with pytest.raises(ValueError, match="anonymous=True"):
        EmbeddedBroker()
    with pytest.raises(ValueError, match="needs the site"):
        EmbeddedBroker(principals=[])
    with pytest.raises(ValueError, match="port must be"):
        EmbeddedBroker(port=0, anonymous=True)


@pytest.mark.timeout(30)
def test_broker_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    port = free_port()
    script = textwrap.dedent(f"""
        import sys, time
        from broker.embedded import EmbeddedBroker
        broker = EmbeddedBroker(port={port}, anonymous=True)
        broker.start()
        broker.wait_ready()
        print(broker.pid, broker.log_path.parent, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid, workdir = parent.stdout.readline().split()
        child = int(pid)
        assert accepts_connections("127.0.0.1", port)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while not _gone(child):
        assert time.monotonic() < deadline, "the orphaned broker kept running"
        time.sleep(0.1)
    shutil.rmtree(workdir)  # its owner was killed before it could clean up


@pytest.mark.timeout(40)
def test_serve_creates_principals_and_enforces_passwords(
    tmp_path: Path, mqtt_client: MqttClientFactory
) -> None:
    """`serve()` is what `gatehouse broker` runs: foreground, authenticated, SIGTERM ends it."""
    port = free_port()
    script = textwrap.dedent(f"""
        import logging, sys
        from broker.broker_cli import serve
        from broker.config import Settings
        logging.basicConfig(level=logging.INFO)
        settings = Settings(site="lobby", data_dir={str(tmp_path)!r},
                            mqtt="mqtt://127.0.0.1:{port}")
        sys.exit(serve(settings))
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 15
        while not accepts_connections("127.0.0.1", port):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        creds = tmp_path / "credentials.json"
        assert creds.stat().st_mode & 0o777 == 0o600
        principals = json.loads(creds.read_text())["principals"]
        assert set(principals) == {"central", "station-1", "kiosk-1", "reader-1"}
        url = MqttUrl("127.0.0.1", port)
        reader = url.with_credentials("reader-1", principals["reader-1"]["password"])
        mqtt_client(reader).close()
        assert mqtt_client(url.with_credentials("reader-1", "nope"), connect=False).connect().is_failure
        assert mqtt_client(url, connect=False).connect().is_failure
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0, output
    assert f"embedded broker on mqtt://127.0.0.1:{port}" in output
    assert principals["reader-1"]["password"] not in output


@pytest.mark.timeout(20)
def test_serve_reports_a_port_in_use(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from broker.broker_cli import serve
    from broker.config import Settings

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = Settings(data_dir=tmp_path, mqtt=f"mqtt://127.0.0.1:{port}")
        assert serve(settings) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in caplog.text
    assert not (tmp_path / "credentials.json").exists()


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "first_bytes", [b"", b"\x10", b"\x10\xff\xff\xff\xff\x7f", b"GET / HTTP/1.1\r\n\r\n"],
    ids=["nothing", "cut-connect", "bad-length", "not-mqtt"],
)
def test_whatever_comes_before_a_connect_is_closed_and_the_broker_serves_on(
    secured: SecuredSite, mqtt_client: MqttClientFactory, first_bytes: bytes
) -> None:
    """GuardedBroker reads the CONNECT itself: a cut or broken one closes that connection only
    (amqtt 0.12.1 alone leaves it open for ever)."""
    with socket.create_connection((secured.url.host, secured.url.port), timeout=10) as raw:
        raw.sendall(first_bytes)
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(16) == b""  # closed
    reader = mqtt_client(secured.url_for("reader-1"))
    service = mqtt_client(secured.url_for("service"))
    assert not service.subscribe(f"gatehouse/{SITE}/reader-1/event/#").is_failure
    reader.publish(f"gatehouse/{SITE}/reader-1/event/badge.read", b"still served")
    assert service.expect().payload == b"still served"
