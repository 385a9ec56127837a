"""Settings of escalation delivery, the `[notify]` section of the config file (pure)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ENV_SMTP_PASSWORD = "GATEHOUSE_SMTP_PASSWORD"  # noqa: S105 (a variable name, not a password)
"""Environment variable with the SMTP password; it wins over `smtp.password` in the file."""

ROLE = re.compile(r"[a-z0-9-]{1,64}")
ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+|[^@\s<>,;\"]+@localhost")
MAX_TARGET = 500


def check_address(value: str) -> str:
    """`value` if it looks like a plain e-mail address (`name@example.com`), else ValueError."""
    if len(value) > 254 or not ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address like name@example.com")
    return value


def check_webhook(value: str) -> str:
    """`value` if it is an http or https URL with a host, else ValueError."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host or len(value) > MAX_TARGET:
        raise ValueError(f"{value!r} is not an http(s) URL with a host (at most {MAX_TARGET} characters)")
    return value


class SmtpConfig(BaseModel):
    """How to reach the mail server that sends escalation e-mails."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="localhost", min_length=1, description="SMTP server host name or address.")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP port: 25, 587 (starttls), 465 (ssl).")
    username: str | None = Field(default=None, description="Login name; unset means no login.")
    password: SecretStr | None = Field(
        default=None, description=f"Login password; the environment's {ENV_SMTP_PASSWORD} wins over it."
    )
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS before login.")
    ssl: bool = Field(default=False, description="Connect with TLS from the start (SMTPS, usually port 465).")
    sender: str = Field(default="gatehouse@localhost", description="The From address of every e-mail.")
    timeout_s: float = Field(default=10.0, gt=0, description="Socket timeout of each SMTP operation.")

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return check_address(value)

    @model_validator(mode="after")
    def _one_tls(self) -> SmtpConfig:
        if self.ssl and self.starttls:
            raise ValueError("choose ssl (TLS from the start) or starttls (upgrade), not both")
        return self

    def login_password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The password to log in with: the environment's GATEHOUSE_SMTP_PASSWORD, else the file's."""
        env = os.environ if environ is None else environ
        from_env = env.get(ENV_SMTP_PASSWORD)
        if from_env:
            return from_env
        return self.password.get_secret_value() if self.password is not None else None


class RoleTargets(BaseModel):
    """Where one role (such as `supervisor`) is told about escalations."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    emails: list[str] = Field(default_factory=list, description="E-mail addresses of the role.")
    webhooks: list[str] = Field(default_factory=list, description="http(s) URLs to POST the JSON payload to.")

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [check_address(a) for a in value]

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, value: list[str]) -> list[str]:
        return [check_webhook(u) for u in value]


class HostTargets(BaseModel):
    """How hosts are told that their visitor checked in: their own e-mail, and webhooks for every arrival."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: bool = Field(default=True, description="E-mail the host at the address in the people directory.")
    webhooks: list[str] = Field(default_factory=list, description="http(s) URLs told of every arrival.")

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, value: list[str]) -> list[str]:
        return [check_webhook(u) for u in value]


class NotifyConfig(BaseModel):
    """Escalation delivery: the mail server, each role's targets, and the retry policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    smtp: SmtpConfig = Field(default_factory=SmtpConfig, description="The mail server.")
    roles: dict[str, RoleTargets] = Field(
        default_factory=dict, description="Targets per role name, as escalation steps name them."
    )
    hosts: HostTargets = Field(default_factory=HostTargets, description="Telling hosts of arrivals.")
    max_attempts: int = Field(default=8, ge=1, description="Tries per message before it is marked failed.")
    backoff_s: float = Field(default=5.0, gt=0, description="Wait after a first failure; doubles.")
    max_backoff_s: float = Field(default=600.0, gt=0, description="The longest wait between two tries.")
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="How long a webhook may take to answer.")

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: dict[str, RoleTargets]) -> dict[str, RoleTargets]:
        bad = [name for name in value if not ROLE.fullmatch(name)]
        if bad:
            raise ValueError(f"role names are 1 to 64 of a-z, 0-9 and '-', not {', '.join(map(repr, bad))}")
        return value

    def targets(self, role: str) -> RoleTargets:
        """The targets of `role` (none if the role is not configured)."""
        return self.roles.get(role) or RoleTargets()

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed try: backoff_s doubling, at most max_backoff_s."""
        exponent = min(max(attempts - 1, 0), 60)
        return float(min(self.backoff_s * 2**exponent, self.max_backoff_s))
