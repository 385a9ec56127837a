"""Who may publish and subscribe where, from one source: the ACL of each principal (pure).

`acl_for` is the rule; the amqtt configuration, the amqtt password file and the Mosquitto
`mosquitto.conf` / password file / `acl_file` are all generated from it, so the embedded
broker and a production Mosquitto enforce the same contract.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pwdlib.hashers.argon2 import Argon2Hasher

from broker import topics
from broker.credentials import Principal, Role
from broker.kinds import types_for

AMQTT_FILE_AUTH = "amqtt.plugins.authentication.FileAuthPlugin"
AMQTT_ANONYMOUS = "amqtt.plugins.authentication.AnonymousAuthPlugin"
TOPIC_ACL = "broker.amqtt_plugins.TopicAclPlugin"
SESSION_GUARD = "broker.amqtt_plugins.SessionGuardPlugin"
SESSION_EXPIRY_S = 24 * 3600  # amqtt keeps a persistent session's queue in memory until then
SHARE_PREFIX = "$share/+/"

# The passwords are 256 random bits, so hashing only has to stop a leaked file from being a
# password list, not slow down guessing. Cheap parameters keep connects fast: amqtt verifies
# inside its event loop, and Mosquitto's own default is 101 PBKDF2 rounds.
_ARGON2 = Argon2Hasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MOSQUITTO_ITERATIONS = 101
MOSQUITTO_SALT_BYTES = 12


MAX_QUEUED = 100_000
"""Messages Mosquitto queues per client before it drops QoS 1 ones (its default is 1000)."""


@dataclass(slots=True, frozen=True)
class Acl:
    """Topic filters a principal may publish to and subscribe to."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def may_publish(self, topic: str) -> bool:
        """True if a message on the concrete `topic` is allowed."""
        if "+" in topic or "#" in topic:
            return False
        return any(topic_matches(allowed, topic) for allowed in self.publish)

    def may_subscribe(self, topic_filter: str) -> bool:
        """True if every topic `topic_filter` can match is readable."""
        return any(filter_covers(allowed, topic_filter) for allowed in self.subscribe)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching of a concrete `topic` against `topic_filter` (`+`, `#`, `$` rules)."""
    wanted, levels = topic_filter.split("/"), topic.split("/")
    if topic.startswith("$") and wanted[0] in ("+", "#"):
        return False
    for i, level in enumerate(wanted):
        if level == "#":
            return True
        if i >= len(levels) or level not in ("+", levels[i]):
            return False
    return len(wanted) == len(levels)


def filter_covers(allowed: str, requested: str) -> bool:
    """True if every topic matched by filter `requested` is also matched by filter `allowed`."""
    granted, asked = allowed.split("/"), requested.split("/")
    for i, level in enumerate(granted):
        if level == "#":
            return True
        if i >= len(asked) or asked[i] == "#":
            return False
        if level != "+" and asked[i] != level:
            return False
    return len(granted) == len(asked)


def acl_for(site: str, principal: Principal) -> Acl:
    """The rights of `principal` on `site`, as the contract's Security section states them.

    Everyone but the service publishes only on its own subtree: one event topic per type its
    kind may emit (broker.kinds) and its status. Nobody but the service publishes a command:
    a station asks the service with `command.requested`.
    """
    root = topics.ROOT
    if principal.role is Role.SERVICE:
        return Acl(publish=(f"{root}/#",), subscribe=(f"{root}/#", f"{SHARE_PREFIX}{root}/#"))
    own = topics.source(site, principal.name)
    publish = [f"{own}/event/{event_type}" for event_type in types_for(principal.role)]
    publish.append(f"{own}/status")
    subscribe = [f"{own}/command/#", f"{own}/ack"]
    if principal.role is Role.STATION:
        subscribe += [f"{root}/{site}/+/event/#", f"{root}/{site}/+/status", f"{root}/{site}/alarm/#"]
    return Acl(tuple(publish), tuple(subscribe))


def client_id_allowed(user: str | None, client_id: str) -> bool:
    """True if `client_id` belongs to principal `user`: its name, or its name, `@` and anything.

    `@` never occurs in a principal's name, so no principal's client ids overlap another's:
    nobody can take over (or resume) a session that is not its own.
    """
    if not user:
        return False
    return client_id == user or client_id.startswith(f"{user}@")


def client_id_for(name: str, purpose: str | None = None) -> str:
    """The client id principal `name` connects with (`name@purpose` for a second connection)."""
    return name if purpose is None else f"{name}@{purpose}"


def _listeners(host: str, port: int) -> dict[str, Any]:
    return {"default": {"type": "tcp", "bind": f"{host}:{port}"}}


def amqtt_config(
    host: str, port: int, site: str, principals: Iterable[Principal], password_file: str
) -> dict[str, Any]:
    """amqtt 0.12 broker configuration: password file auth, topic ACLs, nothing else loaded.

    The explicit `plugins` section keeps amqtt's default event/packet loggers and `$SYS`
    publisher out (they cost a third of its throughput). amqtt's own ACL plugin cannot take
    subscribe or receive rules in 0.12.1 and it never checks a Last Will or who resumes a
    persistent session: broker.amqtt_plugins fills those gaps.
    """
    acls = {p.name: acl_for(site, p) for p in principals}
    publish = {name: list(acl.publish) for name, acl in acls.items()}
    subscribe = {name: list(acl.subscribe) for name, acl in acls.items()}
    return {
        "listeners": _listeners(host, port),
        "session_expiry_interval": SESSION_EXPIRY_S,
        "plugins": {
            AMQTT_FILE_AUTH: {"password_file": password_file},
            SESSION_GUARD: {"publish_acl": publish, "bind_client_ids": True},
            TOPIC_ACL: {"publish_acl": publish, "subscribe_acl": subscribe, "receive_acl": subscribe},
        },
    }


def amqtt_anonymous_config(host: str, port: int) -> dict[str, Any]:
    """amqtt configuration that lets anyone connect and use any topic: local tests only."""
    return {
        "listeners": _listeners(host, port),
        "session_expiry_interval": SESSION_EXPIRY_S,
        "plugins": {AMQTT_ANONYMOUS: {"allow_anonymous": True}},
    }


def amqtt_password_file(principals: Iterable[Principal]) -> str:
    """Text of an amqtt FileAuthPlugin password file: `name:argon2-hash` lines."""
    lines = [f"{p.name}:{_ARGON2.hash(p.password)}" for p in principals]
    return "".join(f"{line}\n" for line in lines)


def mosquitto_password_hash(
    password: str, *, salt: bytes | None = None, iterations: int = MOSQUITTO_ITERATIONS
) -> str:
    """A Mosquitto 2 password hash: `$7$iterations$b64(salt)$b64(PBKDF2-HMAC-SHA512)`."""
    salt = os.urandom(MOSQUITTO_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def mosquitto_acl_file(site: str, principals: Iterable[Principal]) -> str:
    """Text of a Mosquitto `acl_file`: a `user` block of `topic` lines per principal."""
    out = ["# Gatehouse MQTT ACL, generated from the credential store; do not edit.", ""]
    for principal in principals:
        acl = acl_for(site, principal)
        out.append(f"user {principal.name}")
        for topic_filter in dict.fromkeys(acl.publish + acl.subscribe):
            if topic_filter.startswith("$share/"):
                continue  # Mosquitto checks a shared subscription against the plain filter
            access = {
                (True, True): "readwrite",
                (True, False): "write",
                (False, True): "read",
            }[(topic_filter in acl.publish, topic_filter in acl.subscribe)]
            out.append(f"topic {access} {topic_filter}")
        out.append("")
    return "\n".join(out)


@dataclass(slots=True, frozen=True)
class MosquittoTls:
    """A TLS listener: certificate and key files, and optionally a CA file, as absolute paths."""

    cert: str
    key: str
    ca: str | None = None
    port: int = 8883


def mosquitto_files(
    site: str,
    principals: Iterable[Principal],
    port: int = 1883,
    *,
    config_dir: str,
    persistence_location: str,
    bind: str = "127.0.0.1",
    tls: MosquittoTls | None = None,
    user: str | None = None,
) -> dict[str, str]:
    """`mosquitto.conf`, `passwd` and `acl` for Mosquitto 2, to be installed in `config_dir`.

    The plain listener binds `bind` (loopback unless told otherwise). With `tls` a TLS listener
    binds `bind` on `tls.port` and the plain one stays on loopback, for processes on this machine.
    A client's id is its user name (`use_username_as_clientid`), so nobody can take over another
    principal's session; a principal therefore has one connection at a time.

    Started as root, Mosquitto 2.0 drops to the `mosquitto` user (or `user`) *before* it reads
    the password and ACL files: they must be readable by that user, and `persistence_location`
    writable by it.
    """
    topics.check_name(site, "site")
    listed = list(principals)
    settings = (config_dir, persistence_location, bind, user or "",
                *((tls.cert, tls.key, tls.ca or "") if tls else ()))
    for value in settings:
        if "\n" in value or "\r" in value or (value != value.strip()):
            raise ValueError(f"mosquitto setting {value!r} contains a line break or edge blanks")
    if not bind:
        raise ValueError("mosquitto bind address is empty")
    config_dir = config_dir.rstrip("/") or "/"
    plain_bind = "127.0.0.1" if tls else bind
    conf = [
        f"# Gatehouse broker for site {site!r}, generated by `gatehouse broker mosquitto-config`.",
        "# Regenerate rather than edit: passwd and acl come from the same credential store.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {config_dir}/passwd",
        f"acl_file {config_dir}/acl",
        f"listener {port} {plain_bind}",
        # after a listener: before any, Mosquitto would open a default listener on 1883 for it
        "# a client id is its principal's user name: no principal can take over another's session",
        "use_username_as_clientid true",
    ]
    if tls:
        conf += [
            f"listener {tls.port} {bind}",
            "use_username_as_clientid true",
            f"certfile {tls.cert}",
            f"keyfile {tls.key}",
            *([f"cafile {tls.ca}"] if tls.ca else []),
            "require_certificate false",
            "tls_version tlsv1.2",
        ]
    conf += [
        "persistence true",
        f"persistence_location {persistence_location.rstrip('/')}/",
        "autosave_interval 60",
        "# the central service may fall behind in a burst: queue for it rather than drop at 1000",
        f"max_queued_messages {MAX_QUEUED}",
        "# send small packets at once: Nagle's delay added ~10 ms to a badge -> alarm round trip",
        "set_tcp_nodelay true",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
    ]
    if user:
        conf.append(f"user {user}")
    passwd = "".join(f"{p.name}:{mosquitto_password_hash(p.password)}\n" for p in listed)
    return {
        "mosquitto.conf": "\n".join(conf) + "\n",
        "passwd": passwd,
        "acl": mosquitto_acl_file(site, listed),
    }
