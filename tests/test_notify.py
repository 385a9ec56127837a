"""Escalation delivery: messages, config, the queue on SQLite and PostgreSQL, real SMTP and HTTP servers."""

from __future__ import annotations

import json
import logging
import re
import time
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from broker.embedded import free_port
from broker.schemas import Priority
from security.office.alarms import Alarm, AlarmEscalated, AlarmState
from security.office.notify import (
    ENV_SMTP_PASSWORD,
    DeliveryError,
    Notifier,
    NotifyConfig,
    RoleTargets,
    SmtpConfig,
    enqueue_escalation,
    escalation_message,
    post_webhook,
    send_email,
)
from security.office.notify.messages import escalation_payload
from security.storage import EventStore, open_store
from security.storage.engine import make_engine
from security.storage.notifications import (
    NotificationState,
    claim,
    due,
    enqueue,
    list_notifications,
    mark_failed,
    mark_retry,
    mark_sent,
)
from tests.fixtures.servers import HookServer, MailServer, hook_server
from tests.support import wait_until

T0 = datetime(2026, 11, 22, 8, 15, tzinfo=UTC)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "alarms.md"


def make_alarm(**changes: Any) -> Alarm:
    """A high-priority door alarm raised at T0, with `changes`."""
    alarm = Alarm(
        id="a-7", rule="door-forced", key="door:d1", priority=Priority.HIGH,
        summary="Door forced: front door", cause=("e-1", "e-2"), silent=False, raised_at=T0,
        last_seen=T0, escalation_level=1,
    )
    return replace(alarm, **changes)


def escalated(
    roles: tuple[str, ...] = ("manager",), level: int = 1, at: datetime = T0 + timedelta(minutes=5)
) -> AlarmEscalated:
    """The book's output for `make_alarm()` escalating to `level`."""
    return AlarmEscalated("a-7", level, roles, at, make_alarm(escalation_level=level))


# --- messages ----------------------------------------------------------------------------------------


MESSAGE_CASES = [
    pytest.param(
        make_alarm(), 1, ("supervisor",), T0 + timedelta(minutes=5),
        "[Gatehouse lobby] HIGH alarm a-7 not acknowledged (level 1): Door forced: front door",
        [
            "HIGH alarm not acknowledged for 5 min.",
            "Door forced: front door",
            "Priority:  high",
            "Raised:    2026-11-22 08:15:00 UTC",
            "Escalated: 2026-11-22 08:20:00 UTC (level 1)",
            "State:     unacknowledged",
            "Count:     1 (last 2026-11-22 08:15:00 UTC)",
            "Site:      lobby",
            "Alarm:     a-7 (rule door-forced)",
            "Sent to:   supervisor",
        ],
        id="level-1",
    ),
    pytest.param(
        make_alarm(priority=Priority.CRITICAL, count=3, last_seen=T0 + timedelta(seconds=20)),
        2, ("supervisor", "manager"), T0 + timedelta(seconds=30),
        "[Gatehouse lobby] CRITICAL alarm a-7 not acknowledged (level 2): Door forced: front door",
        [
            "CRITICAL alarm not acknowledged for under a minute.",
            "Priority:  critical",
            "Escalated: 2026-11-22 08:15:30 UTC (level 2)",
            "Count:     3 (last 2026-11-22 08:15:20 UTC)",
            "Sent to:   supervisor, manager",
        ],
        id="two-roles",
    ),
    pytest.param(
        make_alarm(summary="Door\r\nforced:\n  back   door", last_seen=None, state=AlarmState.SHELVED),
        1, (), T0 + timedelta(hours=2),
        "[Gatehouse lobby] HIGH alarm a-7 not acknowledged (level 1): Door forced: back door",
        ["HIGH alarm not acknowledged for 120 min.", "Door forced: back door", "Count:     1",
         "State:     shelved", "Sent to:   -"],
        id="folded-summary",
    ),
]


@pytest.mark.parametrize(("alarm", "level", "roles", "at", "subject", "lines"), MESSAGE_CASES)
def test_escalation_message(
    alarm: Alarm, level: int, roles: tuple[str, ...], at: datetime, subject: str, lines: list[str]
) -> None:
    message = escalation_message(alarm, level, roles, "lobby", at)
    assert message.subject == subject
    body = message.body.splitlines()
    assert [line for line in lines if line not in body] == []
    assert message.payload["level"] == level
    assert message.payload["roles"] == list(roles)
    assert message.payload["alarm"]["count"] == alarm.count
    assert json.loads(json.dumps(message.payload)) == message.payload


def test_long_summary_is_cut_to_the_subject_column() -> None:
    subject = escalation_message(make_alarm(summary="x" * 400), 1, ("manager",), "lobby", T0).subject
    assert len(subject) == 300
    assert subject.endswith("x…")


def test_webhook_payload_shape() -> None:
    at = T0 + timedelta(minutes=5)
    payload = escalation_payload(make_alarm(escalation_level=2), 2, ("manager",), "lobby", at)
    assert payload == {
        "type": "alarm.escalated",
        "site": "lobby",
        "at": "2026-11-22T08:20:00.000Z",
        "level": 2,
        "roles": ["manager"],
        "alarm": {
            "id": "a-7", "rule": "door-forced", "priority": "high", "summary": "Door forced: front door",
            "state": "unacknowledged", "count": 1, "silent": False, "raised_at": "2026-11-22T08:15:00.000Z",
            "last_seen": "2026-11-22T08:15:00.000Z", "escalation_level": 2, "cause": ["e-1", "e-2"],
        },
    }


# --- config ------------------------------------------------------------------------------------------


def docs_toml() -> str:
    """The `[notify]` example of docs/alarms.md."""
    text = DOCS.read_text()
    section = text[text.index("## Escalation delivery"):]
    match = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert match, "docs/alarms.md has no toml example under 'Escalation delivery'"
    return match.group(1)


def test_config_defaults() -> None:
    config = NotifyConfig.model_validate({})
    assert (config.max_attempts, config.backoff_s, config.max_backoff_s) == (8, 5.0, 600.0)
    smtp = config.smtp
    assert (smtp.host, smtp.port, smtp.ssl, smtp.starttls) == ("localhost", 25, False, False)
    assert config.roles == {}
    assert config.targets("manager") == RoleTargets()


def test_config_example_in_docs_is_valid() -> None:
    config = NotifyConfig.model_validate(tomllib.loads(docs_toml())["notify"])
    assert config.smtp.starttls
    assert config.roles["manager"].webhooks
    assert config.roles["supervisor"].emails


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"smtp": {"ssl": True, "starttls": True}}, "not both"),
        ({"smtp": {"port": 0}}, "greater than or equal to 1"),
        ({"smtp": {"sender": "gatehouse"}}, "not an e-mail address"),
        ({"smtp": {"tls": True}}, "Extra inputs are not permitted"),
        ({"roles": {"manager": {"webhooks": ["ftp://example.com/hook"]}}}, "http(s) URL"),
        ({"roles": {"manager": {"webhooks": ["http:///hook"]}}}, "http(s) URL"),
        ({"roles": {"manager": {"webhooks": ["example.com/hook"]}}}, "http(s) URL"),
        ({"roles": {"manager": {"emails": ["boss at example.com"]}}}, "not an e-mail address"),
        ({"roles": {"manager": {"email": ["boss@example.com"]}}}, "Extra inputs are not permitted"),
        ({"roles": {"Night Manager": {}}}, "role names"),
        ({"max_attempts": 0}, "greater than or equal to 1"),
        ({"backoff_s": 0}, "greater than 0"),
        ({"retries": 3}, "Extra inputs are not permitted"),
    ],
)
def test_config_refuses(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        NotifyConfig.model_validate(doc)


@pytest.mark.parametrize(
    ("in_file", "in_env", "expected"),
    [(None, None, None), ("from-file", None, "from-file"), ("from-file", "from-env", "from-env"),
     (None, "from-env", "from-env"), ("from-file", "", "from-file")],
)
def test_smtp_password_from_file_or_environment(
    in_file: str | None, in_env: str | None, expected: str | None
) -> None:
    smtp = SmtpConfig.model_validate({"password": in_file} if in_file else {})
    environ = {ENV_SMTP_PASSWORD: in_env} if in_env is not None else {}
    assert smtp.login_password(environ) == expected
    assert "from-file" not in repr(smtp)


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 5.0), (2, 10.0), (3, 20.0), (7, 320.0), (8, 600.0), (500, 600.0)]
)
def test_backoff_doubles_up_to_the_cap(attempts: int, seconds: float) -> None:
    assert NotifyConfig().backoff(attempts) == seconds


# --- the queue (SQLite and PostgreSQL) ---------------------------------------------------------------


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated store on SQLite and on PostgreSQL."""
    opened = open_store(db_url)
    yield opened
    opened.close()


def test_enqueue_escalation_one_row_per_distinct_target(
    store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    lonely = f"nobody-{time.monotonic_ns()}"  # the warning is once per role per process
    config = NotifyConfig(roles={
        "supervisor": RoleTargets(emails=["sup@example.com", "boss@example.com"], webhooks=["http://h.example/a"]),
        "manager": RoleTargets(emails=["boss@example.com"], webhooks=["https://h.example/b"]),
    })
    event = escalated(("supervisor", "manager", lonely), level=2)
    with caplog.at_level(logging.WARNING), store.engine.begin() as conn:
        assert enqueue_escalation(conn, config, "lobby", event, T0 + timedelta(minutes=6)) == 4
        assert enqueue_escalation(conn, config, "lobby", event, T0 + timedelta(minutes=6)) == 4
    assert [r.getMessage() for r in caplog.records if lonely in r.getMessage()] == [
        f"alarm a-7 escalated to role '{lonely}', which has no e-mail or webhook in [notify.roles]; "
        "nobody in that role is told (logged once per role)"
    ]
    with store.engine.connect() as conn:
        rows = list_notifications(conn, state="pending")
    assert len(rows) == 8
    assert sorted({(r.channel, r.target) for r in rows}) == [
        ("email", "boss@example.com"), ("email", "sup@example.com"),
        ("webhook", "http://h.example/a"), ("webhook", "https://h.example/b"),
    ]
    message = escalation_message(event.alarm, 2, event.notify, "lobby", event.at)
    for row in rows:
        assert (row.alarm_id, row.subject, row.body, row.payload) == ("a-7", message.subject, message.body,
                                                                      message.payload)
        assert (row.attempts, row.next_attempt_at, row.sent_at, row.last_error) == (
            0, T0 + timedelta(minutes=6), None, None)


def test_enqueue_commits_only_with_the_callers_transaction(store: EventStore) -> None:
    config = NotifyConfig(roles={"manager": RoleTargets(emails=["boss@example.com"])})
    def save_and_crash() -> None:
        with store.engine.begin() as conn:
            assert enqueue_escalation(conn, config, "lobby", escalated(), T0) == 1
            raise RuntimeError("alarm not saved")

    with pytest.raises(RuntimeError, match="alarm not saved"):
        save_and_crash()
    with store.engine.connect() as conn:
        assert list_notifications(conn) == []


def test_retry_sent_and_failed_states(store: EventStore) -> None:
    with store.engine.begin() as conn:
        ids = [
            enqueue(conn, channel="webhook", target=f"http://h.example/{n}", subject=f"s{n}", body="b",
                    payload={"n": n}, now=T0 + timedelta(seconds=n))
            for n in range(3)
        ]
        with pytest.raises(ValueError, match="sms"):
            enqueue(conn, channel="sms", target="+4912345", subject="s", body="b", payload={}, now=T0)
    with store.engine.begin() as conn:
        assert [n.id for n in due(conn, T0 + timedelta(seconds=1))] == ids[:2]
        assert [n.id for n in due(conn, T0 + timedelta(seconds=9), limit=1)] == ids[:1]
        mark_retry(conn, ids[0], "HTTP 500 from http://h.example/0", T0 + timedelta(seconds=10))
        mark_sent(conn, ids[1], T0 + timedelta(seconds=2))
        mark_failed(conn, ids[2], "gave up")
        assert [n.id for n in due(conn, T0 + timedelta(seconds=9))] == []
        [again] = due(conn, T0 + timedelta(seconds=10))
    assert (again.id, again.attempts, again.last_error, again.state) == (
        ids[0], 1, "HTTP 500 from http://h.example/0", NotificationState.PENDING)
    with store.engine.connect() as conn:
        assert [n.id for n in list_notifications(conn)] == ids[::-1]
        [sent] = list_notifications(conn, state=NotificationState.SENT)
        [failed] = list_notifications(conn, state="failed")
    assert (sent.id, sent.attempts, sent.sent_at) == (ids[1], 1, T0 + timedelta(seconds=2))
    assert (failed.id, failed.attempts, failed.last_error, failed.sent_at) == (ids[2], 1, "gave up", None)


def test_a_claimed_row_is_not_taken_twice(store: EventStore) -> None:
    with store.engine.begin() as conn:
        enqueue(conn, channel="email", target="boss@example.com", subject="s", body="b", payload={}, now=T0)
    with store.engine.connect() as conn:
        [seen_by_a] = due(conn, T0)
        [seen_by_b] = due(conn, T0)
    with store.engine.begin() as conn:
        assert claim(conn, seen_by_a, T0 + timedelta(minutes=5))
        assert not claim(conn, seen_by_b, T0 + timedelta(minutes=5))
        assert due(conn, T0 + timedelta(minutes=4)) == []
        assert [n.id for n in due(conn, T0 + timedelta(minutes=5))] == [seen_by_a.id]


# --- real servers ------------------------------------------------------------------------------------


def notify_config(smtp_port: int, *, emails: list[str], webhooks: list[str], **retry: Any) -> NotifyConfig:
    """Settings for the local servers, with `manager`'s targets."""
    return NotifyConfig(
        smtp=SmtpConfig(host="127.0.0.1", port=smtp_port, timeout_s=5, sender="gatehouse@example.com"),
        roles={"manager": RoleTargets(emails=emails, webhooks=webhooks)},
        webhook_timeout_s=5,
        **retry,
    )


def queue(store: EventStore, config: NotifyConfig, now: datetime = T0) -> None:
    """Enqueue `escalated()` for `manager`, committed."""
    with store.engine.begin() as conn:
        enqueue_escalation(conn, config, "lobby", escalated(), now)


def only_row(store: EventStore) -> Any:
    """The one notification in the table."""
    with store.engine.connect() as conn:
        [row] = list_notifications(conn)
    return row


def logged(caplog: pytest.LogCaptureFixture, level: int, *words: str) -> list[str]:
    """Messages logged at `level` containing every one of `words`."""
    messages = [r.getMessage() for r in caplog.records if r.levelno == level]
    return [m for m in messages if all(w in m for w in words)]


# --- senders -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(200, None), (204, None), (302, "HTTP 302 from"), (404, "HTTP 404 from"), (500, "HTTP 500 from")],
)
def test_post_webhook_answers(status: int, error: str | None) -> None:
    server = hook_server([status])
    try:
        if error is None:
            post_webhook(server.url, {"type": "test"}, timeout=5)
        else:
            with pytest.raises(DeliveryError, match=f"^{error} {re.escape(server.url)}$"):
                post_webhook(server.url, {"type": "test"}, timeout=5)
        assert server.answered() == [{"type": "test"}]
    finally:
        server.shutdown()
        server.server_close()


def test_post_webhook_failures_hide_credentials_and_say_what_happened() -> None:
    port = free_port()
    with pytest.raises(DeliveryError) as refused:
        post_webhook(f"http://user:pw@127.0.0.1:{port}/hook?token=abc", {}, timeout=5)
    assert str(refused.value) == f"cannot reach http://127.0.0.1:{port}/hook: connection refused"
    server = hook_server([500])
    try:
        secret_url = server.url.replace("http://", "http://user:p%40w@") + "?token=abc"
        with pytest.raises(DeliveryError) as failed:
            post_webhook(secret_url, {}, timeout=5)
        assert str(failed.value) == f"HTTP 500 from {server.url}"
        assert server.authorization == ["Basic dXNlcjpwQHc="]  # user:p@w
        server.delay_s = 1.0
        with pytest.raises(DeliveryError, match="timed out"):
            post_webhook(server.url, {}, timeout=0.2)
    finally:
        server.shutdown()
        server.server_close()


def test_send_email_logs_in_with_the_environment_password(monkeypatch: pytest.MonkeyPatch) -> None:
    logins: list[LoginPassword] = []

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append(data)
        return AuthResult(success=data == LoginPassword(b"desk", b"s3cret"), handled=False)

    monkeypatch.delenv(ENV_SMTP_PASSWORD, raising=False)
    server = MailServer(free_port(), authenticator=authenticate, auth_require_tls=False)
    server.start()
    try:
        smtp = SmtpConfig(host="127.0.0.1", port=server.port, username="desk", password="wrong")
        with pytest.raises(DeliveryError, match=rf"^SMTP 127.0.0.1:{server.port}: server answered 535 "):
            send_email(smtp, "boss@example.com", "Hello", "Body")
        monkeypatch.setenv(ENV_SMTP_PASSWORD, "s3cret")
        send_email(smtp, "boss@example.com", "Tür\naufgebrochen", "Grüße vom Empfang\n")
    finally:
        server.stop()
    [(to, message)] = server.recorder.messages
    assert to == ["boss@example.com"]
    assert (message["Subject"], message["From"]) == ("Tür aufgebrochen", "gatehouse@localhost")
    assert message.get_content().replace("\r\n", "\n") == "Grüße vom Empfang\n"
    assert [login.password for login in logins] == [b"wrong", b"wrong", b"s3cret"]  # PLAIN, LOGIN, PLAIN


# --- the notifier, end to end ------------------------------------------------------------------------


def test_escalation_is_delivered_by_email_and_webhook(
    store: EventStore, mail: MailServer, hook: HookServer
) -> None:
    config = notify_config(mail.port, emails=["boss@example.com"], webhooks=[hook.url])
    queue(store, config)
    notifier = Notifier(store.engine, config)
    assert notifier.run_once(T0) == 2
    [(to, message)] = mail.recorder.messages
    expected = escalation_message(make_alarm(), 1, ("manager",), "lobby", T0 + timedelta(minutes=5))
    assert to == ["boss@example.com"]
    assert (message["To"], message["From"], message["Subject"]) == (
        "boss@example.com", "gatehouse@example.com", expected.subject)
    assert message.get_content().replace("\r\n", "\n") == expected.body
    assert hook.answered(200) == [expected.payload]
    with store.engine.connect() as conn:
        rows = list_notifications(conn)
    assert [(r.state, r.attempts, r.sent_at, r.last_error) for r in rows] == [("sent", 1, T0, None)] * 2
    assert notifier.run_once(T0 + timedelta(hours=1)) == 0
    assert (mail.recorder.count(), len(hook.answered())) == (1, 1)


def test_webhook_answering_500_is_retried_with_backoff(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = hook_server([500, 500])
    store = open_store(sqlite_url)
    try:
        config = notify_config(free_port(), emails=[], webhooks=[server.url])
        queue(store, config)
        notifier = Notifier(store.engine, config)
        with caplog.at_level(logging.INFO):
            assert notifier.run_once(T0) == 0
            row = only_row(store)
            assert (row.attempts, row.next_attempt_at) == (1, T0 + timedelta(seconds=5))
            assert row.last_error == f"HTTP 500 from {server.url}"
            assert notifier.run_once(T0 + timedelta(seconds=4)) == 0
            assert len(server.answered()) == 1  # not due yet: not tried
            assert notifier.run_once(T0 + timedelta(seconds=5)) == 0
            assert only_row(store).next_attempt_at == T0 + timedelta(seconds=15)
            assert notifier.run_once(T0 + timedelta(seconds=15)) == 1
        row = only_row(store)
        assert (row.state, row.attempts, row.sent_at) == ("sent", 3, T0 + timedelta(seconds=15))
        assert [code for code, _ in server.bodies] == [500, 500, 200]
        assert len(logged(caplog, logging.WARNING, server.url)) == 1
        assert logged(caplog, logging.INFO, "again") == [f"delivering webhook to {server.url} again"]
    finally:
        store.close()
        server.shutdown()
        server.server_close()


def test_smtp_down_is_retried_and_warned_once_until_it_comes_up(
    store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    down = MailServer(free_port())  # nothing listens on its port yet
    config = notify_config(down.port, emails=["boss@example.com"], webhooks=[])
    queue(store, config)
    notifier = Notifier(store.engine, config)
    with caplog.at_level(logging.INFO):
        for at in (0, 5, 15, 35):
            assert notifier.run_once(T0 + timedelta(seconds=at)) == 0
        row = only_row(store)
        assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 4, T0 + timedelta(seconds=75))
        assert row.last_error == f"SMTP 127.0.0.1:{down.port}: connection refused"
        assert len(logged(caplog, logging.WARNING, "boss@example.com")) == 1
        down.start()
        try:
            assert notifier.run_once(T0 + timedelta(seconds=75)) == 1
        finally:
            down.stop()
    assert down.recorder.count() == 1
    assert (only_row(store).state, only_row(store).attempts) == ("sent", 5)
    assert len(logged(caplog, logging.WARNING, "boss@example.com")) == 1
    assert logged(caplog, logging.INFO, "again") == ["delivering email to boss@example.com again"]


def test_after_max_attempts_the_row_fails_loudly(store: EventStore, caplog: pytest.LogCaptureFixture) -> None:
    config = notify_config(free_port(), emails=["boss@example.com"], webhooks=[], max_attempts=3)
    queue(store, config)
    notifier = Notifier(store.engine, config)
    for at in (0, 5, 15):
        assert notifier.run_once(T0 + timedelta(seconds=at)) == 0
    row = only_row(store)
    assert (row.state, row.attempts) == ("failed", 3)
    assert "connection refused" in (row.last_error or "")
    [error] = logged(caplog, logging.ERROR, "a-7", "email", "boss@example.com")
    assert error.startswith("gave up on email to boss@example.com for alarm a-7 after 3 attempt(s)")
    assert notifier.run_once(T0 + timedelta(days=1)) == 0
    assert only_row(store).attempts == 3


def test_pending_rows_survive_a_restart(sqlite_url: str, mail: MailServer) -> None:
    config = notify_config(free_port(), emails=["boss@example.com"], webhooks=[])
    first = open_store(sqlite_url)
    queue(first, config)
    assert Notifier(first.engine, config).run_once(T0) == 0  # server down: retry scheduled
    first.close()
    config = notify_config(mail.port, emails=["boss@example.com"], webhooks=[])
    second = open_store(sqlite_url)
    try:
        assert Notifier(second.engine, config).run_once(T0 + timedelta(seconds=5)) == 1
        assert (only_row(second).state, only_row(second).attempts) == ("sent", 2)
    finally:
        second.close()
    assert mail.recorder.count() == 1


def test_the_thread_delivers_at_start_and_when_woken(
    store: EventStore, mail: MailServer, hook: HookServer
) -> None:
    config = notify_config(mail.port, emails=["boss@example.com"], webhooks=[hook.url])

    def delivered(count: int) -> bool:
        return (mail.recorder.count(), len(hook.answered())) == (count, count)

    queue(store, config, now=datetime.now(UTC))  # left over from before the start
    notifier = Notifier(store.engine, config, poll_s=60)  # without wake() it would look again in a minute
    notifier.start()
    try:
        assert notifier.running
        wait_until(lambda: delivered(1), 10, "delivery of what was pending at start")
        queue(store, config, now=datetime.now(UTC))
        notifier.wake()
        wait_until(lambda: delivered(2), 10, "delivery after wake()")
    finally:
        notifier.stop()
    assert not notifier.running
    with store.engine.connect() as conn:
        assert [r.state for r in list_notifications(conn)] == ["sent"] * 4


class CountingClock:
    """The real time, counting how often it is read (once per round of the notifier)."""

    def __init__(self) -> None:
        """Start at zero reads."""
        self.reads = 0

    def __call__(self) -> datetime:
        """Now, in UTC."""
        self.reads += 1
        return datetime.now(UTC)


def test_the_thread_survives_a_database_error(
    sqlite_url: str, hook: HookServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = make_engine(sqlite_url)  # no tables yet: every query fails
    clock = CountingClock()
    config = notify_config(free_port(), emails=[], webhooks=[hook.url])
    notifier = Notifier(engine, config, clock=clock, retry_db_s=0.02, poll_s=60)
    notifier.start()
    try:
        wait_until(lambda: clock.reads >= 5, 10, "five rounds against a broken database")
        assert notifier.running
        assert len(logged(caplog, logging.ERROR, "cannot read or update the queue")) == 1
        store = open_store(sqlite_url)  # the tables appear
        try:
            queue(store, config, now=datetime.now(UTC))
            notifier.wake()
            wait_until(lambda: len(hook.answered()) == 1, 10, "delivery once the database works")
        finally:
            store.close()
    finally:
        notifier.stop()
        engine.dispose()
    assert len(logged(caplog, logging.ERROR, "cannot read or update the queue")) == 1
    assert len(logged(caplog, logging.INFO, "database answers again")) == 1
