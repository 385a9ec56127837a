"""What every typed body of the HTTP API shares: the base model, its time type, list helpers (pure).

The service builds its answers from these models and a client (the kiosk) reads them with the same
models, so neither guesses the other's key names. `dump()` gives the JSON document exactly as the API
sends it: every field, in order, null where there is no value; times as ISO 8601 with their offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
)

from broker.events import parse_time
from broker.safe_text import escape


def _moment(value: object) -> object:
    """A time from JSON: RFC 3339 with a zone (checked by the contract's parser), its offset kept."""
    if not isinstance(value, str):
        return value
    moment = parse_time(value, "time")  # in UTC: the offset sent is kept where Python can read it
    try:
        return dt.datetime.fromisoformat(value.upper())
    except ValueError:  # a leap second
        return moment


_ISO = PlainSerializer(dt.datetime.isoformat, when_used="json")
Time = Annotated[dt.datetime, BeforeValidator(_moment), _ISO]
"""An aware time, written as `datetime.isoformat()` (the offset kept: `2026-11-22T09:00:00+00:00`)."""


class Body(BaseModel):
    """Base of every API body: immutable; fields a newer service adds are ignored by an older client."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def dump(self) -> dict[str, Any]:
        """The JSON document of this body."""
        return self.model_dump(mode="json")

    @classmethod
    def read(cls, doc: Any) -> Self:
        """This body from parsed JSON; ValueError (pydantic's ValidationError) if it does not fit."""
        return cls.model_validate(doc)


B = TypeVar("B", bound=Body)


def read_list(model: type[B], doc: Any) -> list[B]:
    """A JSON list of `model` bodies; ValueError if it is not one."""
    try:
        return TypeAdapter(list[model]).validate_python(doc)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise ValueError(f"expected a list of {model.__name__}: {exc}") from None


def dump_list(bodies: list[B]) -> list[dict[str, Any]]:
    """The JSON list of `bodies`."""
    return [b.dump() for b in bodies]


_SAID = {
    "missing": "required",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "dict_type": "must be an object",
    "datetime_type": "must be an RFC 3339 time with a zone, as a string",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "extra_forbidden": "unknown field",
    "finite_number": "must be a finite number",
}
"""The house words for pydantic's commonest complaints (the others keep pydantic's message)."""


def _where(loc: tuple[int | str, ...]) -> str:
    """A field's place as a client wrote it: `schedule.windows[0][1]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return escape(text)


def _said(err: Any) -> str:
    """One complaint in words: the house phrase, a limit, or the validator's own message."""
    kind, ctx = err["type"], err.get("ctx") or {}
    limits = {
        "less_than_equal": lambda: f"at most {ctx['le']:g}, got {err['input']!r}",
        "greater_than": lambda: f"more than {ctx['gt']:g}, got {err['input']!r}",
        "string_too_long": lambda: f"at most {ctx['max_length']} characters",
        "too_long": lambda: f"at most {ctx['max_length']} items",
    }
    if kind in _SAID:
        return _SAID[kind]
    if kind in limits:
        return limits[kind]()
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(err["msg"])


def words(errors: Iterable[Any]) -> str:
    """pydantic's error list in one line, each naming its field: `title: required; note: must be a string`."""
    parts = []
    for err in errors:
        where = _where(tuple(err["loc"]))
        parts.append(f"{where}: {_said(err)}" if where else _said(err))
    return "; ".join(parts)


def explain(exc: ValidationError) -> str:
    """A refused body's faults in one line (see `words`)."""
    return words(exc.errors(include_url=False))
