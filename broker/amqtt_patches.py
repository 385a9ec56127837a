"""Fixes we carry for amqtt 0.12.1's broker, as a subclass the embedded broker process runs.

amqtt 0.12.1 (`amqtt/broker.py`) walks its subscription map, `Broker._subscriptions`
(topic filter -> list of (session, qos)), across `await`s while other connections' coroutines
add and remove filters in it:

- `Broker._run_broadcast` loops over `self._subscriptions.items()` and, for every target,
  awaits the topic plugins (`_topic_filtering`, RECEIVE). A client that subscribes to a new
  filter, or disconnects and takes its last filter away, meanwhile makes the loop raise
  `RuntimeError: dictionary changed size during iteration`: the message is not delivered to
  the subscribers after that point and nobody is told (the task's exception is never read).
  Popping from a filter's list during the walk silently skips the next subscriber too.
- `Broker._handle_client_session`, right after CONNACK, loops over `self._subscriptions` and
  awaits the publishing of retained messages for each filter: a new filter added meanwhile
  raises the same error out of the connection's coroutine, and the client stays connected to
  a session that never reads its packets again (a dropped connection, lost QoS 1 messages).
  That loop also sends the new client every retained message matching *any* client's filter,
  unasked for and without the receive ACL: a device got other devices' retained status.

`PatchedBroker` overrides those two methods with amqtt 0.12.1's own code, changed only where
marked `PATCH`: the broadcast walks a snapshot (and one failing target no longer loses the
message for the others), and a (re)connecting client gets the retained messages of its own
subscriptions only. tests/test_embedded_load.py fails without it. Any other amqtt version is
refused (`check_amqtt_version`): re-read those two methods in it before moving the pin.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import amqtt
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import BrokerError
from amqtt.events import BrokerEvents
from amqtt.mqtt.constants import QOS_0, QOS_1, QOS_2
from transitions import MachineError

PATCHED_VERSION = "0.12.1"

log = logging.getLogger(__name__)


class AmqttVersionError(RuntimeError):
    """The installed amqtt is not the version broker.amqtt_patches was written against."""


def check_amqtt_version(version: str | None = None) -> None:
    """Raise AmqttVersionError unless amqtt is the version these patches were made for."""
    found = amqtt.__version__ if version is None else version
    if found != PATCHED_VERSION:
        raise AmqttVersionError(
            f"broker.amqtt_patches patches amqtt {PATCHED_VERSION} (Broker._run_broadcast and "
            f"Broker._handle_client_session) but amqtt {found} is installed: install "
            f"amqtt=={PATCHED_VERSION}, or check those methods in {found} and update the patch"
        )


class PatchedBroker(Broker):  # type: ignore[misc]  # amqtt has no type hints
    """amqtt 0.12.1's Broker without its subscription-map races (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Refuse to run on an amqtt these patches were not written for, then build the broker."""
        check_amqtt_version()
        super().__init__(*args, **kwargs)

    async def _run_broadcast(self, running_tasks: Any) -> None:
        """Process a single broadcast message (amqtt 0.12.1, patched)."""
        broadcast = await self._broadcast_queue.get()

        # PATCH: a snapshot of the filters and of each filter's subscribers; the awaits below
        # let other connections subscribe and unsubscribe meanwhile.
        for k_filter, subscriptions in list(self._subscriptions.items()):
            if not self._matches(broadcast["topic"], k_filter):
                continue
            for target_session, sub_qos in list(subscriptions):
                # PATCH: one target that fails does not cost the others the message.
                try:
                    await self._broadcast_to(broadcast, target_session, sub_qos, running_tasks)
                except Exception:
                    log.exception(
                        "broadcast on %r to %s failed; the other subscribers still get it",
                        broadcast["topic"], target_session.client_id,
                    )  # fmt: skip

    async def _broadcast_to(
        self, broadcast: dict[str, Any], target_session: Any, sub_qos: int, running_tasks: Any
    ) -> None:
        """amqtt 0.12.1's body of the inner loop of `_run_broadcast`, unchanged but for logging."""
        qos = broadcast.get("qos", sub_qos)

        topic = broadcast["topic"]
        if not await self._topic_filtering(target_session, topic=topic, action=Action.RECEIVE):
            log.info("%s not allowed to receive messages from TOPIC %s", target_session.client_id, topic)
            return

        if (
            target_session.transitions.state != "connected"
            and not target_session.clean_session
            and qos in (QOS_1, QOS_2)
            and not target_session.is_anonymous
        ):
            await self._retain_broadcast_message(broadcast, qos, target_session)
            return

        if target_session.transitions.state != "connected":
            return

        handler = self._get_handler(target_session)
        if handler:
            task = asyncio.ensure_future(
                handler.mqtt_publish(topic, broadcast["data"], qos, retain=False),
            )
            running_tasks.append(task)

    async def _handle_client_session(  # noqa: PLR0917  # amqtt's signature
        self,
        reader: Any,
        writer: Any,
        client_session: Any,
        handler: Any,
        server: Any,
        listener_name: str,
    ) -> None:
        """Handle the lifecycle of a client session (amqtt 0.12.1, patched)."""
        listener = self.listeners_config[listener_name]
        authenticated = await self._authenticate(client_session, listener)

        if client_session.client_id is None:
            msg = "Client ID was not correctly created/set."
            raise BrokerError(msg)

        while True:
            try:
                client_session.transitions.connect()
                break
            except (MachineError, ValueError):
                if client_session.transitions.is_connected():
                    log.warning("client %s is already connected, taking over", client_session.client_id)
                    old_session = self._sessions[client_session.client_id]
                    await old_session[1].handle_connection_closed()
                    await old_session[1].stop()
                    break
                log.warning("client %s reconnects too quickly; it waits", client_session.client_id)
                await asyncio.sleep(1)

        handler.attach(client_session, reader, writer)
        self._sessions[client_session.client_id] = (client_session, handler)

        await handler.mqtt_connack_authorize(authenticated)

        if not authenticated:
            await writer.close()
            return

        await self.plugins_manager.fire_event(
            BrokerEvents.CLIENT_CONNECTED, client_id=client_session.client_id, client_session=client_session
        )

        await handler.start()

        await self._publish_session_retained_messages(client_session)

        # PATCH: only this session's own filters (a resumed persistent session has some), taken
        # as a snapshot; amqtt walked the live map and sent the retained messages of every
        # client's filters.
        own = [
            topic_filter
            for topic_filter, subscribers in list(self._subscriptions.items())
            if any(s.client_id == client_session.client_id for s, _ in subscribers)
        ]
        for topic_filter in own:
            await self._publish_retained_messages_for_subscription((topic_filter, QOS_0), client_session)

        await self._client_message_loop(client_session, handler)


__all__ = ["PATCHED_VERSION", "AmqttVersionError", "PatchedBroker", "check_amqtt_version"]
