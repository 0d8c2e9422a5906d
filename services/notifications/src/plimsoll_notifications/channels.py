"""The channels' senders: e-mail over SMTP, and signed webhooks (Standard Webhooks).

* `SmtpSender` keeps a few SMTP sessions open (any relay: the local stack's aiosmtpd, or a
  production relay with STARTTLS and a login) and sends each message on a free one, opening a
  new session when one has failed. A refusal or a lost session is a failed try, with the
  server's reason.
* `WebhookSender` posts the payload signed with the subscription's secret by the
  `standardwebhooks` package: headers `webhook-id` (the notification id: the same on every
  retry, so the receiver drops duplicates by it), `webhook-timestamp` and `webhook-signature`.
  Before each try it checks the URL again (DNS may have changed since the subscription). A
  2xx answer is a delivery; anything else, a timeout or a refused connection is a failed try.
"""

from __future__ import annotations

import asyncio
import queue
import smtplib
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate

import httpx
from standardwebhooks import Webhook

from plimsoll_notifications.domain.delivery import UnsafeUrl, check_webhook_url


@dataclass(frozen=True)
class Tried:
    """How a try went: delivered (with the id the channel gave it), or failed with a reason."""

    delivered: bool
    reason: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    mail_from: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 10.0


class SmtpSender:
    """Sends e-mail over up to `connections` SMTP sessions, reused (see the module)."""

    def __init__(self, settings: SmtpSettings, connections: int = 4) -> None:
        self.settings = settings
        self.connections = connections
        self._idle: queue.LifoQueue[smtplib.SMTP | None] = queue.LifoQueue()
        for _ in range(connections):
            self._idle.put(None)  # opened on first use

    def message(
        self, *, to: str, subject: str, body: str, message_id: str, date: datetime
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message["Date"] = formatdate(date.timestamp(), usegmt=True)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
        return message

    def send(self, message: EmailMessage) -> Tried:
        """Blocking: one message on a free session."""
        session = self._idle.get()
        try:
            if session is None:
                session = self._open()
            session.send_message(message)
            return Tried(True)
        except (smtplib.SMTPException, OSError) as exc:
            _quit(session)
            session = None
            return Tried(False, f"SMTP {self.settings.host}:{self.settings.port}: {exc}")
        finally:
            self._idle.put(session)

    def close(self) -> None:
        while not self._idle.empty():
            _quit(self._idle.get_nowait())

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        session = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.starttls:
            session.starttls()
        if s.username and s.password:
            session.login(s.username, s.password)
        return session


def _quit(session: smtplib.SMTP | None) -> None:
    if session is None:
        return
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


async def resolve(host: str) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class WebhookSender:
    """Signed webhooks over one async HTTP client (see the module)."""

    def __init__(self, *, timeout_seconds: float, local_mode: bool) -> None:
        self.local_mode = local_mode
        self.client = httpx.AsyncClient(
            timeout=timeout_seconds,
            follow_redirects=False,  # a redirect could lead anywhere, past the URL check
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=500),
        )

    async def send(
        self, *, url: str, secret: str, message_id: str, payload: str, now: datetime
    ) -> Tried:
        try:
            addresses = await resolve(httpx.URL(url).host)
            check_webhook_url(url, lambda _host: addresses, local_mode=self.local_mode)
        except (UnsafeUrl, OSError, ValueError) as exc:
            return Tried(False, f"not sent: {exc}")
        timestamp = now.astimezone(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, timestamp, payload),
        }
        try:
            answer = await self.client.post(url, content=payload.encode(), headers=headers)
        except httpx.TimeoutException:
            return Tried(False, f"no answer from {url} in time")
        except httpx.HTTPError as exc:
            return Tried(False, f"{url}: {type(exc).__name__}: {exc}")
        if 200 <= answer.status_code < 300:
            return Tried(True)
        return Tried(False, f"HTTP {answer.status_code} from {url}")

    async def close(self) -> None:
        await self.client.aclose()
