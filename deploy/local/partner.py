"""A partner system, as the story runs one: it subscribes to Plimsoll's webhooks and receives
them on loopback, verifying each as docs/WEBHOOKS.md tells partners to (the Standard Webhooks
library, with the secret given once at subscription).

The story subscribes it before the chapters run (`demo.py`), so that the declaration of the
wellbeing chapter and the breach of the duty-of-care chapter reach it; the notifications
chapter reads what it received.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from story import Api, Json

PARTNER = "Listing office (the story's receiver)"
EVENT_TYPES = ("workload-declared", "declaration-escalated", "breach-opened")


class Partner:
    """A webhook receiver on a loopback port, and its subscription."""

    def __init__(self) -> None:
        self._received: list[tuple[bytes, dict[str, str]]] = []
        self._lock = threading.Lock()
        received, lock = self._received, self._lock

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # the story prints what matters
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/plimsoll"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.secret = ""
        self.subscription_id = ""

    def subscribe(self, notifications: Api) -> None:
        """ada.admin registers this partner; the answer carries the signing secret, once."""
        subscribed = notifications.call(
            "ada.admin",
            "POST",
            "/webhooks",
            201,
            json={"partner": PARTNER, "url": self.url, "event_types": list(EVENT_TYPES)},
        ).json()
        self.secret, self.subscription_id = subscribed["secret"], subscribed["subscription_id"]

    def received(self) -> list[tuple[bytes, dict[str, str]]]:
        with self._lock:
            return list(self._received)

    def verified(self, body: bytes, headers: dict[str, str]) -> Json:
        """The webhook's payload, once its signature and timestamp are checked (raises
        `standardwebhooks.WebhookVerificationError` otherwise)."""
        payload: Json = Webhook(self.secret).verify(body, headers)
        return payload

    def about(self, key: str, value: str) -> list[tuple[bytes, dict[str, str]]]:
        """The webhooks received whose identifiers give `key` as `value` (unverified yet)."""
        return [
            (body, headers)
            for body, headers in self.received()
            if json.loads(body).get("data", {}).get("identifiers", {}).get(key) == value
        ]

    def close(self, notifications: Api) -> None:
        if self.subscription_id:
            notifications.ask("ada.admin", "DELETE", f"/webhooks/{self.subscription_id}")
        self._server.shutdown()
        self._server.server_close()
