"""The Devices pages over real HTTP: availability per day as strips, and one device's days as a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.fixtures.console import ConsoleSite, Session


def test_devices_get_a_strip_of_days_and_a_device_page_a_table_of_them(console_site: ConsoleSite) -> None:
    tz = ZoneInfo(console_site.central.config.office.alarms.timezone)
    today = datetime.now(UTC).astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    manager = Session(console_site.base)
    assert manager.login("max") == 303
    status, _headers, page = manager.request("GET", f"/console/devices?from={yesterday}&to={today}")
    assert status == 200, page
    strips = page.split('<figure id="strips">', 1)[1].split("</figure>", 1)[0]
    # the kiosk has been online since the site started today; nothing is known of it yesterday
    assert f"<title>kiosk-1 {today:%m-%d}: 100.0 %</title>" in strips
    assert f"<title>kiosk-1 {yesterday:%m-%d}: not known</title>" in strips

    status, _headers, page = manager.request("GET", f"/console/devices/kiosk-1?from={yesterday}&to={today}")
    assert status == 200, page
    table = page.split('id="device-days"', 1)[1].split("<tbody>", 1)[1].split("</table>", 1)[0]
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)]
    assert rows[0] == f"{yesterday} - - - 1 d 0 h 0 -"  # a whole day of unknown time
    assert rows[1].startswith(f"{today} 100.0 %")
    assert len(rows) == 2
