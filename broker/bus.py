"""The MQTT bus client over paho-mqtt 2.x: reconnects, retained status with a Last Will, handlers."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from broker import topics
from broker.config import MqttUrl
from broker.messages import Status

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
"""Default MQTT keepalive: a silent broker is noticed after about twice this."""

Handler = Callable[[str, bytes], None]
"""A subscription handler: (topic, payload); it runs on the bus thread and must be quick."""


@dataclass(slots=True)
class _Subscription:
    topic_filter: str
    qos: int
    handler: Handler = field(repr=False)


class Bus:
    """One MQTT connection of one principal; keeps itself connected until `stop()`."""

    def __init__(
        self,
        url: MqttUrl,
        *,
        client_id: str,
        site: str | None = None,
        device: str | None = None,
        kind: str = "device",
        persistent: bool = False,
        max_inflight: int = 100,
        keepalive: int = KEEPALIVE_S,
        logger: logging.Logger | None = None,
    ) -> None:
        """Prepare a connection; with `site` and `device`, keep a retained status with a Will.

        `keepalive` (seconds; may be changed until `start()`) bounds how long a half-open connection
        (the broker gone silent, the socket still open) goes unnoticed: about twice that, then the
        bus reconnects.
        """
        if (site is None) != (device is None):
            raise ValueError("site and device go together: give both or neither")
        if keepalive < 1:
            raise ValueError(f"keepalive must be at least 1 second, got {keepalive}")
        self.keepalive = keepalive
        self.url = url
        self.site, self.device, self.kind = site, device, kind
        self._log = logger or log
        self._subs: list[_Subscription] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._unacked: set[int] = set()
        self._was_connected = False
        self._condition: str | None = None
        self.failed_connects = 0  # attempts the broker refused or could not be reached for
        self._publish_failing = False
        self._on_connect_hooks: list[Callable[[], None]] = []
        self._stopping = False
        v5 = url.version == 5
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else not persistent,
        )
        self._persistent = persistent
        self._client.max_inflight_messages_set(max_inflight)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        if url.username:
            self._client.username_pw_set(url.username, url.password)
        if url.tls:
            self._client.tls_set(ca_certs=url.ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if self.status_topic:
            offline = Status("offline", kind=kind, detail="connection lost").encode()
            self._client.will_set(self.status_topic, offline, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_socket_open = _no_delay
        self._client.on_subscribe = self._on_subscribe

    @property
    def status_topic(self) -> str | None:
        """Retained status topic of this principal, when it is a device."""
        if self.site is None or self.device is None:
            return None
        return topics.status(self.site, self.device)

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    def on_connect(self, hook: Callable[[], None]) -> None:
        """Call `hook` (on the bus thread) after every successful (re)connection."""
        self._on_connect_hooks.append(hook)

    def start(self) -> None:
        """Connect in the background; reconnects with backoff until `stop()`."""
        props = None
        clean_start: bool | Literal[3] = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if self.url.version == 5:
            clean_start = not self._persistent
            if self._persistent:
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = 24 * 3600
        self._client.connect_async(
            self.url.host, self.url.port, keepalive=self.keepalive, clean_start=clean_start, properties=props
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or `timeout` seconds pass; return whether connected."""
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until connected and every subscription is acknowledged by the broker."""
        return self._connected.wait(timeout) and self._subscribed.wait(timeout)

    def stop(self) -> None:
        """Say offline (retained), disconnect and stop the network thread."""
        self._stopping = True
        if self.status_topic and self.connected:
            info = self._client.publish(
                self.status_topic, Status("offline", kind=self.kind, detail="stopped").encode(),
                qos=1, retain=True,
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Route messages matching `topic_filter` to `handler`; survives reconnections."""
        sub = _Subscription(topic_filter, qos, handler)
        self._client.message_callback_add(topic_filter, self._dispatcher(sub))
        with self._lock:
            self._subs.append(sub)
            if self.connected:
                self._subscribed.clear()
                self._send_subscribe(sub)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo | None:
        """Queue a message for the broker; None when it could not even be queued (logged once)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            if not self._publish_failing:
                self._log.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            self._publish_failing = True
            return None
        self._publish_failing = False
        return info

    def _dispatcher(self, sub: _Subscription) -> mqtt.CallbackOnMessage:
        def dispatch(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            try:
                sub.handler(msg.topic, bytes(msg.payload))
            except Exception:
                self._log.exception("handler for %s failed on %s", sub.topic_filter, msg.topic)

        return dispatch

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.failed_connects += 1
            self._say(f"refused: {reason}", logging.ERROR, "broker %s refused the connection: %s",
                      self.url.redacted(), reason)
            return
        self._say("connected", logging.INFO, "%s to %s",
                  "reconnected" if self._was_connected else "connected", self.url.redacted())
        self._was_connected = True
        with self._lock:  # a subscribe() racing this connection is either in subs or sent itself
            self._subscribed.clear()
            for sub in self._subs:
                self._send_subscribe(sub)
            if not self._unacked:
                self._subscribed.set()
            self._connected.set()
        if self.status_topic:
            online = Status("online", kind=self.kind, since=datetime.now(UTC)).encode()
            client.publish(self.status_topic, online, qos=1, retain=True)
        for hook in self._on_connect_hooks:
            try:
                hook()
            except Exception:
                self._log.exception("on-connect hook failed")

    def _send_subscribe(self, sub: _Subscription) -> None:
        """SUBSCRIBE and remember to wait for its SUBACK (caller holds the lock)."""
        _rc, mid = self._client.subscribe(sub.topic_filter, sub.qos)
        if mid is not None:
            self._unacked.add(mid)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, mid: int, codes: list[ReasonCode], _p: Properties | None
    ) -> None:
        refused = [code for code in codes if code.is_failure]
        if refused:
            self._log.error("broker %s refused a subscription: %s", self.url.redacted(), refused[0])
        with self._lock:
            self._unacked.discard(mid)
            if not self._unacked:
                self._subscribed.set()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: object) -> None:
        self.failed_connects += 1
        self._say("unreachable", logging.WARNING, "broker %s unreachable; retrying with backoff",
                  self.url.redacted())

    def _say(self, condition: str, level: int, message: str, *args: object) -> None:
        """Log `message` when the connection's condition changes, not at every retry."""
        if condition != self._condition:
            self._condition = condition
            self._log.log(level, message, *args)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and not self._stopping:
            self._say("unreachable", logging.WARNING, "lost broker %s (%s); reconnecting",
                      self.url.redacted(), reason)


def _no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    """Send small packets at once: Nagle's algorithm held alarms and commands back by milliseconds."""
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is not None:
        with contextlib.suppress(OSError):
            setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
