"""Typed, validated `args` of every command in the contract, by command name (pure)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import PurePosixPath
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from broker.events import ContractError
from broker.schemas import MAX_UNLOCK_S, UnlockSeconds

_Line = Annotated[str, Field(max_length=200)]


class Args(BaseModel):
    """Base of every command's `args`: immutable, unknown fields refused; `NAME` is the command's name."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    NAME: ClassVar[str]

    @classmethod
    def from_wire(cls, args: Any) -> Self:
        """These args from the wire's `args` object; ContractError if it does not fit."""
        if not isinstance(args, dict):
            raise ContractError("command args must be an object")
        try:
            return cls.model_validate(args)
        except ValidationError as exc:
            why = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors())
            raise ContractError(f"{cls.NAME} args do not fit {cls.__name__}: {why}") from None

    def wire(self) -> dict[str, Any]:
        """The `args` object on the wire (fields left at their default are left out)."""
        return self.model_dump(mode="json", exclude_defaults=True)


class UnlockArgs(Args):
    """Unlock a door for `seconds` (its own default when left out) or until `until` (not ended by passing)."""

    # how far ahead `until` may be (MAX_UNLOCK_UNTIL_S) needs a clock: the sender and the door judge it

    NAME: ClassVar[str] = "unlock"
    seconds: UnlockSeconds | None = None
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.seconds is not None and self.until is not None:
            raise ValueError("unlock takes seconds or until, not both")
        return self

    @field_validator("seconds", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"unlock seconds must be a number, got {value!r}")
        if not 0 < value <= MAX_UNLOCK_S:
            raise ValueError(f"unlock seconds must be in (0, {MAX_UNLOCK_S:g}], got {value!r}")
        return float(value)


class PrintArgs(Args):
    """Print a visitor's badge: the texts on it, the day (the printer's today when left out), a photo file."""

    NAME: ClassVar[str] = "print"
    visitor_name: Annotated[str, Field(min_length=1, max_length=200)]
    visit_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
    host: _Line = ""
    company: _Line = ""
    qr: _Line = ""
    date: dt.date | None = None
    photo: str | None = None

    @field_validator("visitor_name", "visit_id", "host", "company", "qr", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if not isinstance(value, str) or len(value) > 200:
            raise ValueError("must be a string of at most 200 characters")
        return value.strip()

    @field_validator("date", mode="before")
    @classmethod
    def _day(cls, value: object) -> object:
        if value is None or isinstance(value, dt.date):
            return value
        try:
            if isinstance(value, str):
                return dt.date.fromisoformat(value)
        except ValueError:
            pass
        raise ValueError(f"print date {value!r} is not YYYY-MM-DD")

    @field_validator("photo", mode="before")
    @classmethod
    def _file_name(cls, value: object) -> object:
        if value is None:
            return None
        if (not isinstance(value, str) or not value or "\\" in value or value.startswith(".")
                or PurePosixPath(value).name != value):
            raise ValueError(f"print photo must be a plain file name, got {value!r}")
        return value


class ScheduleArgs(Args):
    """Put a door back on its schedule: end any unlock now (a door's schedule is its badges' rights)."""

    NAME: ClassVar[str] = "schedule"


class LockArgs(Args):
    """Lock a door now; with `lockdown`, also refuse every unlock (badge grants too) until a `release`."""

    NAME: ClassVar[str] = "lock"
    lockdown: StrictBool = False


class ReleaseArgs(Args):
    """End a door's lockdown: it stays locked, and grants open it again."""

    NAME: ClassVar[str] = "release"


COMMAND_ARGS: dict[str, type[Args]] = {
    model.NAME: model for model in (UnlockArgs, ScheduleArgs, LockArgs, ReleaseArgs, PrintArgs)
}
"""The args schema of each command name."""


def parse_args(name: str, args: Any) -> Args:
    """The typed args of command `name`; ContractError for an unknown command or args that do not fit."""
    model = COMMAND_ARGS.get(name)
    if model is None:
        raise ContractError(f"unknown command {name!r} (known: {', '.join(sorted(COMMAND_ARGS))})")
    return model.from_wire(args)
