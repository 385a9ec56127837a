"""Escalations into the notifications queue: one notification per distinct target of the notified roles.

The queue itself (enqueue, claim, mark) is `security.storage.notifications`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import Connection

from security.office.alarms import AlarmEscalated
from security.office.notify.config import NotifyConfig
from security.office.notify.messages import escalation_message
from security.storage.notifications import Channel, enqueue

log = logging.getLogger(__name__)

_unrouted: set[str] = set()
_unrouted_lock = threading.Lock()


def _warn_unrouted(role: str, alarm_id: str) -> None:
    with _unrouted_lock:
        first = role not in _unrouted
        _unrouted.add(role)
    if first:
        log.warning(
            "alarm %s escalated to role %r, which has no e-mail or webhook in [notify.roles]; "
            "nobody in that role is told (logged once per role)", alarm_id, role,
        )
    else:
        log.debug("alarm %s escalated to role %r, which has no targets", alarm_id, role)


def enqueue_escalation(
    conn: Connection, config: NotifyConfig, site: str, escalated: AlarmEscalated, now: datetime
) -> int:
    """Queue one notification per distinct target of the escalated roles; return how many were queued."""
    message = escalation_message(escalated.alarm, escalated.level, escalated.notify, site, escalated.at)
    seen: set[tuple[Channel, str]] = set()
    for role in escalated.notify:
        targets = config.targets(role)
        if not targets.emails and not targets.webhooks:
            _warn_unrouted(role, escalated.alarm_id)
        pairs = [(Channel.EMAIL, a) for a in targets.emails]
        pairs += [(Channel.WEBHOOK, u) for u in targets.webhooks]
        for channel, target in pairs:
            if (channel, target) in seen:
                continue  # one person in two notified roles gets one message
            seen.add((channel, target))
            enqueue(conn, channel=channel, target=target, subject=message.subject, body=message.body,
                    payload=message.payload, now=now, alarm_id=escalated.alarm_id)
    return len(seen)
