"""Events travel from a source's outbox through a real broker into the log, once each."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker import topics
from broker.config import MqttUrl
from broker.events import encode, make_event, to_dict
from broker.schemas import BadgeRead, DeliveryGap
from security.storage import open_store
from tests.support import event_source, running_service, unique_site, wait_until


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def broker_url(request: pytest.FixtureRequest) -> MqttUrl:
    """Each test runs on the embedded broker and on Mosquitto."""
    if request.param == "mosquitto":
        url: MqttUrl = request.getfixturevalue("mosquitto_url")
        return url
    return request.getfixturevalue("embedded_broker").url  # type: ignore[no-any-return]


def _raw_client(url: MqttUrl) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if url.username:
        client.username_pw_set(url.username, url.password)
    client.connect(url.host, url.port)
    client.loop_start()
    return client


def test_events_reach_the_log_once(broker_url: MqttUrl, sqlite_url: str, tmp_path: Path) -> None:
    site = unique_site()
    with running_service(broker_url, sqlite_url, site) as service, \
            event_source(broker_url, tmp_path, site, "reader-1") as source:
        emitted = [source.emit("badge.read", BadgeRead(credential=f"{i:04X}", reader=1)) for i in range(50)]
        wait_until(lambda: source.pending() == 0, 20, "watermark covering all 50 events")
        assert source.outbox.watermark == 50
        assert service.stats.dead_letters == 0
    with open_store(sqlite_url) as store:
        stored = sorted(store.query_events(limit=None), key=lambda e: e.seq)
    assert [e.id for e in stored] == [e.id for e in emitted]
    assert [e.seq for e in stored] == list(range(1, 51))


@pytest.mark.mosquitto
def test_each_database(mosquitto_url: MqttUrl, db_url: str, tmp_path: Path) -> None:
    site = unique_site()
    with running_service(mosquitto_url, db_url, site), \
            event_source(mosquitto_url, tmp_path, site, "kiosk-1") as source:
        for i in range(20):
            source.emit("badge.read", BadgeRead(credential=f"{i:04X}", reader=2))
        wait_until(lambda: source.pending() == 0, 20, "all 20 events acknowledged")
    with open_store(db_url) as store:
        assert store.count_events() == 20
        marks = store.load_watermarks()
    assert marks == {(topics.source(site, "kiosk-1"), source.outbox.incarnation): 20}


def test_source_keeps_events_while_broker_is_down(private_mosquitto: object, sqlite_url: str,
                                                   tmp_path: Path) -> None:
    broker = private_mosquitto
    url: MqttUrl = broker.url  # type: ignore[attr-defined]
    site = unique_site()
    broker.stop()  # type: ignore[attr-defined]
    with event_source(url, tmp_path, site, "reader-9", resend_after=1.0) as source:
        ids = [source.emit("badge.read", BadgeRead(credential="AB", reader=9)).id for _ in range(3)]
        assert source.pending() == 3
        broker.start()  # type: ignore[attr-defined]
        with running_service(url, sqlite_url, site):
            wait_until(lambda: source.pending() == 0, 30, "outbox drained after the broker came back")
    with open_store(sqlite_url) as store:
        assert [e.id for e in store.query_events(limit=None)] == ids


def test_device_status_and_last_will(broker_url: MqttUrl, sqlite_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    site = unique_site()
    source = topics.source(site, "reader-5")
    script = (
        "import sys, time\n"
        "from broker.bus import Bus\nfrom broker.config import MqttUrl\n"
        "bus = Bus(MqttUrl.parse(sys.argv[1]), client_id=sys.argv[2] + '-r5', site=sys.argv[2],"
        " device='reader-5')\n"
        "bus.start(); bus.wait_connected(10); print('up', flush=True); time.sleep(60)\n"
    )
    auth = f"{broker_url.username}:{broker_url.password}@" if broker_url.username else ""
    url_text = f"mqtt://{auth}{broker_url.host}:{broker_url.port}"
    with running_service(broker_url, sqlite_url, site) as service:
        with open_store(sqlite_url) as store:
            proc = subprocess.Popen([sys.executable, "-c", script, url_text, site],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "up"

            def state() -> str | None:
                found = [d for d in store.list_status() if d.source == source]
                return found[0].status.state if found else None

            wait_until(lambda: state() == "online", 10, "reader-5 seen online")
            proc.kill()  # no DISCONNECT: the broker must publish the Last Will
            proc.wait()
            wait_until(lambda: state() == "offline", 15, "reader-5 seen offline through its Will")
        assert source in service.stats.offline


def test_seq_gap_is_reported(broker_url: MqttUrl, sqlite_url: str) -> None:
    site = unique_site()
    client = _raw_client(broker_url)
    try:
        with running_service(broker_url, sqlite_url, site, gap_timeout=0.5) as service:
            for seq in (1, 2, 5):
                event = make_event(site, "reader-3", "badge.read", seq, BadgeRead(credential="0C", reader=3))
                client.publish(event.topic, encode(event), qos=1).wait_for_publish(5)
            wait_until(lambda: service.stats.gaps == 1, 15, "the gap 3-4 reported")
            with open_store(sqlite_url) as store:
                wait_until(lambda: bool(store.query_events(types=["delivery.gap"])), 15, "gap event stored")
                gap = store.query_events(types=["delivery.gap"])[0]
            assert gap.data == DeliveryGap(
                for_source=topics.source(site, "reader-3"), missing_from=3, missing_to=4
            )
            assert gap.source == topics.source(site, "central")
    finally:
        client.loop_stop()
        client.disconnect()


def test_spoofed_source_is_a_dead_letter(broker_url: MqttUrl, sqlite_url: str) -> None:
    site = unique_site()
    client = _raw_client(broker_url)
    try:
        with running_service(broker_url, sqlite_url, site) as service:
            event = make_event(site, "reader-1", "badge.read", 1, BadgeRead(credential="0D", reader=1))
            doc = json.loads(encode(event))
            client.publish(topics.event(site, "reader-2", "badge.read"), json.dumps(doc), qos=1)
            wait_until(lambda: service.stats.dead_letters == 1, 10, "the spoofed event refused")
        with open_store(sqlite_url) as store:
            letter = store.list_dead_letters()[0]
            assert store.count_events() == 0
        assert "does not match source" in letter.reason
        assert letter.topic == topics.event(site, "reader-2", "badge.read")
    finally:
        client.loop_stop()
        client.disconnect()


def test_clean_restart_under_traffic_still_drains(
    broker_url: MqttUrl, sqlite_url: str, tmp_path: Path
) -> None:
    """A service stopped mid-stream says its last watermarks again, so sources stop resending."""
    site = unique_site()
    with event_source(broker_url, tmp_path, site, "reader-7", resend_after=1.0) as source:
        assert source.bus.wait_connected(10)
        with running_service(broker_url, sqlite_url, site):
            for i in range(300):
                source.emit("badge.read", BadgeRead(credential=f"{i:04X}", reader=7))
        with running_service(broker_url, sqlite_url, site):
            wait_until(lambda: source.pending() == 0, 30, "the outbox drained after the restart")
    with open_store(sqlite_url) as store:
        assert store.count_events() == 300


def test_a_bad_event_does_not_stop_the_watermark(broker_url: MqttUrl, sqlite_url: str) -> None:
    """An event whose envelope is sound but whose data is not is a dead letter the mark passes."""
    site = unique_site()
    client = _raw_client(broker_url)
    marks: list[int] = []
    client.on_message = lambda _c, _u, msg: marks.append(json.loads(msg.payload)["seq"])
    client.subscribe(topics.ack(site, "reader-4"), qos=1)
    try:
        with running_service(broker_url, sqlite_url, site) as service:
            good = make_event(site, "reader-4", "badge.read", 1, BadgeRead(credential="01", reader=4))
            bad = to_dict(make_event(site, "reader-4", "badge.read", 2, BadgeRead(credential="02", reader=4)))
            bad["data"] = {"credential": "02", "reader": 4, "antenna": "new in firmware 2"}
            last = make_event(site, "reader-4", "badge.read", 3, BadgeRead(credential="03", reader=4))
            client.publish(good.topic, encode(good), qos=1)
            client.publish(good.topic, json.dumps(bad), qos=1)
            client.publish(last.topic, encode(last), qos=1)
            wait_until(lambda: bool(marks) and marks[-1] == 3, 10, "the watermark passing the bad event")
            assert service.stats.dead_letters == 1
    finally:
        client.loop_stop()
        client.disconnect()
