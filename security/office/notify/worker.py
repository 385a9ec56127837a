"""The notifier: a thread that delivers due notifications, retries with backoff, and gives up loudly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from security.office.notify.config import NotifyConfig
from security.office.notify.messages import HTML, attachments_of
from security.office.notify.senders import DeliveryError, post_webhook, send_email, shown_url
from security.storage.batch import first_line
from security.storage.engine import writing
from security.storage.notifications import (
    Channel,
    Notification,
    claim,
    due,
    mark_failed,
    mark_retry,
    mark_sent,
    next_due,
)

log = logging.getLogger(__name__)

MIN_WAIT_S = 0.05
"""The shortest pause between two rounds of the thread, so a clock mismatch never spins a core."""

OnResult = Callable[[Notification, bool, str | None], None]
"""Told when a notification is delivered (True, None) or given up (False, the last error)."""


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def shown_target(notification: Notification) -> str:
    """The target as logs show it: the address, or the URL without credentials and query."""
    if notification.channel == Channel.WEBHOOK:
        return shown_url(notification.target)
    return notification.target


class Notifier:
    """Delivers pending notifications: `run_once` is one round, `start` runs rounds in a thread."""

    def __init__(
        self,
        engine: Engine,
        config: NotifyConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        poll_s: float = 30.0,
        retry_db_s: float = 5.0,
        batch: int = 50,
        on_result: OnResult | None = None,
    ) -> None:
        """Deliver from `engine`'s notifications table; the thread looks at least every `poll_s` seconds.

        `on_result` is called after a notification is marked sent or failed (never for a retry).
        """
        if poll_s <= 0 or retry_db_s <= 0 or batch < 1:
            raise ValueError("poll_s and retry_db_s must be positive and batch at least 1")
        self._engine = engine
        self._config = config
        self._clock = clock
        self._poll_s = poll_s
        self._retry_db_s = retry_db_s
        self._batch = batch
        self._on_result = on_result
        longest = max(config.smtp.timeout_s, config.webhook_timeout_s)
        self._lease = timedelta(seconds=max(300.0, 20 * longest))
        self._failing: set[tuple[Channel, str]] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread."""
        if self._thread is not None:
            raise RuntimeError("the notifier is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="gatehouse-notifier", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for due notifications now (call after committing new ones)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after the message it is sending; pending rows stay in the table for next time."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the notifier thread did not stop within %g s", timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """True while the delivery thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def run_once(self, now: datetime, ids: Collection[int] | None = None) -> int:
        """Try each notification due at `now` (of `ids` only, if given) once; return how many were delivered.

        Database errors raise.
        """
        delivered = 0
        while True:
            with self._engine.connect() as conn:
                batch = due(conn, now, self._batch, ids)
            for notification in batch:
                with writing(self._engine) as conn:
                    if not claim(conn, notification, now + self._lease):
                        continue  # another worker has it
                delivered += self._deliver(notification, now)
            if len(batch) < self._batch:
                return delivered

    def _send(self, notification: Notification) -> None:
        if notification.channel == Channel.EMAIL:
            html = notification.payload.get(HTML)
            try:
                attachments = attachments_of(notification.payload)
            except ValueError as exc:
                raise DeliveryError(f"cannot attach: {exc}") from None
            send_email(self._config.smtp, notification.target, notification.subject, notification.body,
                       html=html if isinstance(html, str) else None, attachments=attachments)
        else:
            post_webhook(notification.target, notification.payload, self._config.webhook_timeout_s)

    def _deliver(self, notification: Notification, now: datetime) -> int:
        key = (notification.channel, notification.target)
        try:
            self._send(notification)
        except Exception as exc:  # any failure of one message is that message's failure
            error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            self._failed(notification, error, now, unexpected=not isinstance(exc, DeliveryError))
            return 0
        with writing(self._engine) as conn:
            mark_sent(conn, notification.id, now)
        if key in self._failing:
            self._failing.discard(key)
            log.info("delivering %s to %s again", notification.channel, shown_target(notification))
        self._tell(notification, True, None)
        return 1

    def _tell(self, notification: Notification, ok: bool, detail: str | None) -> None:
        """Call `on_result`; its failure is logged, never the delivery's."""
        if self._on_result is None:
            return
        try:
            self._on_result(notification, ok, detail)
        except Exception:  # the message is sent (or given up) whatever the callback does
            log.exception("the result callback of notification %d failed", notification.id)

    def _failed(self, notification: Notification, error: str, now: datetime, *, unexpected: bool) -> None:
        attempts = notification.attempts + 1
        target = shown_target(notification)
        if attempts >= self._config.max_attempts:
            with writing(self._engine) as conn:
                mark_failed(conn, notification.id, error)
            log.error(
                "gave up on %s to %s for alarm %s after %d attempt(s); last error: %s",
                notification.channel, target, notification.alarm_id or "-", attempts, error,
            )
            self._failing.add((notification.channel, notification.target))
            self._tell(notification, False, error)
            return
        wait = self._config.backoff(attempts)
        with writing(self._engine) as conn:
            mark_retry(conn, notification.id, error, now + timedelta(seconds=wait))
        key = (notification.channel, notification.target)
        if key in self._failing:
            log.debug("%s to %s failed again (attempt %d): %s", notification.channel, target, attempts, error)
            return
        self._failing.add(key)
        log.warning(
            "cannot deliver %s to %s (alarm %s): %s; retrying in %g s, up to %d attempts "
            "(further failures of this target are not logged until it works again)",
            notification.channel, target, notification.alarm_id or "-", error, wait,
            self._config.max_attempts, exc_info=unexpected,
        )

    def _run(self) -> None:
        trouble = False
        while not self._stopping.is_set():
            try:
                self.run_once(self._clock())
                with self._engine.connect() as conn:
                    upcoming = next_due(conn)
                if trouble:
                    log.info("notifications: the database answers again; delivering")
                    trouble = False
                wait = self._poll_s
                if upcoming is not None:
                    wait = min(max((upcoming - self._clock()).total_seconds(), MIN_WAIT_S), self._poll_s)
            except Exception as exc:  # the thread must outlive any one bad round
                if not trouble:
                    log.error(
                        "notifications: cannot read or update the queue (%s); retrying every %g s",
                        first_line(exc), self._retry_db_s, exc_info=not isinstance(exc, SQLAlchemyError),
                    )
                trouble = True
                wait = self._retry_db_s
            self._wake.wait(wait)
            self._wake.clear()
