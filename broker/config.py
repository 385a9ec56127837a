"""Where to find the broker, the database and the data folder: CLI, environment, TOML, defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from broker import topics

EMBEDDED_PORT = 18830
ENV_MQTT = "GATEHOUSE_MQTT_URL"
ENV_DB = "GATEHOUSE_DB_URL"
ENV_DATA = "GATEHOUSE_DATA_DIR"
ENV_CONFIG = "GATEHOUSE_CONFIG"
SECTIONS = frozenset({"devices", "people", "broker", "access", "alarms", "notify", "retention", "digest",
                      "api", "kiosk", "ingest", "accounts"})
"""Sections of the TOML file that other parts read (the site's devices, the back office's settings)."""


class ConfigError(ValueError):
    """A setting that cannot be used; the text says which and why."""


@dataclass(slots=True, frozen=True)
class MqttUrl:
    """A parsed broker URL: `mqtt://user:pass@host:port?version=5&ca=/path/ca.pem`."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    version: int = 4
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        """Parse `url`; raise ConfigError naming what is wrong (never echoing the password)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ConfigError("MQTT URL has no host")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigError(f"MQTT URL port is invalid: {exc}") from None
        query = parse_qs(parts.query)
        version_text = query.get("version", ["4"])[0]
        if version_text not in ("4", "5"):
            raise ConfigError(f"MQTT version must be 4 (3.1.1) or 5, got {version_text!r}")
        version = int(version_text)
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            version=version,
            ca_file=query.get("ca", [None])[0],
        )

    def with_credentials(self, username: str, password: str) -> MqttUrl:
        """The same broker reached as another principal."""
        return MqttUrl(self.host, self.port, self.tls, username, password, self.version, self.ca_file)

    def redacted(self) -> str:
        """The URL without its password, fit for logs."""
        user = f"{self.username}:***@" if self.username else ""
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{user}{self.host}:{self.port}"


def redact_db(url: str) -> str:
    """A database URL without its password, fit for logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


class Settings(BaseModel):
    """Resolved settings of one Gatehouse process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str = Field(default="demo", description="Site name used in every topic.")
    data_dir: Path = Field(default=Path("data"), description="Folder for SQLite files, outboxes, secrets.")
    mqtt: str | None = Field(default=None, description="Broker URL; unset means the embedded broker.")
    db: str | None = Field(default=None, description="SQLAlchemy URL; unset means SQLite in data_dir.")

    @field_validator("site")
    @classmethod
    def _site_name(cls, value: str) -> str:
        try:
            return topics.check_name(value, "site")
        except topics.TopicError as exc:
            raise ValueError(str(exc)) from None

    @property
    def embedded(self) -> bool:
        """True when no broker URL was given, so the embedded broker is used."""
        return self.mqtt is None

    def mqtt_url(self) -> MqttUrl:
        """The broker to reach (the embedded one on loopback by default)."""
        return MqttUrl.parse(self.mqtt or f"mqtt://127.0.0.1:{EMBEDDED_PORT}")

    def db_url(self) -> str:
        """The SQLAlchemy URL of the central store."""
        return self.db or f"sqlite:///{(self.data_dir / 'gatehouse.db').resolve()}"


def read_toml(path: str | Path) -> dict[str, Any]:
    """The settings file at `path`, parsed; ConfigError when it is missing or not TOML."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load(
    *,
    config_file: str | None = None,
    mqtt: str | None = None,
    db: str | None = None,
    data_dir: str | None = None,
    site: str | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve settings: command-line values, then environment, then the TOML file, then defaults."""
    env = os.environ if environ is None else environ
    path = config_file or env.get(ENV_CONFIG)
    file_values: dict[str, Any] = read_toml(path) if path else {}
    values: dict[str, Any] = {k: v for k, v in file_values.items() if k in Settings.model_fields}
    unknown = set(file_values) - set(Settings.model_fields) - SECTIONS
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(sorted(unknown))}")
    for key, cli, env_key in (
        ("mqtt", mqtt, ENV_MQTT),
        ("db", db, ENV_DB),
        ("data_dir", data_dir, ENV_DATA),
        ("site", site, None),
    ):
        value = cli or (env.get(env_key) if env_key else None)
        if value:
            values[key] = value
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        where = f"config file {path}" if path else "settings"
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None
    settings.mqtt_url()  # fail early on a bad URL
    return settings

