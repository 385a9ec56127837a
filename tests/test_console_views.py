"""The console's pure parts with plain values: languages, ranges, charts, the Today page, the live feed."""

from __future__ import annotations

import gettext
import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.catalogs import compile_mo, extract, extract_templates, read_po
from broker.events import encode, make_event
from broker.messages import AlarmStatus, Status
from broker.schemas import AlarmRaised, BadgeRead, Priority
from security.accounts.roles import Account, Role
from security.console import i18n
from security.console.auth import safe_next
from security.console.charts import (
    SCALE,
    UNKNOWN_SHADE,
    Bar,
    Cell,
    availability_shade,
    bars_svg,
    heat_svg,
    shade,
    strips_svg,
)
from security.console.devices_page import day_cells
from security.console.invitations_page import invitation_line
from security.console.live import describe
from security.console.people_page import matches
from security.console.person_page import split_list
from security.console.ranges import day_range, day_windows, local_moment, redact
from security.console.rights_page import RightForm
from security.console.today import day_bounds, today_page
from security.office.access import OnSite
from security.office.access.model import Person, PersonKind
from security.office.alarms.lifecycle import Alarm, AlarmState
from security.office.availability import StateChange
from security.storage import DeviceState
from security.storage.invitations import Invitation
from security.storage.people import PersonView
from security.storage.reports.keyset import ReportError

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
SAME_WORD = {"id": {"Alarm", "Audit", "Operator", "auditor", "admin", "ok", "alarm", "online", "offline"},
             "pl": {"Alarm", "Operator", "min", "ok", "alarm", "online", "offline", "E-mail"}}


@pytest.mark.parametrize("language", ["id", "pl"])
def test_every_console_text_is_translated_and_compiled(language: str) -> None:
    template = i18n.HERE / "templates"
    wanted = {e.msgid for e in extract_templates(sorted(template.glob("*.html")))}
    wanted |= {e.msgid for e in extract(sorted(i18n.HERE.rglob("*.py")))}
    entries = read_po(i18n.po_path(language).read_text(encoding="utf-8"))
    catalog = {e.msgid: e for e in entries if e.msgid}
    assert wanted <= catalog.keys(), sorted(wanted - catalog.keys())
    for entry in catalog.values():
        assert entry.msgstr[0].strip(), entry.msgid
        if entry.msgid not in SAME_WORD[language]:
            assert entry.msgstr[0] != entry.msgid, f"{entry.msgid!r} is not translated into {language}"
    compiled = compile_mo(entries)
    assert i18n.po_path(language).with_suffix(".mo").read_bytes() == compiled, \
        "run: python -m security.console.i18n"
    assert gettext.GNUTranslations(io.BytesIO(compiled)).gettext("Log in") == catalog["Log in"].msgstr[0]


@pytest.mark.parametrize(("chosen", "header", "expected"), [
    ("pl", "id,en", "pl"),
    (None, "id-ID,id;q=0.9,en;q=0.5", "id"),
    (None, "de-DE,pl;q=0.4,en;q=0.8", "en"),
    (None, "de, pl;q=0.4", "pl"),
    ("xx", None, "en"),
    (None, "pl;q=abc, id;q=0.1", "id"),
])
def test_the_language_is_the_chosen_one_else_the_browsers_best(chosen: str | None, header: str | None,
                                                               expected: str) -> None:
    assert i18n.negotiate(chosen, header) == expected


@pytest.mark.parametrize(("target", "expected"), [
    ("/console/visits?from=2026-12-01", "/console/visits?from=2026-12-01"),
    ("https://evil.example/console/", "/console/"),
    ("//evil.example/console/", "/console/"),
    ("/console/\\evil", "/console/"),
    ("/api/people", "/console/"),
])
def test_after_login_only_a_console_page_is_a_destination(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_range_is_local_days_both_included_and_a_week_by_default() -> None:
    week = day_range(None, None, NOW, WARSAW)
    assert (week.first, week.last) == (date(2026, 11, 28), date(2026, 12, 4))
    assert week.times.start == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert week.times.end == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    dst = day_range("2026-03-29", "2026-03-29", NOW, WARSAW)  # the night clocks go forward
    assert dst.times.end - dst.times.start == timedelta(hours=23)
    assert week.query() == {"from": "2026-11-28", "to": "2026-12-04"}
    with pytest.raises(ReportError, match="YYYY-MM-DD"):
        day_range("04/12/2026", None, NOW, WARSAW)
    with pytest.raises(ReportError, match="start on or before"):
        day_range("2026-12-05", "2026-12-01", NOW, WARSAW)
    with pytest.raises(ReportError, match="366 days"):
        day_range("2024-01-01", "2026-01-01", NOW, WARSAW)


def test_charts_carry_their_values_as_text_and_escape_labels() -> None:
    svg = bars_svg([Bar("<b>mon</b>", 3), Bar("tue", 0)], "Alarms & more")
    assert "<title>&lt;b&gt;mon&lt;/b&gt;: 3</title>" in svg
    assert "Alarms &amp; more" in svg
    heat = heat_svg([[0] * 23 + [5], [1] * 24], ["Mon", "Tue"], "Arrivals")
    assert "<title>Mon 23:00: 5</title>" in heat
    assert heat.count("<rect") == 48
    assert shade(0, 5) == SCALE[0]
    assert shade(5, 5) == SCALE[-1]
    assert shade(1, 5) != SCALE[0]


def test_availability_strips_say_each_day_s_figure_and_colour_it() -> None:
    svg = strips_svg([("door-1", [Cell("12-01", 100.0), Cell("12-02", 97.4), Cell("12-03", None)]),
                      ("<cam>", [Cell("12-01", 10.0)])], "Availability & days", "not known")
    assert "<title>door-1 12-02: 97.4 %</title>" in svg
    assert "<title>door-1 12-03: not known</title>" in svg
    assert "<title>&lt;cam&gt; 12-01: 10.0 %</title>" in svg
    assert "Availability &amp; days" in svg
    assert svg.count("<rect") == 4
    assert f'fill="{availability_shade(100.0)}"' in svg
    assert f'fill="{UNKNOWN_SHADE}"' in svg
    shades = [availability_shade(p) for p in (100.0, 99.5, 96.0, 85.0, 0.0)]
    assert len(set(shades)) == 5
    assert UNKNOWN_SHADE not in shades
    assert strips_svg([], "Nothing") == ""


def test_each_local_day_is_a_window_and_a_device_s_strip_stops_at_now() -> None:
    days = day_range("2026-03-28", "2026-03-30", NOW, WARSAW)  # clocks go forward on the 29th
    windows = day_windows(days, WARSAW)
    assert [w.day for w in windows] == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    assert [(w.end - w.start) / timedelta(hours=1) for w in windows] == [24, 23, 24]
    assert windows[0].start == days.times.start
    assert windows[-1].end == days.times.end
    noon = datetime(2026, 3, 29, 10, 0, tzinfo=UTC)  # 12:00 in Warsaw
    changes = [StateChange(datetime(2026, 3, 27, tzinfo=UTC), "online"),
               StateChange(datetime(2026, 3, 28, 17, tzinfo=UTC), "offline")]  # 18:00 in Warsaw
    assert day_cells(changes, windows, noon) == [Cell("03-28", 75.0), Cell("03-29", 0.0), Cell("03-30", None)]


def _alarm(number: int, priority: Priority, state: AlarmState, minutes: int) -> Alarm:
    return Alarm(id=f"a-{number}", rule="door_forced", key=f"door-{number}", priority=priority,
                 summary=f"door {number} forced", cause=(), silent=False,
                 raised_at=NOW - timedelta(minutes=minutes), state=state)


def test_the_today_page_puts_visitors_first_and_the_most_urgent_alarm_first() -> None:
    start, end = day_bounds(NOW, WARSAW)
    assert (start.isoformat(), end.isoformat()) == ("2026-12-03T23:00:00+00:00", "2026-12-04T23:00:00+00:00")
    people = [OnSite("e-1", "Zed Staff", PersonKind.EMPLOYEE, NOW - timedelta(hours=2)),
              OnSite("v-1", "Ana Lopez", PersonKind.VISITOR, NOW - timedelta(hours=1), host="Jan")]
    later = NOW + timedelta(hours=1)
    invited = [Invitation("v-1", "GH1:v-1:x", "Ana Lopez", "Acme", None, "visitor", "e-9", NOW, NOW, "jan",
                          NOW, checked_in_at=NOW),
               Invitation("v-2", "GH1:v-2:x", "Bo Chen", None, None, "visitor", "e-9", later, NOW, "jan",
                          NOW),
               Invitation("v-3", "GH1:v-3:x", "Cy Dee", None, None, "visitor", "e-9", NOW, NOW, "jan", NOW,
                          cancelled_at=NOW)]
    alarms = [_alarm(1, Priority.LOW, AlarmState.UNACKNOWLEDGED, 5),
              _alarm(2, Priority.CRITICAL, AlarmState.ACKNOWLEDGED, 1),
              _alarm(3, Priority.HIGH, AlarmState.RESOLVED, 9)]
    devices = [DeviceState("reader-1", Status("offline", "reader", NOW, "unplugged"), NOW),
               DeviceState("door-1", Status("online", "door"), NOW)]
    page = today_page(NOW, WARSAW, on_site=people, invitations=invited, alarms=alarms, devices=devices)
    assert [p.name for p in page.people] == ["Ana Lopez", "Zed Staff"]
    assert (page.visitors_on_site, page.employees_on_site, page.expected, page.arrived) == (1, 1, 2, 1)
    assert [e.state for e in page.expected_lines] == ["arrived", "cancelled", "expected"]
    assert [a.id for a in page.open_alarms] == ["a-2", "a-1"]
    assert page.unacknowledged == 1
    offline = [(d.source, d.since, d.detail) for d in page.devices_offline]
    assert offline == [("reader-1", "10:30", "unplugged")]
    assert page.date == "2026-12-04"


def test_the_live_feed_describes_events_alarms_and_statuses_and_skips_the_rest() -> None:
    event = make_event("hq", "reader-1", "badge.read", 7, BadgeRead(credential="0004AB12CD", format="rdm6300",
                                                                    reader=1), time=NOW)
    item = describe("gatehouse/hq/reader-1/event/badge.read", encode(event))
    assert item is not None
    assert (item.kind, item.source, item.type) == ("event", "reader-1", "badge.read")
    sse = item.sse()
    assert sse.startswith("event: item\ndata: ")
    assert sse.endswith("\n\n")
    assert json.loads(sse.split("data: ", 1)[1])["severity"] == "normal"
    status = AlarmStatus(id="a-9", rule="door_forced", priority="critical", summary="Door 1 forced",
                         state="unacknowledged", raised_at=NOW, updated_at=NOW)
    alarm = describe("gatehouse/hq/alarm/a-9", status.encode())
    assert alarm is not None
    assert alarm.severity == "alert"
    assert alarm.panels == ("alarms",)
    assert "Door 1 forced" in alarm.line
    cleared = describe("gatehouse/hq/alarm/a-9", b"")
    assert cleared is not None
    assert cleared.type == "alarm.cleared"
    offline = describe("gatehouse/hq/reader-1/status", Status("offline", "reader", NOW, "lost").encode())
    assert offline is not None
    assert offline.line == "reader-1 offline: lost"
    assert offline.panels == ("devices",)
    assert describe("gatehouse/hq/reader-1/ack", b'{"seq":1}') is None
    assert describe("gatehouse/hq/reader-1/event/badge.read", b"{not json") is None
    assert describe("not/ours", b"{}") is None
    raised = make_event("hq", "central", "alarm.raised", 1, AlarmRaised(
        alarm_id="a-9", rule="door-forced", priority=Priority.CRITICAL, summary="Door 1 forced"), time=NOW)
    loud = describe("gatehouse/hq/central/event/alarm.raised", encode(raised))
    assert loud is not None
    assert loud.severity == "alert"


def test_an_exports_searched_text_is_not_kept_in_the_audit_chain() -> None:
    assert redact("from=2026-12-01&text=Ana+Lopez&company=Acme&came=invited", ("text", "company")) == \
        "from=2026-12-01&text=%28given%29&company=%28given%29&came=invited"


def test_no_bars_no_chart() -> None:
    assert bars_svg([], "Nothing") == ""


def test_the_forms_split_lists_read_local_times_and_describe_a_schedule() -> None:
    assert split_list(" staff, night,,staff ,") == ["staff", "night"]
    assert local_moment("2026-12-04T15:30", WARSAW, "expected") == datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
    assert local_moment("  ", WARSAW, "expected") is None
    with pytest.raises(ReportError, match=r"^expected: a date and time"):
        local_moment("soon", WARSAW, "expected")
    weekdays = RightForm(door_group="lobby", days=[4, 0, 4], start="08:00", end="18:00")
    assert weekdays.schedule("Europe/Warsaw") == {
        "tz": "Europe/Warsaw", "always": False, "windows": [[0, "08:00", "18:00"], [4, "08:00", "18:00"]]}
    assert RightForm(door_group="lobby", always=True, days=[1], tz="UTC").schedule("Europe/Warsaw") == {
        "tz": "UTC", "always": True, "windows": []}


def test_the_people_list_filters_by_kind_and_by_text_in_id_name_email_or_group() -> None:
    view = PersonView(Person("e-7", "Zofia Żak", PersonKind.EMPLOYEE, frozenset({"Night"}), "zz@example.com"),
                      ())
    assert matches(view, "", "")
    assert matches(view, "żak", "employee")
    assert matches(view, "night", "")
    assert matches(view, "ZZ@", "")
    assert not matches(view, "żak", "visitor")
    assert not matches(view, "nobody", "")


def test_an_invitation_shows_its_visitor_in_full_only_where_the_role_sees_their_record() -> None:
    expected = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    invitation = Invitation("v-9", "GH1:v-9:x", "Vera Visitor", "Vista", "vera@example.com", "guest",
                            "e-hana", expected, expected + timedelta(hours=8), "user:rita", NOW)
    reception, host = Account("rita", Role.RECEPTION), Account("hana", Role.HOST, person_id="e-hana")
    masked = invitation_line(invitation, reception, "Hana Host", NOW, WARSAW)  # tomorrow
    assert (masked.name, masked.company, masked.email, masked.host) == ("V*** V******", "Vis**", "",
                                                                         "Hana Host")
    full = invitation_line(invitation, reception, None, expected, WARSAW)  # on the day
    assert (full.name, full.company, full.email, full.host) == ("Vera Visitor", "Vista", "vera@example.com",
                                                                "e-hana")
    assert invitation_line(invitation, host, None, NOW, WARSAW).name == "Vera Visitor"
    assert invitation_line(invitation, host, None, expected + timedelta(hours=8), WARSAW).state == "ran out"
    assert full.state == "open"
