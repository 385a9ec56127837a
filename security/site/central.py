"""The whole central service of a site in one object: the event log, the back office, escalation
delivery, the HTTP API, the nightly retention run and the managers' daily digest, started and
stopped together.

`gatehouse serve` and `gatehouse demo` both run a `Central`; the settings come from the sections
of the TOML file (`[access]`, `[alarms]`, `[notify]`, `[retention]`, `[api]`, `[ingest]`, `[digest]`).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from broker.config import ConfigError, MqttUrl, Settings, read_toml
from broker.credentials import CREDENTIALS_FILE, CredentialStore, KindLookup, PrincipalsOfKind, Role
from broker.schemas import CommandSent, Data, HostNotified
from security.accounts.config import AccountsSection
from security.accounts.login import LoginDesk
from security.api import ApiServer
from security.console.context import Console
from security.console.live import LiveFeed
from security.console.web import install
from security.ingest.service import CentralService
from security.office.alarms import Action, AlarmEscalated, Output
from security.office.audit.keys import ensure_audit_key
from security.office.config import OfficeConfig
from security.office.digest import due_day
from security.office.digest_job import DigestConfig, run_digest
from security.office.engine import BackOffice, CommandRequest, Effects
from security.office.incidents import IncidentDesk, console_emitter
from security.office.invitations import ARRIVAL, InvitationDesk, mark_invited_check_ins, queue_host_notices
from security.office.notify import Notifier, NotifyConfig, enqueue_escalation
from security.office.notify.messages import one_line
from security.office.retention_job import RetentionConfig, run_retention
from security.office.runtime import office_for
from security.office.snapshot_files import snapshot_folder
from security.storage import EventStore
from security.storage.notifications import Notification

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 15.0
"""How long an API request waits for the service to apply an action."""
DIGEST_RETRY_S = 300.0
"""How long the digest waits before trying again when reading or queueing it failed."""


class IngestSection(BaseModel):
    """`[ingest]`: how the central service takes in events."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_clock_skew_s: float = Field(
        default=300.0, gt=0, description="Seconds a device's event time may differ from the service's "
        "receive time before the source is flagged (`clock.skewed`); its events are kept either way.")


class ApiSection(BaseModel):
    """`[api]`: where the HTTP API listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = Field(default=True, description="Serve the HTTP API.")
    host: str = Field(default="127.0.0.1", description="Address to bind (loopback by default).")
    port: int = Field(default=8080, ge=0, le=65535, description="Port (0: any free port).")


@dataclass(frozen=True, slots=True)
class CentralConfig:
    """Every back-office section of the settings file."""

    office: OfficeConfig = field(default_factory=OfficeConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    api: ApiSection = field(default_factory=ApiSection)
    ingest: IngestSection = field(default_factory=IngestSection)
    digest: DigestConfig = field(default_factory=DigestConfig)
    accounts: AccountsSection = field(default_factory=AccountsSection)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], where: str = "settings") -> CentralConfig:
        """Read the sections of a parsed TOML document; ConfigError names what is wrong."""
        notify = _section(NotifyConfig, doc, "notify", where)
        digest = _section(DigestConfig, doc, "digest", where)
        try:
            digest.check(notify)
        except ValueError as exc:
            raise ConfigError(f"{where}: digest: {exc}") from None
        return cls(OfficeConfig.from_document(doc, where), notify,
                   _section(RetentionConfig, doc, "retention", where),
                   _section(ApiSection, doc, "api", where),
                   _section(IngestSection, doc, "ingest", where), digest,
                   _section(AccountsSection, doc, "accounts", where))

    @classmethod
    def read(cls, path: str | Path | None) -> CentralConfig:
        """The sections of the TOML file at `path` (None: every default)."""
        if path is None:
            return cls()
        return cls.from_document(read_toml(path), f"config file {path}")


M = TypeVar("M", bound=BaseModel)


def _section(model: type[M], doc: Mapping[str, Any], name: str, where: str) -> M:
    """Section `name` of `doc` as `model`; ConfigError naming each bad key as `name.key`."""
    try:
        return model.model_validate(doc.get(name, {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, (name, *e['loc'])))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None


def _now() -> datetime:
    return datetime.now(UTC)


def next_run(now: datetime, hour: int, tz: ZoneInfo) -> datetime:
    """The next time after `now` that it is `hour`:00 in `tz` (the nightly retention run)."""
    local = now.astimezone(tz)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at = (at + timedelta(days=1)).replace(hour=hour)
    return at.astimezone(UTC)


class Central:
    """The central service with its back office, notifier, API and retention, as one context manager."""

    def __init__(
        self, settings: Settings, url: MqttUrl, store: EventStore, config: CentralConfig, *,
        gap_timeout: float = 30.0,
    ) -> None:
        """Build everything; nothing runs before `start()`."""
        self.settings, self.store, self.config = settings, store, config
        self.audit_key = ensure_audit_key(settings)
        site = settings.site
        tz = ZoneInfo(config.office.alarms.timezone)
        self.notifier = Notifier(store.engine, config.notify, on_result=self._notified)
        enqueue = partial(_enqueue, config=config.notify, site=site)
        hosts = partial(queue_host_notices, config=config.notify, site=site, tz=tz)
        kinds = known_kinds(settings)  # each principal's kind, from the credential store (live)
        stations = None if kinds is None else PrincipalsOfKind(kinds, Role.STATION)
        build = office_for(store, config.office, audit_key=self.audit_key, enqueue=enqueue,
                           wake_notifier=self.notifier.wake, hooks=(mark_invited_check_ins, hosts),
                           stations=stations)
        self.service = CentralService(url, store, site=site, gap_timeout=gap_timeout, office=build,
                                      tick_s=config.office.alarms.tick_s, kinds=kinds,
                                      max_clock_skew_s=config.ingest.max_clock_skew_s)
        self.call_timeout_s = CALL_TIMEOUT_S
        self._direct = console_emitter(store, site)
        self.incidents = IncidentDesk(store.engine, site=site, audit_key=self.audit_key, emit=self.emit)
        self.invitations = InvitationDesk(store.engine, site=site, audit_key=self.audit_key, emit=self.emit,
                                          tz=tz, on_queued=self.notifier.wake)
        self.feed = LiveFeed(site)
        self.feed.attach(self.service.bus)
        self.logins = LoginDesk(store.engine, throttle=config.accounts.throttle(),
                                policy=config.accounts.policy(), audit_key=self.audit_key)
        cursors = hmac.new(self.audit_key, b"gatehouse console cursors", "sha256").digest()
        console = Console(store, site, tz, self.feed, self.logins, clock=_now, cursor_key=cursors,
                          incidents=self.incidents, snapshots=snapshot_folder(settings.data_dir),
                          data_dir=settings.data_dir, audit_key=self.audit_key,
                          invitations=self.invitations, alarm_guidance=config.office.alarms.guidance())
        self.api: ApiServer | None = None
        if config.api.enabled:
            self.api = ApiServer(store, host=config.api.host, port=config.api.port, site=site,
                                 audit_key=self.audit_key, alarm_actions=self.act, incidents=self.incidents,
                                 invitations=self.invitations, door_commands=self.command,
                                 ingest=self.service.health, extend=partial(install, console=console))
        self._stop = threading.Event()
        self._retention = threading.Thread(target=self._retain, name="retention", daemon=True)
        self._digest = threading.Thread(target=self._send_digests, name="digest", daemon=True)

    def start(self) -> None:
        """Start the service, the notifier, the API, nightly retention and the daily digest (all or none)."""
        self.service.start()
        try:
            self.notifier.start()
            if self.api is not None:
                self.api.start()
                log.info("HTTP API on %s", self.api.url)
        except BaseException:  # e.g. the API's port is taken: stop what already runs
            self.notifier.stop()
            self.service.stop()
            raise
        self._retention.start()
        if self.config.digest.enabled:
            self._digest.start()

    def stop(self) -> None:
        """Stop everything, the service last so that what it holds is stored."""
        self._stop.set()
        if self.api is not None:
            self.api.stop()
        self.notifier.stop()
        self.service.stop()
        for thread in (self._retention, self._digest):
            if thread.is_alive():
                thread.join(timeout=10)

    def __enter__(self) -> Self:
        """Start."""
        self.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        """Stop."""
        self.stop()

    def act(self, action: Action) -> list[Output]:
        """Apply a person's action on an alarm through the service's writer (for the API).

        A call the writer has not started within `call_timeout_s` is withdrawn, so an action the
        API reported as failed is never applied later.
        """
        future = self.service.call(partial(_act, action=action))
        try:
            fx = future.result(timeout=self.call_timeout_s)
        except FutureTimeout:
            if future.cancel():
                raise
            fx = future.result(timeout=self.call_timeout_s)
        return [*fx.rejected]

    def command(self, request: CommandRequest) -> list[CommandSent] | str:
        """Send a person's door command (API): what was sent, or why it was refused (audited either way).

        Like `act`, a call the writer has not started within `call_timeout_s` is withdrawn.
        """
        future = self.service.call(partial(_command, request=request))
        try:
            fx = future.result(timeout=self.call_timeout_s)
        except FutureTimeout:
            if future.cancel():
                raise
            fx = future.result(timeout=self.call_timeout_s)
        if fx.refused:
            return fx.refused[0]
        sent = [e.data for e in fx.events if isinstance(e.data, CommandSent)]
        return sent if sent or request.group is not None else "the service sent nothing"

    def emit(self, event_type: str, data: Data) -> None:
        """Store and publish an event of the service's own (incidents opened through the API).

        It goes into the log with the service's next batch, where the back office sees it like
        any other event, and is published after that batch commits. When the service's writer
        cannot take it (stopped, or not taken within `call_timeout_s`), the event is written
        straight into the log as the console's, so a change already committed does not lose its event.
        """
        future = self.service.emit(event_type, data)
        try:
            future.result(timeout=self.call_timeout_s)
            return
        except FutureTimeout:
            if not future.cancel():  # the writer has it already: its answer will come
                future.result(timeout=self.call_timeout_s)
                return
            problem = f"the service did not take it within {self.call_timeout_s:g} s"
        except Exception as exc:
            problem = str(exc)
        log.warning("%s: %s; writing it straight into the log", event_type, problem)
        self._direct(event_type, data)

    def _notified(self, notification: Notification, ok: bool, detail: str | None) -> None:
        """The notifier delivered or gave up on a message: a host's is told to the log as `host.notified`."""
        payload = notification.payload
        if payload.get("type") != ARRIVAL:
            return
        shown = one_line(detail)[:200] if detail else None
        self.emit("host.notified", HostNotified(visit_id=payload["visit_id"], host_id=payload["host_id"],
                                                channel=str(notification.channel), ok=ok, detail=shown))

    def _retain(self) -> None:
        tz = ZoneInfo(self.config.office.alarms.timezone)
        policy = self.config.retention.policy()
        while not self._stop.is_set():
            due = next_run(datetime.now(UTC), self.config.retention.run_at, tz)
            if self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
                return
            try:
                now = datetime.now(UTC)
                result = run_retention(self.store, policy, now, "system:retention", self.audit_key)
                log.info("retention: %d visitor record(s) anonymised (older than %d days)",
                         result.anonymised, policy.days)
            except Exception:
                log.exception("the nightly retention run failed; it runs again tomorrow")

    def _send_digests(self) -> None:
        """Queue the digest of the newest due day (at once if it is due and not queued yet), then daily."""
        tz = ZoneInfo(self.config.office.alarms.timezone)
        hour = self.config.digest.hour
        failing = False
        while not self._stop.is_set():
            now = datetime.now(UTC)
            try:
                run_digest(self.store, self.config.digest, self.config.notify, site=self.settings.site,
                           day=due_day(now, hour, tz), tz=tz, now=now)
                self.notifier.wake()
                if failing:
                    log.info("the daily digest is queued again")
                failing = False
                due = next_run(datetime.now(UTC), hour, tz)
            except Exception:  # the thread outlives a bad round; the same day is tried again
                log.log(logging.DEBUG if failing else logging.ERROR, "the daily digest failed; trying again "
                        "every %g s (not logged again until it works)", DIGEST_RETRY_S, exc_info=True)
                failing = True
                due = datetime.now(UTC) + timedelta(seconds=DIGEST_RETRY_S)
            if self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
                return


def known_kinds(settings: Settings) -> KindLookup | None:
    """Each principal's kind, from the credential store; None without one (an anonymous broker)."""
    path = settings.data_dir / CREDENTIALS_FILE
    if not path.exists():
        log.warning("no credential store at %s: every event is believed whoever sends it, and any "
                    "device whose status says 'station' may act on alarms and doors (fine on an "
                    "anonymous test broker, not on a site)", path)
        return None
    return KindLookup(CredentialStore(path))


def _act(office: BackOffice, action: Action) -> Effects:
    return office.act(action, datetime.now(UTC), origin="api")


def _command(office: BackOffice, request: CommandRequest) -> Effects:
    return office.command(request, datetime.now(UTC), origin="api")


def _enqueue(conn: Connection, escalated: AlarmEscalated, now: datetime, *, config: NotifyConfig,
             site: str) -> int:
    return enqueue_escalation(conn, config, site, escalated, now)
