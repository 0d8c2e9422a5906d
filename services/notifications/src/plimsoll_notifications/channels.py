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
  pool's resolver (`PinnedResolver`) knows only the address the check pinned for that host
  name, so DNS rebinding (public when checked, private when connecting) cannot lead it into
  a private network. The URL keeps the host name, so `Host`, TLS SNI
  and the certificate check are the partner's name. A 2xx answer is a delivery; anything
  else, a timeout or a refused connection is a failed try.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import queue
import smtplib
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import cast

import aiohttp
import certifi
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
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
        name, self._envelope_from = parseaddr(settings.mail_from)
        self._from = formataddr((name, self._envelope_from), charset="utf-8")
        self._idle: queue.LifoQueue[smtplib.SMTP | None] = queue.LifoQueue()
        for _ in range(connections):
            self._idle.put(None)  # opened on first use

    def message(self, *, to: str, subject: str, body: str, message_id: str, date: datetime) -> Mail:
        # The legacy (compat32) API: a sixth of the modern one's CPU, which re-parses every
        # header it is given. Headers and body are encoded only when they are not plain ASCII.
        # MIMEText takes a Charset as well as its name (typeshed says only the name).
        message = MIMEText(body, "plain", "us-ascii" if body.isascii() else cast(str, _UTF8))
        message["From"] = self._from
        message["To"] = to
        message["Subject"] = _header(subject)
        message["Message-ID"] = message_id
        message["Date"] = formatdate(date.timestamp(), usegmt=True)
        message["Auto-Submitted"] = "auto-generated"
        return Mail(to, message.as_bytes())

    def send(self, mail: Mail) -> Tried:
        """Blocking: one message on a free session."""
        session = self._idle.get()
        try:
            if session is None:
                session = self._open()
            session.sendmail(self._envelope_from, [mail.to], mail.data)
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


@dataclass(frozen=True)
class Mail:
    """A message ready to send: its recipient and its bytes."""

    to: str
    data: bytes


_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in the raw maildir, unlike base64


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, _UTF8).encode()


def _quit(session: smtplib.SMTP | None) -> None:
    if session is None:
        return
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


async def resolve(host: str) -> Sequence[str]:
    with contextlib.suppress(ValueError):
        return [str(ipaddress.ip_address(host))]  # an address already: no lookup, no thread
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


AsyncResolver = Callable[[str], Awaitable[Sequence[str]]]
_PINNED: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "webhook_pinned_addresses", default=None
)


class PinnedResolver(AbstractResolver):
    """The connection pool's DNS: a host name resolves only to the address `WebhookSender.send`
    checked and pinned for it (for the current task); any other name resolves to nothing."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = (_PINNED.get() or {}).get(host)
        if address is None:
            raise OSError(f"no checked address for {host!r}: not connecting")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
        ]

    async def close(self) -> None:
        pass


class WebhookSender:
    """Signed webhooks over one aiohttp connection pool, opened on first use (see the module).

    The pool has no limit of its own: each partner's lane in the dispatcher bounds how many
    of its webhooks are in flight, so a slow partner's connections never queue another's."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        local_mode: bool,
        resolver: AsyncResolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context`: whom partners' certificates may be signed by (default: the public
        CAs of `certifi`, never the environment's)."""
        self.local_mode = local_mode
        self.resolver = resolver
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=PinnedResolver(),
                use_dns_cache=False,  # every connection asks the pin of its own task
                limit=0,
                ssl=self.ssl_context,
                keepalive_timeout=5.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                trust_env=False,  # no proxy from the environment: it would resolve the host
                auto_decompress=False,
            )
        return self._session

    async def send(
        self, *, url: str, secret: str, message_id: str, payload: str, now: datetime
    ) -> Tried:
        try:
            host = yarl.URL(url).host or ""
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
            # A redirect could lead anywhere, past the URL check: it is an answer, not followed.
            async with self._client().post(
                url, data=payload.encode(), headers=headers, allow_redirects=False
            ) as answer:
                status = answer.status
        except TimeoutError:
            return Tried(False, f"no answer from {url} in time")
        except aiohttp.ClientError as exc:
            return Tried(False, f"{url}: {type(exc).__name__}: {exc}")
        finally:
            _PINNED.reset(pinned)
        if 200 <= status < 300:
            return Tried(True)
        return Tried(False, f"HTTP {status} from {url}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
