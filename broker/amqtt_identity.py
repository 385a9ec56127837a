"""An amqtt 0.12.1 broker that authenticates a CONNECT before it touches any session.

amqtt acts on a CONNECT's client id before it asks its auth plugins: a clean-session CONNECT
deletes the subscriptions of the session with that id, and a CONNECT for a connected session
takes it over, whether or not the password was right. So anyone able to reach the port could
silence the central service by connecting with its client id. `GuardedBroker` reads the
CONNECT first, runs the configured auth plugins on it (broker.amqtt_plugins.SessionGuardPlugin
binds the client id to the user name), answers a refused one with CONNACK "not authorised" and
closes it, and only then hands the bytes it read, unchanged, to amqtt. A connection that sends
no CONNECT within CONNECT_TIMEOUT_S, or something else, is closed (amqtt left those open).
"""

from __future__ import annotations

import asyncio
import logging

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.connect import ConnectPacket
from amqtt.session import Session

from broker.amqtt_patches import PatchedBroker

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
"""How long a new connection may take to send its CONNECT."""


class _Recording(ReaderAdapter):  # type: ignore[misc]  # amqtt has no hints
    """Reads through `inner`, keeping every byte read."""

    def __init__(self, inner: ReaderAdapter) -> None:
        self.inner, self.seen = inner, bytearray()

    async def read(self, n: int = -1) -> bytes:
        data: bytes = await self.inner.read(n)
        self.seen += data
        return data

    def feed_eof(self) -> None:
        self.inner.feed_eof()


class _Replaying(ReaderAdapter):  # type: ignore[misc]  # amqtt has no hints
    """Gives `first` again before reading on from `inner`."""

    def __init__(self, first: bytes, inner: ReaderAdapter) -> None:
        self.first, self.inner = first, inner

    async def read(self, n: int = -1) -> bytes:
        if not self.first:
            data: bytes = await self.inner.read(n)
            return data
        if n == -1:
            taken, self.first = self.first, b""
            return taken
        taken, self.first = self.first[:n], self.first[n:]
        if len(taken) < n:
            taken += await self.inner.read(n - len(taken))
        return taken

    def feed_eof(self) -> None:
        self.inner.feed_eof()


def _session_of(connect: ConnectPacket) -> Session:
    """A throwaway session with what the auth plugins look at."""
    session = Session()
    session.client_id = "" if connect.payload.client_id_is_random else connect.client_id
    session.clean_session = connect.clean_session_flag
    session.will_flag = connect.will_flag
    session.will_topic = connect.will_topic
    session.username = connect.username
    session.password = connect.password
    return session


class GuardedBroker(PatchedBroker):
    """amqtt's Broker, refusing an unauthenticated CONNECT before amqtt acts on its client id."""

    async def _client_connected(
        self, listener_name: str, reader: ReaderAdapter, writer: WriterAdapter
    ) -> None:
        """Authenticate the CONNECT first; hand an accepted one to amqtt as it came."""
        recording = _Recording(reader)
        try:
            connect = await asyncio.wait_for(ConnectPacket.from_stream(recording), CONNECT_TIMEOUT_S)
        except Exception as exc:  # whatever the bytes were, this connection ends here
            connect, problem = None, f"{type(exc).__name__}: {exc}"
        else:
            problem = "no CONNECT"
        if connect is None or connect.payload is None or connect.variable_header is None:
            # amqtt would leave such a socket open for ever; one without a CONNECT is closed
            log.info("closed a connection from %s before any CONNECT (%s)",
                     writer.get_peer_info(), problem)
            await writer.close()
            return
        session = _session_of(connect)
        if not await self._authenticate(session, self.listeners_config[listener_name]):
            log.warning("refused CONNECT of %r as %r before it touched any session",
                        connect.client_id, connect.username)
            try:
                await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
                await writer.drain()
            finally:
                await writer.close()
            return
        await super()._client_connected(listener_name, _Replaying(bytes(recording.seen), reader), writer)
