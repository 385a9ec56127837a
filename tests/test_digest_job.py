"""The daily digest end to end: a day stored through the real write paths, the job run, the e-mails
delivered by the notifier to a real SMTP server with both CSVs attached, and sent once across restarts.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.events import Event, make_event
from broker.messages import Status
from broker.schemas import Data, DeviceFault, Priority, VisitorCheckedIn, VisitorCheckedOut, VisitorType
from security.office.alarms import (
    Acknowledge,
    ActionRejected,
    AlarmBook,
    BookConfig,
    Condition,
    Output,
    RuleName,
)
from security.office.digest_job import DigestConfig, dedup_key, run_digest
from security.office.exports import ALARM_COLUMNS, VISIT_COLUMNS
from security.office.incidents import IncidentDesk, console_emitter
from security.office.notify import Notifier, NotifyConfig, RoleTargets, SmtpConfig
from security.storage import EventStore, open_store
from security.storage.alarm_store import save_alarms
from security.storage.invitations import Invitation, add_invitation, mark_checked_in
from security.storage.notifications import NotificationState, enqueue, list_notifications, queued_once
from tests.fixtures.servers import MailServer

WARSAW = ZoneInfo("Europe/Warsaw")
DAY = date(2026, 12, 4)
SITE = "hq"
NOW = datetime(2026, 12, 5, 6, 0, tzinfo=WARSAW)


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A wall-clock time of `day` in Warsaw."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=WARSAW)


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated event log on SQLite and on PostgreSQL."""
    with open_store(db_url) as opened:
        yield opened


class Device:
    """A device's events with their own seqs, stored through EventStore.store_batch (insert_batch)."""

    def __init__(self, store: EventStore, device: str) -> None:
        self.store, self.device, self.seq = store, device, itertools.count(1)

    def put(self, received_at: datetime, event_type: str, data: Data) -> Event:
        event = make_event(SITE, self.device, event_type, next(self.seq), data)
        assert len(self.store.store_batch([event], received_at).stored) == 1
        return event


def store_day(store: EventStore) -> None:
    """A day at the lobby: three visits (one invited), two alarms, an incident, a printer that failed."""
    kiosk, printer = Device(store, "kiosk-1"), Device(store, "printer-1")
    people = [("v-1", "Ana Lopez", "=HYPERLINK(\"x\")", True), ("v-2", "Łukasz Żółw", "Widgets", False),
              ("v-3", "Ewa Nowak", None, False)]
    for n, (visit_id, name, company, invited) in enumerate(people):
        kiosk.put(local(8 + 3 * n, 10), "visitor.checked_in", VisitorCheckedIn(
            visit_id=visit_id, visitor_name=name, visitor_type=VisitorType.GUEST, company=company,
            host_id="e-1", host_name="Anna Host", invited=invited, badge=f"0A0B{n:04d}"))
    kiosk.put(local(9, 40), "visitor.checked_out", VisitorCheckedOut(visit_id="v-1", method="qr"))
    kiosk.put(local(7, 0, DAY - timedelta(days=1)), "visitor.checked_in", VisitorCheckedIn(  # the day before
        visit_id="v-0", visitor_name="Old Guest", visitor_type=VisitorType.GUEST))
    printer.put(local(12, 0), "device.fault", DeviceFault(fault="paper_out"))
    printer.put(local(12, 5), "device.fault", DeviceFault(fault="paper_out", cleared=True))
    with store.engine.begin() as conn:
        add_invitation(conn, Invitation(
            visit_id="v-1", code="GH1:v-1:secret", visitor_name="Ana Lopez", company=None, email=None,
            visitor_type="guest", host_id="e-1", expected_at=local(8), valid_until=local(12),
            created_by="api:host", created_at=local(8, day=DAY - timedelta(days=2))))
        assert mark_checked_in(conn, "v-1", local(8, 10))
    book, outputs = AlarmBook(BookConfig()), list[Output]()
    for item, at in ((Condition(RuleName.DOOR_FORCED, "door-forced:server-room", Priority.HIGH,
                                "Door server-room forced"), local(9, 15)),
                     (Acknowledge("a-1", "guard:maria"), local(9, 16)),
                     (Condition(RuleName.DEVICE_OFFLINE, "device-offline:gatehouse/hq/printer-1",
                                Priority.MEDIUM, "Printer printer-1 went offline"), local(13, 0))):
        book, out = book.apply(item, at)
        outputs.extend(out)
    with store.engine.begin() as conn:
        save_alarms(conn, [o.alarm for o in outputs if not isinstance(o, ActionRejected)], local(13, 0))
    store.set_status("gatehouse/hq/printer-1", Status("offline", kind="printer", since=local(12, 59)),
                     local(12, 59))
    clock = [local(9, 30)]
    desk = IncidentDesk(store.engine, site=SITE, audit_key=b"key", emit=console_emitter(store, SITE),
                        clock=lambda: clock[0])
    opened = desk.open("Tailgating at door 2", "guard:maria")
    clock[0] = local(17, 0)
    desk.close(opened.id, "manager:ola", "spoken to")


def notify_config(port: int) -> NotifyConfig:
    smtp = SmtpConfig(host="127.0.0.1", port=port, timeout_s=5, sender="gatehouse@example.com")
    managers = RoleTargets(emails=["ola@example.com", "BOSS@example.com"])
    return NotifyConfig(smtp=smtp, roles={"manager": managers})


DIGEST = DigestConfig(enabled=True, emails=["boss@example.com"], role="manager")


def parts(message: EmailMessage) -> tuple[str, str, dict[str, list[dict[str, str]]]]:
    """The text body, the HTML body and each CSV attachment parsed into rows."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    files = {}
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        assert part.get_content_type() == "text/csv"
        content = part.get_content()
        files[str(part.get_filename())] = list(csv.DictReader(io.StringIO(content)))
    return str(text.get_content()).replace("\r\n", "\n"), str(html.get_content()), files


def test_the_day_reaches_each_manager_once_with_both_csvs(store: EventStore, mail: MailServer) -> None:
    store_day(store)
    notify = notify_config(mail.port)
    result = run_digest(store, DIGEST, notify, site=SITE, day=DAY, tz=WARSAW, now=NOW.astimezone(UTC))
    assert result.queued == ("boss@example.com", "ola@example.com")  # BOSS@ is boss@: one e-mail
    assert Notifier(store.engine, notify).run_once(NOW) == 2

    assert sorted(to for to, _ in mail.recorder.messages) == [["boss@example.com"], ["ola@example.com"]]
    _to, message = mail.recorder.messages[0]
    assert message["Subject"] == ("[Gatehouse hq] Daily digest 2026-12-04: 3 visitors, 2 alarms, "
                                  "1 incidents opened")
    text, html, files = parts(message)
    assert "  Arrivals             3\n  Walk-ins             2\n  Invited              1\n" in text
    assert "  Expected     1\n  Came         1\n" in text
    assert "  08:00         1\n  11:00         1\n  14:00         1\n" in text
    assert "  High                 1                 0  60 s  60 s\n" in text
    assert "  i-1       09:30  guard:maria  Tailgating at door 2\n" in text
    assert "  i-1       17:00  manager:ola  spoken to\n" in text
    assert "  gatehouse/hq/printer-1  printer  12:59\n" in text  # offline now
    assert "  gatehouse/hq/printer-1  offline  13:00  -\n" in text  # its alarm
    assert "  gatehouse/hq/printer-1  paper_out      1  12:00  12:00\n" in text  # the cleared one not counted
    assert "Attached: visits-2026-12-04.csv, alarms-2026-12-04.csv." in text
    assert "names and companies are masked" in text
    assert "<h2>Visitors</h2>" in html

    visits, alarms = files["visits-2026-12-04.csv"], files["alarms-2026-12-04.csv"]
    assert list(visits[0]) == list(VISIT_COLUMNS)
    assert [(v["visit_id"], v["visitor_name"], v["company"], v["invited"]) for v in visits] == [
        ("v-1", "A** L****", "'=HY" + "*" * 12, "true"), ("v-2", "Ł***** Ż***", "Wid****", "false"),
        ("v-3", "E** N****", "", "false")]  # masked, and a formula stays text
    assert visits[0]["arrived_at"] == "2026-12-04T08:10:00+01:00"  # in the site's zone
    assert visits[0]["left_at"] == "2026-12-04T09:40:00+01:00"
    assert list(alarms[0]) == list(ALARM_COLUMNS)
    assert [(a["id"], a["priority"], a["source"], a["acknowledged_by"]) for a in alarms] == [
        ("a-1", "high", "server-room", "guard:maria"), ("a-2", "medium", "gatehouse/hq/printer-1", "")]


def test_a_restarted_service_does_not_send_the_day_again(db_url: str, mail: MailServer) -> None:
    """The job run again by a new process on the same database queues nothing; the manager gets one e-mail."""
    notify = notify_config(mail.port)
    with open_store(db_url) as first:
        store_day(first)
        result = run_digest(first, DIGEST, notify, site=SITE, day=DAY, tz=WARSAW, now=NOW)
        assert len(result.queued) == 2
    with open_store(db_url) as second:  # a restart within the hour: the thread runs the due day again
        later = NOW + timedelta(minutes=3)
        again = run_digest(second, DIGEST, notify, site=SITE, day=DAY, tz=WARSAW, now=later)
        assert (again.queued, again.already) == ((), ("boss@example.com", "ola@example.com"))
        assert Notifier(second.engine, notify).run_once(later) == 2
        hour = NOW + timedelta(hours=1)
        after = run_digest(second, DIGEST, notify, site=SITE, day=DAY, tz=WARSAW, now=hour)
        assert after.queued == ()
        assert Notifier(second.engine, notify).run_once(NOW + timedelta(hours=1)) == 0
        with second.engine.connect() as conn:
            rows = list_notifications(conn)
            marker = queued_once(conn, dedup_key(SITE, DAY, "boss@example.com"))
        next_day = run_digest(second, DIGEST, notify, site=SITE, day=DAY + timedelta(days=1), tz=WARSAW,
                              now=NOW + timedelta(days=1))
        assert len(next_day.queued) == 2  # the key is per day
    assert mail.recorder.count() == 2
    assert [r.state for r in rows] == [NotificationState.SENT] * 2
    assert marker is not None
    assert marker.target == "boss@example.com"


def test_full_names_only_when_the_site_says_so_and_a_large_csv_is_left_out(
    store: EventStore, mail: MailServer
) -> None:
    store_day(store)
    notify = notify_config(mail.port)
    config = DigestConfig(enabled=True, emails=["boss@example.com"], personal_data=True)
    result = run_digest(store, config, notify, site=SITE, day=DAY, tz=WARSAW, now=NOW, send=False)
    assert result.queued == ()
    [visits] = [a for a in result.mail.attachments if a.filename.startswith("visits")]
    rows = list(csv.DictReader(io.StringIO(visits.text)))
    assert [(r["visitor_name"], r["company"]) for r in rows] == [
        ("Ana Lopez", "'=HYPERLINK(\"x\")"), ("Łukasz Żółw", "Widgets"), ("Ewa Nowak", "")]  # formula-safe
    assert "masked" not in result.mail.text
    sizes = {a.filename: len(a.text.encode()) for a in result.mail.attachments}
    kept, left = sorted(sizes, key=lambda name: sizes[name])  # the smaller fits, the larger is left out
    small = config.model_copy(update={"max_attachment_bytes": sizes[left] - 1})
    cut = run_digest(store, small, notify, site=SITE, day=DAY, tz=WARSAW, now=NOW, send=False)
    assert [a.filename for a in cut.mail.attachments] == [kept]
    assert f"{left} was not attached: {sizes[left]} bytes is over the limit" in cut.mail.text
    with store.engine.connect() as conn:
        assert list_notifications(conn) == []  # a preview queues nothing


def test_a_malformed_attachment_is_a_delivery_failure_not_a_crash(
    store: EventStore, mail: MailServer
) -> None:
    notify = notify_config(mail.port)
    payload: dict[str, Any] = {"attachments": [{"filename": "../../etc/passwd", "content_type": "text/csv",
                                                "text": "x"}]}
    with store.engine.begin() as conn:
        enqueue(conn, channel="email", target="boss@example.com", subject="s", body="b", payload=payload,
                now=NOW)
    assert Notifier(store.engine, notify).run_once(NOW) == 0
    with store.engine.connect() as conn:
        [row] = list_notifications(conn)
    assert row.state == NotificationState.PENDING
    assert row.last_error is not None
    assert row.last_error.startswith("cannot attach: an attachment's name is 1 to 100 of")
    assert mail.recorder.count() == 0


@pytest.mark.parametrize(("section", "message"), [
    ({"enabled": True}, "no recipients"),
    ({"role": "nobody"}, "not in \\[notify.roles\\]"),
    ({"hour": 24}, "digest.hour"),
    ({"emails": ["not-an-address"]}, "not an e-mail address"),
    ({"colour": "red"}, "digest.colour"),
])
def test_bad_digest_settings_are_named(section: dict[str, Any], message: str) -> None:
    from broker.config import ConfigError
    from security.site.central import CentralConfig

    with pytest.raises(ConfigError, match=message):
        CentralConfig.from_document({"digest": section})


def test_the_digest_is_off_unless_asked_for() -> None:
    from security.site.central import CentralConfig

    config = CentralConfig.from_document({})
    assert (config.digest.enabled, config.digest.hour, config.digest.personal_data) == (False, 6, False)
    doc = {"notify": {"roles": {"manager": {"emails": ["a@example.com"]}}},
           "digest": {"enabled": True, "role": "manager", "emails": ["b@example.com", "A@example.com"]}}
    on = CentralConfig.from_document(doc)
    assert on.digest.recipients(on.notify) == ("b@example.com", "A@example.com")
