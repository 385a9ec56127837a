"""Escalation delivery: a durable queue of e-mails and webhooks, and the thread that sends them."""

from security.office.notify.config import ENV_SMTP_PASSWORD, NotifyConfig, RoleTargets, SmtpConfig
from security.office.notify.messages import Message, escalation_message
from security.office.notify.queue import (
    Channel,
    Notification,
    NotificationState,
    due,
    enqueue,
    enqueue_escalation,
    list_notifications,
    mark_failed,
    mark_retry,
    mark_sent,
)
from security.office.notify.senders import DeliveryError, post_webhook, send_email
from security.office.notify.worker import Notifier

__all__ = [
    "ENV_SMTP_PASSWORD",
    "Channel",
    "DeliveryError",
    "Message",
    "Notification",
    "NotificationState",
    "Notifier",
    "NotifyConfig",
    "RoleTargets",
    "SmtpConfig",
    "due",
    "enqueue",
    "enqueue_escalation",
    "escalation_message",
    "list_notifications",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "post_webhook",
    "send_email",
]
