"""What `gatehouse broker` and `gatehouse broker mosquitto-config` do, without argument parsing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from broker.acl import (
    MosquittoTls,
    amqtt_anonymous_config,
    amqtt_config,
    amqtt_password_file,
    mosquitto_files,
)
from broker.amqtt_server import serve_config
from broker.config import MqttUrl, Settings
from broker.credentials import CREDENTIALS_FILE, CredentialStore, Principal, Role, write_private_file
from broker.embedded import BrokerError, check_port_free

log = logging.getLogger(__name__)

DEFAULT_PRINCIPALS: tuple[tuple[str, Role], ...] = (
    ("central", Role.SERVICE),
    ("station-1", Role.STATION),
    ("kiosk-1", Role.KIOSK),
    ("reader-1", Role.READER),
)


def credential_store(settings: Settings) -> CredentialStore:
    """The credential store of this installation: `{data_dir}/credentials.json`."""
    return CredentialStore(settings.data_dir / CREDENTIALS_FILE)


def ensure_default_principals(store: CredentialStore) -> list[Principal]:
    """Create the demo principals that are missing; return every principal in the store."""
    for name, role in DEFAULT_PRINCIPALS:
        store.ensure(name, role)
    return store.principals()


def client_url(settings: Settings, name: str, role: Role) -> MqttUrl:
    """The broker URL principal `name` connects with.

    Credentials in the configured URL win. Otherwise its own come from the credential store:
    created on first use for the embedded broker (which learns new principals only when it
    restarts), used if present for another broker, else the URL goes without credentials.
    """
    url = settings.mqtt_url()
    if url.username:
        return url
    store = credential_store(settings)
    known = store.get(name)
    if known is None and settings.embedded:
        known = store.ensure(name, role)
        log.warning("new MQTT principal %s: restart the embedded broker so it knows it", name)
    elif known is not None and known.role is not role:
        known = store.ensure(name, role)  # a legacy `device` learns its kind; a clash is refused
    return url if known is None else url.with_credentials(known.name, known.password)


def serve(settings: Settings, *, anonymous: bool = False) -> int:
    """Run the embedded broker in this process until SIGTERM/SIGINT; return an exit code.

    It binds the host and port of `settings.mqtt_url()` (127.0.0.1:18830 by default) and,
    unless `anonymous`, requires the passwords and enforces the ACLs of the credential store.
    """
    url = settings.mqtt_url()
    try:
        check_port_free(url.host, url.port)
    except BrokerError as exc:
        log.error("%s", exc)
        return 1
    if anonymous:
        config = amqtt_anonymous_config(url.host, url.port)
        log.warning("embedded broker allows anonymous access with no ACL: local tests only")
    else:
        store = credential_store(settings)
        principals = ensure_default_principals(store)
        password_file = settings.data_dir / "broker" / "amqtt.passwd"
        write_private_file(password_file, amqtt_password_file(principals))
        config = amqtt_config(
            url.host, url.port, settings.site, principals, str(password_file.resolve())
        )
        log.info(
            "site %s: %d MQTT principals (%s); passwords in %s",
            settings.site,
            len(principals),
            ", ".join(p.name for p in principals),
            store.path,
        )
    log.info("embedded broker on %s", url.redacted())
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve_config(config))
    return 0


def write_mosquitto_config(
    settings: Settings,
    out_dir: Path,
    *,
    port: int = 1883,
    bind: str = "127.0.0.1",
    tls: MosquittoTls | None = None,
    persistence_location: str | None = None,
    user: str | None = None,
) -> list[Path]:
    """Write mosquitto.conf, passwd and acl for this site into `out_dir`; return their paths.

    The files name each other by the absolute path of `out_dir`, so install them there.
    Mosquitto persists under `{data_dir}/mosquitto/` unless `persistence_location` says otherwise.
    `passwd` and `acl` are written 0600: Mosquitto started as root reads them only after it
    has dropped to its own user, so `chown mosquitto` them (or set `user`).
    """
    principals = ensure_default_principals(credential_store(settings))
    config_dir = out_dir.resolve()
    if persistence_location is None:
        persistence_location = str((settings.data_dir / "mosquitto").resolve())
    if tls is not None:
        tls = MosquittoTls(str(Path(tls.cert).resolve()), str(Path(tls.key).resolve()),
                           str(Path(tls.ca).resolve()) if tls.ca else None, tls.port)
        for given in (tls.cert, tls.key, tls.ca):
            if given and not Path(given).is_file():
                raise BrokerError(f"TLS file {given} does not exist")
    files = mosquitto_files(
        settings.site,
        principals,
        port,
        config_dir=str(config_dir),
        bind=bind,
        tls=tls,
        persistence_location=persistence_location,
        user=user,
    )
    Path(persistence_location).mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for name, text in files.items():
        target = config_dir / name
        write_private_file(target, text)
        written.append(target)
    log.info(
        "wrote Mosquitto configuration for site %s (%d principals) to %s; listening on %s:%d%s",
        settings.site,
        len(principals),
        config_dir,
        "127.0.0.1" if tls else bind,
        port,
        f" and TLS on {bind}:{tls.port}" if tls else " (no TLS: give --tls-cert and --tls-key)",
    )
    return written
