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
    """The rights of `principal` on `site`, as the contract's Security section states them."""
    root = topics.ROOT
    if principal.role is Role.SERVICE:
        return Acl(publish=(f"{root}/#",), subscribe=(f"{root}/#", f"{SHARE_PREFIX}{root}/#"))
    own = topics.source(site, principal.name)
    publish = [f"{own}/event/#", f"{own}/status"]
    subscribe = [f"{own}/command/#", f"{own}/ack"]
    if principal.role is Role.STATION:
        publish.append(f"{root}/{site}/+/command/#")
        subscribe += [f"{root}/{site}/+/event/#", f"{root}/{site}/+/status", f"{root}/{site}/alarm/#"]
    return Acl(tuple(publish), tuple(subscribe))


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
            SESSION_GUARD: {"publish_acl": publish},
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


def mosquitto_files(
    site: str,
    principals: Iterable[Principal],
    port: int = 1883,
    *,
    config_dir: str,
    bind: str | None = None,
    persistence_location: str = "/var/lib/mosquitto/",
    user: str | None = None,
) -> dict[str, str]:
    """`mosquitto.conf`, `passwd` and `acl` for Mosquitto 2, to be installed in `config_dir`.

    Started as root, Mosquitto 2.0 drops to the `mosquitto` user (or `user`) *before* it reads
    the password and ACL files: they must be readable by that user.
    """
    topics.check_name(site, "site")
    listed = list(principals)
    for path in (config_dir, persistence_location, bind or "", user or ""):
        if "\n" in path or "\r" in path:
            raise ValueError(f"mosquitto setting {path!r} contains a line break")
    config_dir = config_dir.rstrip("/") or "/"
    conf = [
        f"# Gatehouse broker for site {site!r}, generated by `gatehouse broker mosquitto-config`.",
        "# Regenerate rather than edit: passwd and acl come from the same credential store.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {config_dir}/passwd",
        f"acl_file {config_dir}/acl",
        f"listener {port} {bind}" if bind else f"listener {port}",
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
