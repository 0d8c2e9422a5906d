"""The channels' senders: e-mail over SMTP, and signed webhooks (Standard Webhooks).

* `SmtpSender` keeps a few SMTP sessions open (any relay: the local stack's aiosmtpd, or a
  production relay with STARTTLS and a login) and sends each message on a free one, opening a
  new session when one has failed. A refusal or a lost session is a failed try, with the
  server's reason. STARTTLS verifies the relay's certificate and name (smtplib's own default
  context checks neither), so the login and the messages never go to whoever answers.
* `WebhookSender` posts the payload signed with the subscription's secret by the
  `standardwebhooks` package: headers `webhook-id` (the notification id: the same on every
  retry, so the receiver drops duplicates by it), `webhook-timestamp` and `webhook-signature`.
  Before each try it checks the URL again (DNS may have changed since the subscription), and
  it connects to an address it checked, never to what a second lookup says: its connection
  pool's network backend (`PinnedBackend`) opens a connection only to the address the check
  pinned for that host name, so DNS rebinding (public when checked, private when connecting)
  cannot lead it into a private network. The URL keeps the host name, so `Host`, TLS SNI
  and the certificate check are the partner's name. A 2xx answer is a delivery; anything
  else, a timeout or a refused connection is a failed try.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import smtplib
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpcore
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
    ca_file: str | None = None
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
            session.starttls(context=ssl.create_default_context(cafile=s.ca_file))
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


AsyncResolver = Callable[[str], Awaitable[Sequence[str]]]
_PINNED: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "webhook_pinned_addresses", default=None
)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects a host name only to the address pinned for it (by `WebhookSender.send`, for
    the current task); refuses any host nothing was pinned for, and Unix sockets."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = (_PINNED.get() or {}).get(host)
        if address is None:
            raise httpcore.ConnectError(f"no checked address for {host!r}: not connecting")
        return await self.inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never go to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class WebhookSender:
    """Signed webhooks over one async HTTP client (see the module)."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        local_mode: bool,
        resolver: AsyncResolver = resolve,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context`: whom partners' certificates may be signed by (default: the public
        CAs of `certifi`, never the environment's)."""
        self.local_mode = local_mode
        self.resolver = resolver
        transport = httpx.AsyncHTTPTransport(trust_env=False)
        # httpx does not take a network backend: its pool is replaced by one that has ours.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=None,
            max_keepalive_connections=500,
            keepalive_expiry=5.0,
            network_backend=PinnedBackend(network_backend),
        )
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_seconds,
            follow_redirects=False,  # a redirect could lead anywhere, past the URL check
            trust_env=False,  # no proxy from the environment: it would resolve the host itself
        )

    async def send(
        self, *, url: str, secret: str, message_id: str, payload: str, now: datetime
    ) -> Tried:
        try:
            host = httpx.URL(url).host
            addresses = await self.resolver(host)
            check_webhook_url(url, lambda _host: addresses, local_mode=self.local_mode)
        except (UnsafeUrl, OSError, ValueError) as exc:
            return Tried(False, f"not sent: {exc}")
        pinned = _PINNED.set({host: addresses[0].split("%")[0]})
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
        finally:
            _PINNED.reset(pinned)
        if 200 <= answer.status_code < 300:
            return Tried(True)
        return Tried(False, f"HTTP {answer.status_code} from {url}")

    async def close(self) -> None:
        await self.client.aclose()
