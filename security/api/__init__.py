"""The back office's HTTP API: people, badges, rights, the muster list and alarms, behind bearer tokens."""

from security.api.core import MAX_BODY, AlarmActions, ApiError
from security.api.server import ROUTES, ApiServer

__all__ = ["MAX_BODY", "ROUTES", "AlarmActions", "ApiError", "ApiServer"]
