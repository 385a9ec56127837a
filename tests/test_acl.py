"""The ACL rule and the broker files generated from it (pure: no broker, no files)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pwdlib.hashers.argon2 import Argon2Hasher

from broker.acl import (
    AMQTT_ANONYMOUS,
    AMQTT_FILE_AUTH,
    SESSION_GUARD,
    TOPIC_ACL,
    Acl,
    MosquittoTls,
    acl_for,
    amqtt_anonymous_config,
    amqtt_config,
    amqtt_password_file,
    client_id_allowed,
    filter_covers,
    mosquitto_acl_file,
    mosquitto_files,
    topic_matches,
)
from broker.credentials import Principal, Role
from broker.kinds import types_for
from broker.topics import TopicError

DEVICE = Principal("reader-1", Role.READER, "pw-reader")
LEGACY = Principal("device-9", Role.DEVICE, "pw-legacy")
KIOSK = Principal("kiosk-1", Role.KIOSK, "pw-kiosk")
STATION = Principal("station-1", Role.STATION, "pw-station")
SERVICE = Principal("service", Role.SERVICE, "pw-service")
ALL = (DEVICE, KIOSK, STATION, SERVICE)
S = "gatehouse/lobby"


def test_device_and_kiosk_rights_are_their_own_subtree_and_their_kinds_types() -> None:
    for who in (DEVICE, KIOSK, LEGACY):
        own = f"{S}/{who.name}"
        assert acl_for("lobby", who) == Acl(
            publish=(*(f"{own}/event/{t}" for t in types_for(who.role)), f"{own}/status"),
            subscribe=(f"{own}/command/#", f"{own}/ack"),
        )
    assert acl_for("lobby", DEVICE).publish[:2] == (f"{S}/reader-1/event/badge.read",
                                                    f"{S}/reader-1/event/device.fault")
    assert acl_for("lobby", LEGACY).publish == (f"{S}/device-9/event/device.fault", f"{S}/device-9/status")


def test_station_rights_publish_requests_and_no_command() -> None:
    own = f"{S}/station-1"
    assert acl_for("lobby", STATION) == Acl(
        publish=(f"{own}/event/alarm.requested", f"{own}/event/command.requested",
                 f"{own}/event/device.fault", f"{own}/event/item.lent", f"{own}/event/item.returned",
                 f"{own}/status"),
        subscribe=(
            f"{own}/command/#", f"{own}/ack", f"{S}/+/event/#", f"{S}/+/status", f"{S}/alarm/#",
        ),
    )  # fmt: skip


def test_service_reads_and_writes_everything() -> None:
    assert acl_for("lobby", SERVICE) == Acl(
        publish=("gatehouse/#",), subscribe=("gatehouse/#", "$share/+/gatehouse/#")
    )


@pytest.mark.parametrize(
    ("who", "topic", "allowed"),
    [
        (DEVICE, f"{S}/reader-1/event/badge.read", True),
        (DEVICE, f"{S}/reader-1/status", True),
        (DEVICE, f"{S}/reader-1/command/unlock", False),
        (DEVICE, f"{S}/reader-1/ack", False),
        (DEVICE, f"{S}/reader-1/other", False),
        (DEVICE, f"{S}/reader-2/event/badge.read", False),
        (DEVICE, f"{S}/alarm/a-1", False),
        (DEVICE, "gatehouse/other/reader-1/event/badge.read", False),
        (DEVICE, f"{S}/reader-1/event/+", False),
        (DEVICE, f"{S}/reader-1/event/access.granted", False),
        (DEVICE, f"{S}/reader-1/event/visitor.checked_in", False),
        (DEVICE, f"{S}/reader-1/event/badge.read/x", False),
        (LEGACY, f"{S}/device-9/event/badge.read", False),
        (LEGACY, f"{S}/device-9/event/device.fault", True),
        (KIOSK, f"{S}/kiosk-1/event/visitor.checked_in", True),
        (KIOSK, f"{S}/kiosk-1/event/access.granted", False),
        (KIOSK, f"{S}/reader-1/command/unlock", False),
        (STATION, f"{S}/reader-1/command/unlock", False),
        (STATION, f"{S}/station-1/command/unlock", False),
        (STATION, f"{S}/station-1/event/alarm.acknowledged", False),
        (STATION, f"{S}/station-1/event/alarm.requested", True),
        (STATION, f"{S}/station-1/event/command.requested", True),
        (STATION, f"{S}/reader-1/event/badge.read", False),
        (STATION, f"{S}/reader-1/ack", False),
        (STATION, f"{S}/alarm/a-1", False),
        (STATION, "gatehouse/other/reader-1/command/unlock", False),
        (SERVICE, f"{S}/reader-1/ack", True),
        (SERVICE, f"{S}/alarm/a-1", True),
        (SERVICE, "gatehouse/other/x/command/y", True),
        (SERVICE, "elsewhere/x", False),
    ],
)
def test_may_publish(who: Principal, topic: str, allowed: bool) -> None:
    assert acl_for("lobby", who).may_publish(topic) is allowed


@pytest.mark.parametrize(
    ("who", "topic_filter", "allowed"),
    [
        (DEVICE, f"{S}/reader-1/command/#", True),
        (DEVICE, f"{S}/reader-1/command/unlock", True),
        (DEVICE, f"{S}/reader-1/command/+", True),
        (DEVICE, f"{S}/reader-1/ack", True),
        (DEVICE, f"{S}/reader-1/#", False),
        (DEVICE, f"{S}/+/command/#", False),
        (DEVICE, f"{S}/reader-2/command/#", False),
        (DEVICE, f"{S}/reader-1/event/#", False),
        (DEVICE, "#", False),
        (STATION, f"{S}/+/event/#", True),
        (STATION, f"{S}/reader-1/event/badge.read", True),
        (STATION, f"{S}/+/status", True),
        (STATION, f"{S}/alarm/#", True),
        (STATION, f"{S}/alarm/+", True),
        (STATION, f"{S}/+/#", False),
        (STATION, f"{S}/reader-1/command/#", False),
        (STATION, f"{S}/+/ack", False),
        (STATION, "gatehouse/+/+/event/#", False),
        (SERVICE, "gatehouse/#", True),
        (SERVICE, "gatehouse/+/+/event/#", True),
        (SERVICE, "$share/ingest/gatehouse/+/+/event/#", True),
        (SERVICE, "#", False),
        (SERVICE, "$SYS/#", False),
    ],
)
def test_may_subscribe(who: Principal, topic_filter: str, allowed: bool) -> None:
    assert acl_for("lobby", who).may_subscribe(topic_filter) is allowed


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/+/c", "a/b/d", False),
        ("a/b", "a/b/c", False),
    ],
)
def test_topic_matches(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


levels = st.lists(st.sampled_from(["a", "b", "+"]), min_size=1, max_size=4)
concrete = st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=5).map("/".join)


@given(allowed=levels, hash_a=st.booleans(), requested=levels, hash_r=st.booleans(), topic=concrete)
def test_a_covered_filter_only_matches_allowed_topics(
    allowed: list[str], hash_a: bool, requested: list[str], hash_r: bool, topic: str
) -> None:
    """Soundness: if `allowed` covers `requested`, no topic matches `requested` alone."""
    allowed_filter = "/".join(allowed + ["#"] * hash_a)
    requested_filter = "/".join(requested + ["#"] * hash_r)
    if filter_covers(allowed_filter, requested_filter) and topic_matches(requested_filter, topic):
        assert topic_matches(allowed_filter, topic)


@pytest.mark.parametrize("site", ["Lobby", "", "a/b", "x" * 65])
def test_bad_site_names_are_refused(site: str) -> None:
    with pytest.raises(TopicError):
        acl_for(site, DEVICE)


def test_amqtt_config_loads_only_auth_and_acl_plugins() -> None:
    config = amqtt_config("127.0.0.1", 18830, "lobby", ALL, "/x/amqtt.passwd")
    assert config["listeners"] == {"default": {"type": "tcp", "bind": "127.0.0.1:18830"}}
    plugins = config["plugins"]
    assert list(plugins) == [AMQTT_FILE_AUTH, SESSION_GUARD, TOPIC_ACL]
    assert plugins[AMQTT_FILE_AUTH] == {"password_file": "/x/amqtt.passwd"}
    acl = plugins[TOPIC_ACL]
    assert acl["subscribe_acl"]["reader-1"] == list(acl_for("lobby", DEVICE).subscribe)
    assert acl["receive_acl"] == acl["subscribe_acl"]
    assert acl["publish_acl"]["station-1"] == list(acl_for("lobby", STATION).publish)
    assert set(acl["publish_acl"]) == {p.name for p in ALL}
    assert plugins[SESSION_GUARD] == {"publish_acl": acl["publish_acl"], "bind_client_ids": True}


def test_amqtt_anonymous_config() -> None:
    config = amqtt_anonymous_config("127.0.0.1", 1)
    assert config["plugins"] == {AMQTT_ANONYMOUS: {"allow_anonymous": True}}


def test_amqtt_password_file_holds_argon2_hashes_amqtt_can_verify() -> None:
    lines = amqtt_password_file((DEVICE, SERVICE)).splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["reader-1", "service"]
    hashed = lines[0].split(":", 1)[1]
    assert hashed.startswith("$argon2id$")
    assert "pw-reader" not in hashed
    assert Argon2Hasher().verify("pw-reader", hashed)
    assert not Argon2Hasher().verify("pw-service", hashed)


def test_mosquitto_acl_file() -> None:
    assert mosquitto_acl_file("lobby", (DEVICE, STATION, SERVICE)).splitlines()[1:] == [
        "",
        "user reader-1",
        f"topic write {S}/reader-1/event/badge.read",
        f"topic write {S}/reader-1/event/device.fault",
        f"topic write {S}/reader-1/status",
        f"topic read {S}/reader-1/command/#",
        f"topic read {S}/reader-1/ack",
        "",
        "user station-1",
        f"topic write {S}/station-1/event/alarm.requested",
        f"topic write {S}/station-1/event/command.requested",
        f"topic write {S}/station-1/event/device.fault",
        f"topic write {S}/station-1/event/item.lent",
        f"topic write {S}/station-1/event/item.returned",
        f"topic write {S}/station-1/status",
        f"topic read {S}/station-1/command/#",
        f"topic read {S}/station-1/ack",
        f"topic read {S}/+/event/#",
        f"topic read {S}/+/status",
        f"topic read {S}/alarm/#",
        "",
        "user service",
        "topic readwrite gatehouse/#",
    ]


def test_mosquitto_conf() -> None:
    files = mosquitto_files(
        "lobby", ALL, 1884, config_dir="/etc/gh/", bind="127.0.0.1",
        persistence_location="/var/lib/gh", user="mosquitto",
    )  # fmt: skip
    assert sorted(files) == ["acl", "mosquitto.conf", "passwd"]
    conf = files["mosquitto.conf"].splitlines()
    for line in (
        "allow_anonymous false",
        "password_file /etc/gh/passwd",
        "acl_file /etc/gh/acl",
        "listener 1884 127.0.0.1",
        "use_username_as_clientid true",
        "persistence true",
        "persistence_location /var/lib/gh/",
        "log_dest stderr",
        "user mosquitto",
    ):
        assert line in conf
    assert [line.split(":")[0] for line in files["passwd"].splitlines()] == [p.name for p in ALL]
    assert all(":$7$101$" in line for line in files["passwd"].splitlines())
    assert not any(p.password in text for p in ALL for text in files.values())


def test_mosquitto_conf_refuses_line_breaks() -> None:
    with pytest.raises(ValueError, match="line break"):
        mosquitto_files("lobby", ALL, config_dir="/etc/gh\nallow_anonymous true", persistence_location="/x")


def test_mosquitto_binds_loopback_by_default_and_all_interfaces_only_when_told() -> None:
    conf = mosquitto_files("lobby", ALL, config_dir="/etc/gh", persistence_location="/d")["mosquitto.conf"]
    assert "listener 1883 127.0.0.1" in conf.splitlines()
    assert "certfile" not in conf
    wide = mosquitto_files("lobby", ALL, config_dir="/etc/gh", persistence_location="/d", bind="0.0.0.0")
    assert "listener 1883 0.0.0.0" in wide["mosquitto.conf"].splitlines()


def test_mosquitto_tls_listener_and_plain_one_on_loopback() -> None:
    tls = MosquittoTls("/etc/gh/server.crt", "/etc/gh/server.key", "/etc/gh/ca.crt", 8884)
    conf = mosquitto_files("lobby", ALL, 1883, config_dir="/etc/gh", persistence_location="/d",
                           bind="0.0.0.0", tls=tls)["mosquitto.conf"].splitlines()
    assert "listener 1883 127.0.0.1" in conf
    at = conf.index("listener 8884 0.0.0.0")
    assert conf[at + 1:at + 5] == ["use_username_as_clientid true", "certfile /etc/gh/server.crt",
                                   "keyfile /etc/gh/server.key", "cafile /etc/gh/ca.crt"]


@pytest.mark.parametrize(
    ("user", "client_id", "allowed"),
    [
        ("central", "central", True),
        ("central", "central@lobby", True),
        ("central", "central@", True),
        ("reader-1", "central@lobby", False),
        ("reader-1", "central", False),
        ("reader", "reader-1", False),
        ("reader", "reader-1@lobby", False),
        ("reader-1", "lobby-reader-1", False),
        ("reader-1", "", False),
        (None, "reader-1", False),
    ],
)
def test_a_client_id_belongs_to_one_principal(user: str | None, client_id: str, allowed: bool) -> None:
    assert client_id_allowed(user, client_id) is allowed
