"""The webhook sender connects only to the address it checked: a host that resolves to a private
address when it is time to send is refused, and the connection goes to the checked address,
not to a second lookup (DNS rebinding): its pool's resolver knows only the pinned address. The
partner's host name is kept for Host and TLS."""

import asyncio
import ssl
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from plimsoll_notifications.channels import _PINNED, PinnedResolver, WebhookSender, resolve
from standardwebhooks import Webhook

from .certs import self_signed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def fixed(*addresses: str):
    calls: list[str] = []

    async def resolver(host: str) -> Sequence[str]:
        calls.append(host)
        return list(addresses)

    return resolver, calls


async def _send(sender: WebhookSender, url: str, now: datetime = NOW):
    try:
        return await sender.send(
            url=url, secret=SECRET, message_id="N-1", payload='{"type":"t"}', now=now
        )
    finally:
        await sender.close()


def test_a_host_that_resolves_to_a_private_address_when_sending_is_refused_unconnected():
    resolver, calls = fixed("10.0.0.7")
    sender = WebhookSender(timeout_seconds=2, local_mode=False, resolver=resolver)
    tried = asyncio.run(_send(sender, "https://partner.example/hooks"))
    assert not tried.delivered
    assert tried.reason.startswith("not sent:")
    assert "10.0.0.7" in tried.reason
    assert calls == ["partner.example"]


def test_the_pool_resolves_a_name_only_to_the_address_pinned_for_it():
    async def resolve(pins: dict[str, str] | None) -> list:
        token = _PINNED.set(pins)
        try:
            return await PinnedResolver().resolve("partner.example", 8443)
        finally:
            _PINNED.reset(token)

    [found] = asyncio.run(resolve({"partner.example": "93.184.216.34"}))
    assert (found["host"], found["port"], found["hostname"]) == (
        "93.184.216.34",
        8443,
        "partner.example",
    )
    for pins in (None, {"other.example": "93.184.216.34"}):
        with pytest.raises(OSError, match=r"no checked address for 'partner\.example'"):
            asyncio.run(resolve(pins))


def test_a_delivery_reaches_the_checked_address_with_the_partners_host_name():
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            seen.append(self.headers["host"])
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        # A name no DNS knows: only the pinned address can have been connected to.
        resolver, calls = fixed("127.0.0.1")
        sender = WebhookSender(timeout_seconds=5, local_mode=True, resolver=resolver)
        tried = asyncio.run(_send(sender, f"http://partner.invalid:{port}/hooks"))
    finally:
        server.shutdown()
        server.server_close()
    assert tried.delivered, tried.reason
    assert seen == [f"partner.invalid:{port}"]
    assert calls == ["partner.invalid"], "resolved once, by the check"


class HttpsPartner:
    """A partner's HTTPS receiver on loopback presenting `cert_file`, verifying each webhook
    as the receivers' documentation says (`standardwebhooks`, the shared secret)."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.received: list[dict[str, Any]] = []
        self.server_names: list[str | None] = []
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert_file, key_file)
        tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                verified = Webhook(SECRET).verify(body, dict(self.headers.items()))
                partner.received.append({"host": self.headers["host"], "payload": verified})
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_https_delivery_is_verified_by_the_partner_under_its_own_name(tmp_path):
    cert_file, key_file = self_signed(tmp_path, "hooks.partner.test")
    partner = HttpsPartner(cert_file, key_file)
    # The name resolves (for this test) to loopback; TLS checks the certificate for the name.
    resolver, _ = fixed("127.0.0.1")
    url = f"https://hooks.partner.test:{partner.port}/plimsoll"
    try:
        trusting = WebhookSender(
            timeout_seconds=5,
            local_mode=True,
            resolver=resolver,
            ssl_context=ssl.create_default_context(cafile=str(cert_file)),
        )
        # Now: the receiver refuses a timestamp more than five minutes away (replays).
        delivered = asyncio.run(_send(trusting, url, datetime.now(UTC)))
        # With the public CAs only, the partner's self-signed certificate is refused.
        public = WebhookSender(timeout_seconds=5, local_mode=True, resolver=resolver)
        refused = asyncio.run(_send(public, url, datetime.now(UTC)))
    finally:
        partner.close()
    assert delivered.delivered, delivered.reason
    assert partner.received == [
        {"host": f"hooks.partner.test:{partner.port}", "payload": {"type": "t"}}
    ]
    assert partner.server_names[0] == "hooks.partner.test"
    assert not refused.delivered
    assert "CERTIFICATE_VERIFY_FAILED" in refused.reason
    assert len(partner.received) == 1


def test_an_address_in_the_url_is_its_own_resolution_and_a_name_is_looked_up():
    assert asyncio.run(resolve("127.0.0.1")) == ["127.0.0.1"]
    assert asyncio.run(resolve("::1")) == ["::1"]
    assert "127.0.0.1" in asyncio.run(resolve("localhost"))
