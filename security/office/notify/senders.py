"""Deliver one message: an e-mail through SMTP, or a JSON POST to a webhook; failures raise DeliveryError."""

from __future__ import annotations

import base64
import http.client
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from security.office.notify.config import SmtpConfig, check_webhook
from security.office.notify.messages import Attachment, one_line

USER_AGENT = "gatehouse-notify/1"


class DeliveryError(Exception):
    """A message could not be delivered; the text says what happened."""


def shown_url(url: str) -> str:
    """`url` without user, password and query string, fit for logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _without_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """`url` without `user:password@`, and the Basic authorization header it stood for (if any)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.netloc.rsplit("@", 1)[1]
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), header


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        shown = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"server answered {exc.smtp_code} {one_line(shown)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"recipient refused: {', '.join(exc.recipients)}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return one_line(str(exc)) or type(exc).__name__


def send_email(
    smtp: SmtpConfig, to: str, subject: str, body: str, *, html: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> None:
    """Send an e-mail to `to`: plain text, an HTML alternative and text files if given; TLS, login as set."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = one_line(subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        subtype = attachment.content_type.split("/", 1)[1]
        message.add_attachment(attachment.text, subtype=subtype, filename=attachment.filename)
    password = smtp.login_password()
    if smtp.username and password is None:
        raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: username set but no password (smtp.password "
                            "or GATEHOUSE_SMTP_PASSWORD)")
    context = ssl.create_default_context()
    try:
        if smtp.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            if smtp.starttls:
                client.starttls(context=context)
            if smtp.username and password is not None:
                client.login(smtp.username, password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: {_reason(exc)}") from exc


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer the webhook did not mean: report it instead of following it as a GET."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        """Follow no redirect: urllib then raises HTTPError with the 3xx status."""


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_webhook(url: str, payload: Mapping[str, Any], timeout: float) -> None:
    """POST `payload` as JSON to `url` (`user:password@` becomes Basic auth); anything but 2xx raises."""
    shown = shown_url(url)
    try:
        check_webhook(url)
    except ValueError as exc:
        raise DeliveryError(str(exc)) from None
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    plain_url, auth = _without_userinfo(url)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **auth}
    request = urllib.request.Request(plain_url, data=data, headers=headers, method="POST")  # noqa: S310 (http(s) only, checked)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryError(f"HTTP {exc.code} from {shown}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, BaseException) else OSError(str(exc.reason))
        raise DeliveryError(f"cannot reach {shown}: {_reason(reason)}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"no usable answer from {shown} within {timeout:g} s: {_reason(exc)}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status} from {shown}")
