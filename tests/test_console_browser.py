"""The console in a real browser (Debian's Chromium through Selenium) against a running site."""

from __future__ import annotations

import csv
import io
import os
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from broker.schemas import DoorChange
from security.storage.people import Change
from security.storage.tokens import create_token
from tests.fixtures.console import ACCOUNTS, PASSWORD, ConsoleSite
from tests.support import http

SHOTS = os.environ.get("GATEHOUSE_CONSOLE_SHOTS")
"""A folder to save a screenshot of each page into (docs/console.md's pictures), or unset."""
NAV = {
    "host": ["Today", "Visits", "Invitations"],
    "reception": ["Today", "Visits", "Invitations", "People", "Watchlist"],
    "guard": ["Today", "Visits", "People", "Watchlist", "Alarms", "Incidents", "Devices"],
    "manager": ["Today", "Visits", "Invitations", "People", "Watchlist", "Alarms", "Incidents", "Devices",
                "Privacy", "Audit"],
    "auditor": ["Today", "Visits", "People", "Watchlist", "Alarms", "Incidents", "Devices", "Audit"],
    "admin": ["Audit"],
}


def wait(page: webdriver.Chrome, seconds: float = 10) -> WebDriverWait[webdriver.Chrome]:
    """A wait that looks again when the page it looked at was replaced meanwhile (a form just sent)."""
    return WebDriverWait(page, seconds, ignored_exceptions=(StaleElementReferenceException,))


def log_in(page: webdriver.Chrome, site: ConsoleSite, name: str, language: str = "en") -> None:
    """Log in through the form, in `language`."""
    page.get(site.base + "/console/login")
    page.find_element(By.NAME, "name").send_keys(name)
    page.find_element(By.NAME, "password").send_keys(PASSWORD)
    Select(page.find_element(By.NAME, "lang")).select_by_value(language)
    page.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(page).until(seen.presence_of_element_located((By.CSS_SELECTOR, "form.who")))


def shoot(page: webdriver.Chrome, name: str) -> None:
    """Save the page as docs' picture `name` when GATEHOUSE_CONSOLE_SHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        width, height = page.get_window_size()["width"], page.get_window_size()["height"]
        whole = int(page.execute_script("return document.documentElement.scrollHeight"))
        page.set_window_size(width, min(max(whole + 120, height), 3000))  # the whole page, up to a limit
        page.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
        page.set_window_size(width, height)


def log_out(page: webdriver.Chrome) -> None:
    """Log out with the top bar's button."""
    page.find_element(By.CSS_SELECTOR, "form.who button").click()
    wait(page).until(seen.presence_of_element_located((By.NAME, "password")))


def submit(page: webdriver.Chrome, form: WebElement) -> None:
    """Send a form with its button and wait until the next page replaced this one."""
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(page, 10).until(seen.staleness_of(form))


def test_each_role_logs_in_and_walks_the_pages_it_may_see(page: webdriver.Chrome,
                                                          console_site: ConsoleSite) -> None:
    for name, (role, _grants) in ACCOUNTS.items():
        if name == "max":  # a second manager: the table test covers it
            continue
        log_in(page, console_site, name)
        links = page.find_elements(By.CSS_SELECTOR, "header nav a")
        assert [link.text for link in links] == NAV[role], name
        for href in [link.get_attribute("href") for link in links]:
            assert href is not None
            page.get(href)
            assert page.find_element(By.TAG_NAME, "h1").text, href
            assert "error" not in page.page_source[:200].lower()
            shoot(page, f"{role}-{href.rstrip('/').rsplit('/', 1)[-1] or 'today'}")
        log_out(page)


def test_a_manager_filters_the_visits_and_exports_exactly_what_is_shown(page: webdriver.Chrome,
                                                                        console_site: ConsoleSite) -> None:
    log_in(page, console_site, "mia")
    page.get(console_site.base + "/console/visits")
    assert len(page.find_elements(By.CSS_SELECTOR, "#visits tbody tr")) == 3
    page.find_element(By.NAME, "company").send_keys("acme")
    page.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait(page).until(seen.url_contains("company=acme"))
    rows = page.find_elements(By.CSS_SELECTOR, "#visits tbody tr")
    shown = sorted(r.find_elements(By.TAG_NAME, "td")[2].text for r in rows)
    assert shown == ["Ana Lopez", "Cy Dee"]
    shoot(page, "visits-filtered")
    href = page.find_element(By.ID, "export").get_attribute("href")
    assert href is not None
    assert "company=acme" in href
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.get_cookies())
    download = urllib.request.Request(href, headers={"Cookie": cookies})
    with urllib.request.urlopen(download, timeout=15) as reply:
        assert reply.headers["Content-Type"].startswith("text/csv")
        exported = list(csv.DictReader(io.StringIO(reply.read().decode())))
    assert sorted(row["visitor_name"] for row in exported) == shown
    page.get(console_site.base + "/console/audit?action=export")
    assert "visits" in page.find_element(By.ID, "audit").text


def test_a_host_sees_only_her_visitor_and_a_guard_sees_names_masked(page: webdriver.Chrome,
                                                                     console_site: ConsoleSite) -> None:
    log_in(page, console_site, "hana")
    page.get(console_site.base + "/console/visits")
    names = [r.find_elements(By.TAG_NAME, "td")[2].text
             for r in page.find_elements(By.CSS_SELECTOR, "#visits tbody tr")]
    assert names == ["Ana Lopez"]
    log_out(page)
    log_in(page, console_site, "gus")
    page.get(console_site.base + "/console/visits")
    names = sorted(r.find_elements(By.TAG_NAME, "td")[2].text
                   for r in page.find_elements(By.CSS_SELECTOR, "#visits tbody tr"))
    assert names == ["A** L****", "B* C***", "C* D**"]


def test_an_alarm_raised_on_the_bus_appears_on_today_without_a_reload(page: webdriver.Chrome,
                                                                      console_site: ConsoleSite) -> None:
    log_in(page, console_site, "gus", "pl")
    wait(page).until(lambda p: p.find_element(By.ID, "live-state").get_attribute("class")
                                  == "state on")
    assert page.find_element(By.TAG_NAME, "h1").text.startswith("Dziś")
    marker = page.execute_script("document.body.dataset.loaded = 'yes'; return document.body.dataset.loaded")
    door = console_site.device("door-1", "door")
    sent = time.monotonic()
    door.source.emit("door.forced", DoorChange(door="server-room"))
    wait(page).until(
        lambda p: "alarm" in p.find_element(By.ID, "feed").text and p.find_elements(By.CSS_SELECTOR,
                                                                                    "#alarms tbody tr.high"))
    waited = time.monotonic() - sent
    print(f"door.forced to the alarm on Today: {waited:.2f} s")
    assert page.execute_script("return document.body.dataset.loaded") == marker  # the same page, not reloaded
    assert "server-room" in page.find_element(By.ID, "feed").text
    shoot(page, "today-alarm-pl")


def test_a_manager_opens_an_incident_notes_it_closes_it_and_prints_it(page: webdriver.Chrome,
                                                                     console_site: ConsoleSite) -> None:
    log_in(page, console_site, "max")
    page.get(console_site.base + "/console/incidents")
    page.find_element(By.CSS_SELECTOR, "details.open-form summary").click()
    page.find_element(By.NAME, "title").send_keys("Visitor complains about the wait at the desk")
    category = page.find_element(By.CSS_SELECTOR, "form.stack select[name=category]")
    Select(category).select_by_value("complaint")
    page.find_element(By.ID, "open-incident").click()
    wait(page).until(seen.presence_of_element_located((By.ID, "timeline")))
    page.find_element(By.NAME, "note").send_keys("Spoke with Łukasz at reception; queue was 9 people.")
    page.find_element(By.ID, "add-note").click()
    wait(page).until(lambda p: "Łukasz" in p.find_element(By.ID, "timeline").text)
    page.find_element(By.NAME, "outcome").send_keys("Second clerk on Mondays 8-10.")
    page.find_element(By.ID, "close-incident").click()
    wait(page).until(seen.presence_of_element_located((By.ID, "outcome")))
    assert page.find_element(By.ID, "outcome").text == "Second clerk on Mondays 8-10."
    assert not page.find_elements(By.ID, "close-incident")
    shoot(page, "incident-closed")
    href = page.find_element(By.ID, "report").get_attribute("href")
    assert href is not None
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.get_cookies())
    report = urllib.request.Request(href, headers={"Cookie": cookies})
    with urllib.request.urlopen(report, timeout=30) as pdf:
        assert pdf.headers["Content-Type"] == "application/pdf"
        assert pdf.read(5) == b"%PDF-"
    page.get(console_site.base + "/console/incidents?category=complaint&state=closed")
    rows = page.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")
    assert len(rows) == 1
    assert "Visitor complains" in rows[0].text
    shoot(page, "incidents")


def test_a_guard_opens_an_alarm_from_today_and_sees_its_life_cycle(page: webdriver.Chrome,
                                                                    console_site: ConsoleSite) -> None:
    log_in(page, console_site, "gus")
    console_site.device("door-2", "door").source.emit("door.forced", DoorChange(door="loading-bay"))
    wait(page).until(lambda p: p.find_elements(By.CSS_SELECTOR, "#alarms tbody tr.high a"))
    page.find_element(By.CSS_SELECTOR, "#alarms tbody tr.high a").click()
    wait(page).until(seen.presence_of_element_located((By.ID, "life")))
    alarm_id = page.current_url.rsplit("/", 1)[-1]
    _info, token = create_token(console_site.store.engine, "gus", "guard",
                                Change("test", datetime.now(UTC), console_site.central.audit_key))
    assert http("POST", f"{console_site.base}/api/alarms/{alarm_id}/acknowledge", token=token,
                body={"note": "on my way"}).status == 200
    page.refresh()
    steps = [r.get_attribute("class") for r in page.find_elements(By.CSS_SELECTOR, "#life tbody tr")]
    assert steps == ["raised", "acknowledged"]
    assert "loading-bay" in page.find_element(By.ID, "causes").text
    shoot(page, "alarm-page")


def test_a_manager_adds_a_person_with_a_badge_and_a_right_and_a_host_invites_and_sees_the_qr_code(
    page: webdriver.Chrome, console_site: ConsoleSite,
) -> None:
    log_in(page, console_site, "max")
    page.get(console_site.base + "/console/rights")
    group = page.find_element(By.ID, "set-group")
    group.find_element(By.NAME, "name").send_keys("lobby")
    group.find_element(By.NAME, "doors").send_keys("front, side")
    submit(page, group)
    WebDriverWait(page, 10).until(lambda p: "lobby" in p.find_element(By.ID, "door-groups").text)
    page.get(console_site.base + "/console/people")
    page.find_element(By.CSS_SELECTOR, "details.open-form summary").click()
    person = page.find_element(By.ID, "add-person")
    person.find_element(By.NAME, "id").send_keys("e-2001")
    person.find_element(By.NAME, "name").send_keys("Zofia Żak")
    person.find_element(By.NAME, "groups").send_keys("staff")
    submit(page, person)
    WebDriverWait(page, 10).until(seen.presence_of_element_located((By.ID, "add-badge")))
    assert page.find_element(By.TAG_NAME, "h1").text.startswith("Zofia Żak")
    badge = page.find_element(By.ID, "add-badge")
    badge.find_element(By.NAME, "value").send_keys("00A1B2C3D4")
    Select(badge.find_element(By.NAME, "format")).select_by_value("em4100")
    submit(page, badge)
    WebDriverWait(page, 10).until(lambda p: "00A1B2C3D4" in p.find_element(By.ID, "badges").text)
    page.find_element(By.ID, "give-right").click()
    right = WebDriverWait(page, 10).until(seen.presence_of_element_located((By.ID, "add-right")))
    assert right.find_element(By.NAME, "person_id").get_attribute("value") == "e-2001"
    Select(right.find_element(By.NAME, "door_group")).select_by_value("lobby")
    submit(page, right)  # Monday to Friday, 07:00-19:00
    WebDriverWait(page, 10).until(lambda p: "lobby" in p.find_element(By.ID, "person-rights").text)
    assert "07:00\u201319:00" in page.find_element(By.ID, "person-rights").text
    assert "valid" in page.find_element(By.ID, "badges").text
    shoot(page, "manager-person")
    log_out(page)

    log_in(page, console_site, "hana")
    page.get(console_site.base + "/console/invitations")
    invite = page.find_element(By.ID, "invite")
    assert [o.get_attribute("value") for o in Select(invite.find_element(By.NAME, "host_id")).options] == [
        "e-hana"]  # a host invites only as herself
    invite.find_element(By.NAME, "visitor_name").send_keys("Vera Visitor")
    invite.find_element(By.NAME, "company").send_keys("Vista")
    Select(invite.find_element(By.NAME, "visitor_type")).select_by_value("interview")
    submit(page, invite)
    qr = WebDriverWait(page, 10).until(seen.presence_of_element_located((By.ID, "qr")))
    WebDriverWait(page, 10).until(lambda p: p.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth > 0", qr))
    assert "Vera Visitor" in page.find_element(By.ID, "invitation").text
    shoot(page, "host-invitation")
    page.get(console_site.base + "/console/invitations")
    assert "Vera Visitor" in page.find_element(By.ID, "invitations").text



def test_an_auditor_exports_the_devices_as_the_page_shows_them(page: webdriver.Chrome,
                                                                console_site: ConsoleSite) -> None:
    log_in(page, console_site, "aud")
    page.get(console_site.base + "/console/devices")
    shown = sorted(r.find_element(By.TAG_NAME, "a").text
                   for r in page.find_elements(By.CSS_SELECTOR, "#devices tbody tr"))
    href = page.find_element(By.ID, "export").get_attribute("href")
    assert href is not None
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.get_cookies())
    download = urllib.request.Request(href, headers={"Cookie": cookies})
    with urllib.request.urlopen(download, timeout=15) as reply:
        exported = list(csv.DictReader(io.StringIO(reply.read().decode())))
    assert sorted(row["device"] for row in exported) == shown
    assert "kiosk-1" in shown
