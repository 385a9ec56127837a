"""Escalation delivery: what to queue (in `security.storage.notifications`) and the thread that sends it."""

from security.office.notify.config import ENV_SMTP_PASSWORD, NotifyConfig, RoleTargets, SmtpConfig
from security.office.notify.messages import Message, escalation_message
from security.office.notify.queue import enqueue_escalation
from security.office.notify.senders import DeliveryError, post_webhook, send_email
from security.office.notify.worker import Notifier

__all__ = [
    "ENV_SMTP_PASSWORD",
    "DeliveryError",
    "Message",
    "Notifier",
    "NotifyConfig",
    "RoleTargets",
    "SmtpConfig",
    "enqueue_escalation",
    "escalation_message",
    "post_webhook",
    "send_email",
]
