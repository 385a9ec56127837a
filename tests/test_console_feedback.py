"""The Visits page shows visitors' ratings over real HTTP: sent by the site's kiosk through the broker."""

from __future__ import annotations

import re

from broker.schemas import VisitorFeedback
from tests.fixtures.console import ConsoleSite, Session
from tests.support import wait_until


def _rows(page: str, table_id: str) -> list[str]:
    table = page.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)]


def test_the_visits_page_shows_the_ratings_average_spread_and_hosts(console_site: ConsoleSite) -> None:
    manager = Session(console_site.base)
    assert manager.login("max") == 303
    status, _headers, page = manager.request("GET", "/console/visits")
    assert status == 200, page
    assert _rows(page, "host-ratings") == ["No rating in this range."]

    kiosk = console_site.device("kiosk-1", "kiosk")
    for visit_id, rating in (("v-1", 5), ("v-2", 2), ("v-3", 3)):
        kiosk.source.emit("visitor.feedback", VisitorFeedback(visit_id=visit_id, rating=rating, language="en",
                                                              comment="fine" if rating == 5 else None))
    store = console_site.store
    wait_until(lambda: len(store.query_events(types=("visitor.feedback",), limit=None)) == 3, 15,
               "ratings stored")
    status, _headers, page = manager.request("GET", "/console/visits")
    assert status == 200, page
    assert '<b id="rating-average">3.33</b>' in page
    assert "3 ratings, 1 with a comment" in page
    assert _rows(page, "rating-spread") == ["0 1 1 0 1"]
    assert _rows(page, "host-ratings") == ["Olek Other 2 2.50", "Hana Host 1 5.00"]
    assert "Average rating per day" in page
    assert "/5</title>" in page

    status, _headers, page = manager.request("GET", "/console/visits?host=e-hana")
    assert status == 200, page
    assert _rows(page, "host-ratings") == ["Hana Host 1 5.00"]
