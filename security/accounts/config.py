"""The `[accounts]` section of the settings file: session lifetimes and login throttling (pure)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from security.accounts.sessions import SessionPolicy, SessionPolicyError
from security.accounts.throttle import PER_ACCOUNT, PER_SOURCE, Bucket, LoginThrottle


class AccountsSection(BaseModel):
    """`[accounts]`: how long console sessions live and how failed logins are slowed down."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    session_idle_minutes: float = Field(default=30, ge=1, description="A session ends after this long "
                                        "without a request.")
    session_hours: float = Field(default=12, gt=0, le=30 * 24, description="A session ends this long "
                                 "after login, busy or not.")
    failures_per_account: int = Field(default=PER_ACCOUNT.burst, ge=1, le=1000,
                                      description="Failed logins on one account before it is throttled.")
    account_refill_s: float = Field(default=PER_ACCOUNT.refill_s, gt=0, le=86_400,
                                    description="Seconds for one more attempt on a throttled account.")
    failures_per_address: int = Field(default=PER_SOURCE.burst, ge=1, le=1000,
                                      description="Failed logins from one address (IPv6: one /64) before "
                                      "it is throttled.")
    address_refill_s: float = Field(default=PER_SOURCE.refill_s, gt=0, le=86_400,
                                    description="Seconds for one more attempt from a throttled address.")

    @model_validator(mode="after")
    def _lifetimes_in_order(self) -> AccountsSection:
        """Refuse an idle timeout longer than the whole session."""
        self.policy()
        return self

    def policy(self) -> SessionPolicy:
        """The session lifetimes as the session rules take them; ValueError when out of order."""
        try:
            return SessionPolicy(idle=timedelta(minutes=self.session_idle_minutes),
                                 absolute=timedelta(hours=self.session_hours))
        except SessionPolicyError as exc:
            raise ValueError(str(exc)) from None

    def throttle(self, clock: Callable[[], float] = time.monotonic) -> LoginThrottle:
        """A login throttle with these limits."""
        return LoginThrottle(clock, account=Bucket(self.failures_per_account, self.account_refill_s),
                             source=Bucket(self.failures_per_address, self.address_refill_s))
