"""The digest as a site runs it: `gatehouse digest` by hand, and the daily thread across a restart."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.config import MqttUrl, Settings
from broker.embedded import free_port
from gatehouse.cli import main
from security.site.central import Central, CentralConfig
from security.storage import open_store
from security.storage.notifications import NotificationState, list_notifications
from tests.fixtures.servers import MailServer
from tests.support import unique_site, wait_until
from tests.test_digest_job import DAY, store_day


def settings_file(tmp_path: Path, port: int, digest: str = "") -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f"""
[alarms]
timezone = "Europe/Warsaw"

[notify.smtp]
host = "127.0.0.1"
port = {port}
sender = "gatehouse@example.com"

[notify.roles.manager]
emails = ["ola@example.com"]

[digest]
{digest}
""")
    return path


def test_the_command_previews_saves_and_sends_once(
    tmp_path: Path, sqlite_url: str, mail: MailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(sqlite_url) as store:
        store_day(store)
    config = settings_file(tmp_path, mail.port)
    common = ["--db", sqlite_url, "--data-dir", str(tmp_path / "data"), "--site", "hq",
              "--config", str(config)]

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv[:1], *common, *argv[1:]])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("digest", "--day", DAY.isoformat(), "--save", str(tmp_path / "out"))
    assert code == 0, err
    assert out.startswith("Subject: [Gatehouse hq] Daily digest 2026-12-04: 3 visitors, 2 alarms, "
                          "1 incidents opened\n\nGatehouse daily digest, site hq\n")
    assert "  Arrivals             3\n" in out
    saved = tmp_path / "out"
    assert {p.stat().st_mode & 0o777 for p in saved.iterdir()} == {0o600}
    assert sorted(p.name for p in saved.iterdir()) == [
        "alarms-2026-12-04.csv", "digest-2026-12-04.html", "visits-2026-12-04.csv"]
    assert mail.recorder.count() == 0  # a preview sends nothing

    code, out, _ = run("digest", "--day", DAY.isoformat(), "--send", "--to", "boss@example.com")
    assert (code, out) == (0, "boss@example.com: sent\n")
    [(to, message)] = mail.recorder.messages
    assert to == ["boss@example.com"]
    assert [p.get_filename() for p in message.iter_attachments()] == [
        "visits-2026-12-04.csv", "alarms-2026-12-04.csv"]

    code, out, _ = run("digest", "--day", DAY.isoformat(), "--send", "--to", "boss@example.com")
    assert (code, out) == (0, "boss@example.com: the digest of 2026-12-04 was queued before; not again\n")
    code, out, _ = run("digest", "--day", DAY.isoformat(), "--send")  # [digest] has no recipients
    assert code == 2
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    code, _, err = run("digest", "--day", tomorrow, "--send", "--to", "boss@example.com")
    assert code == 2
    assert "has not ended yet" in err
    with pytest.raises(SystemExit) as refused:
        run("digest", "--day", "2026-13-01")
    assert refused.value.code == 2
    assert "a day is YYYY-MM-DD, not '2026-13-01'" in capsys.readouterr().err
    assert mail.recorder.count() == 1


def test_the_service_sends_the_due_day_once_across_a_restart(
    mosquitto_url: MqttUrl, sqlite_url: str, tmp_path: Path, mail: MailServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Started after the digest's hour with yesterday's digest not sent: it is sent; restarted: not again."""
    caplog.set_level(logging.INFO, logger="security.office.digest_job")
    site = unique_site()
    settings = Settings(site=site, data_dir=tmp_path / "data", db=sqlite_url)
    doc = {"notify": {"smtp": {"host": "127.0.0.1", "port": mail.port, "sender": "gatehouse@example.com"}},
           "digest": {"enabled": True, "hour": 0, "emails": ["boss@example.com"]}, "api": {"enabled": False}}
    config = CentralConfig.from_document(doc)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    with open_store(sqlite_url) as store:
        with Central(settings, mosquitto_url, store, config):
            wait_until(lambda: mail.recorder.count() == 1, 20, "the digest e-mailed")
        with Central(settings, mosquitto_url, store, config):
            wait_until(lambda: any("was queued before" in r.getMessage() for r in caplog.records), 20,
                       "the restarted service's digest run")
        with store.engine.connect() as conn:
            rows = list_notifications(conn)
    assert mail.recorder.count() == 1
    assert [(r.target, r.state) for r in rows] == [("boss@example.com", NotificationState.SENT)]
    [(_to, message)] = mail.recorder.messages
    assert f"Daily digest {yesterday.isoformat()}: 0 visitors" in str(message["Subject"])


def test_a_send_the_mail_server_refuses_stays_queued_for_the_service(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    down = free_port()
    config = settings_file(tmp_path, down)
    with open_store(sqlite_url) as store:
        store_day(store)
    code = main(["digest", "--db", sqlite_url, "--data-dir", str(tmp_path / "data"), "--site", "hq",
                 "--config", str(config), "--day", DAY.isoformat(), "--send", "--to", "boss@example.com"])
    out = capsys.readouterr().out
    assert code == 1
    assert out == (f"boss@example.com: not sent yet (SMTP 127.0.0.1:{down}: connection refused); "
                   "the service retries it\n")
    with open_store(sqlite_url) as store, store.engine.connect() as conn:
        [row] = list_notifications(conn)
    assert (row.state, row.attempts) == (NotificationState.PENDING, 1)
