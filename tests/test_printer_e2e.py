"""A badge printer end to end: a print command over a real broker, a simulated Zebra, the central log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broker import topics
from broker.config import MqttUrl
from broker.device_link import DeviceLink
from broker.embedded import EmbeddedBroker
from broker.messages import Command, Status
from broker.schemas import BadgePrinted, DeviceFault
from devices.printers import PrinterAgent, SerialPrinterPort, zebra
from devices.printers.simulators import PtyPrinter, SimulatedZebra
from devices.printers.status import Condition
from devices.printers.zpl import decode_graphic
from security.storage import open_store
from tests.fixtures.mqtt import MqttClientFactory
from tests.support import running_service, unique_site, wait_until

DEVICE = "desk-printer"


def test_print_command_to_zebra_and_events_in_the_central_log(
    embedded_broker: EmbeddedBroker, sqlite_url: str, tmp_path: Path, mqtt_client: MqttClientFactory
) -> None:
    url: MqttUrl = embedded_broker.url
    site = unique_site()
    station = mqtt_client(url)
    station.subscribe(topics.status(site, DEVICE))
    model = SimulatedZebra()
    with running_service(url, sqlite_url, site), PtyPrinter(model) as sim, \
            DeviceLink(url, site=site, device=DEVICE, kind="printer", outbox_dir=tmp_path) as link:
        agent = PrinterAgent(SerialPrinterPort(sim.path), link.source, printer=DEVICE, driver=zebra(),
                             poll_s=0.2, answer_timeout=0.5)
        agent.subscribe(link.bus, site, DEVICE)
        agent.start()
        try:
            wait_until(lambda: any(Status.decode(m.payload).state == "online"
                                   for m in station.received(topics.status(site, DEVICE))),
                       10, "printer online")
            expires = datetime.now(UTC) + timedelta(seconds=30)
            args = {"visitor_name": "Ana Kowalska", "visit_id": "v-7f3a", "host": "Budi Santoso",
                    "company": "Acme"}
            station.publish(topics.command(site, DEVICE, "print"),
                            Command(uuid.uuid4().hex, "print", expires, args).encode())
            wait_until(lambda: len(model.labels) == 1, 10, "label at the Zebra")
            label = model.labels[0]
            assert label.startswith(b"^XA")
            assert label.endswith(b"^XZ")
            assert decode_graphic(label).size == (816, 406)  # 812 dots padded to whole bytes
            model.conditions.add(Condition.PAPER_OUT)
            wait_until(lambda: link.source.pending() == 0 and link.source.outbox.watermark == 2, 20,
                       "print and fault events stored")
        finally:
            agent.stop()
    with open_store(sqlite_url) as store:
        stored = store.query_events(limit=None)
    mine = [e for e in stored if e.source == topics.source(site, DEVICE)]
    assert [e.type for e in mine] == ["badge.printed", "device.fault"]
    printed, fault = mine[0].data, mine[1].data
    assert isinstance(printed, BadgePrinted)
    assert printed.ok
    assert printed.visit_id == "v-7f3a"
    assert printed.printer == DEVICE
    assert isinstance(fault, DeviceFault)
    assert fault.fault == "paper_out"
    assert not fault.cleared
