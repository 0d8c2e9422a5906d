"""Three partners' webhook receivers, and an SMTP server, each in a process of its own as real
partners and relays are (not sharing the benchmarked process's interpreter). `fast` answers
at once, `slow` after `--slow-seconds`, `failing` always 503. Each verifies every signature
with the `standardwebhooks` package and counts what it received by `webhook-id`.

`python -m bench.partners --port N --slow-seconds S`; then `PUT /_secrets` (JSON: partner to
secret) once the subscriptions exist, and `GET /_counts` for what each partner saw.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

NAMES = ("fast", "slow", "failing")


@dataclass
class Partner:
    secret: str = ""
    ids: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    forged: int = 0


def serve(port: int, slow_seconds: float) -> None:
    partners = {name: Partner() for name in NAMES}

    async def receive(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        partner = partners[name]
        body = await request.read()
        partner.attempts += 1
        if name == "slow":
            await asyncio.sleep(slow_seconds)
        if name == "failing":
            return web.Response(status=503)
        try:
            Webhook(partner.secret).verify(body, dict(request.headers), json_parse=False)
        except WebhookVerificationError:
            partner.forged += 1
            return web.Response(status=400)
        partner.ids[request.headers["webhook-id"]] += 1
        return web.Response(status=204)

    async def secrets(request: web.Request) -> web.Response:
        for name, secret in (await request.json()).items():
            partners[name].secret = secret
        return web.Response(status=204)

    async def counts(_: web.Request) -> web.Response:
        return web.json_response(
            {
                name: {"ids": dict(p.ids), "attempts": p.attempts, "forged": p.forged}
                for name, p in partners.items()
            }
        )

    app = web.Application()
    app.router.add_put("/_secrets", secrets)
    app.router.add_get("/_counts", counts)
    app.router.add_post("/{name}", receive)
    web.run_app(app, host="127.0.0.1", port=port, backlog=4096, print=None, access_log=None)


class _Process:
    """A helper process started for a benchmark, ready once `ready` stops raising."""

    def __init__(self, command: list[str], ready: Callable[[], object], what: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", *command])
        deadline = time.monotonic() + 30
        while True:
            try:
                ready()
                return
            except (OSError, smtplib.SMTPException, httpx.HTTPError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise RuntimeError(f"{what} did not start") from None
                time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class SmtpServer(_Process):
    """aiosmtpd keeping every message in `maildir` (created by its handler if missing), as the
    local stack runs it."""

    def __init__(self, port: int, maildir: Path) -> None:
        self.port = port
        listen = ["--nosetuid", "--listen", f"127.0.0.1:{port}"]
        handler = ["--class", "aiosmtpd.handlers.Mailbox", str(maildir)]
        super().__init__(["aiosmtpd", *listen, *handler], self._noop, "the SMTP server")

    def _noop(self) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=1) as client:
            client.noop()


class Partners(_Process):
    """The receivers' process, from the benchmark's side."""

    def __init__(self, port: int, slow_seconds: float) -> None:
        self.port = port
        command = ["bench.partners", "--port", str(port), "--slow-seconds", str(slow_seconds)]
        super().__init__(command, self.counts, "the partners' receivers")

    @property
    def _base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self._base}/{name}"

    def set_secrets(self, secrets: dict[str, str]) -> None:
        httpx.put(f"{self._base}/_secrets", json=secrets, timeout=10).raise_for_status()

    def counts(self) -> dict[str, Any]:
        answer = httpx.get(f"{self._base}/_counts", timeout=10)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow-seconds", type=float, required=True)
    arguments = parser.parse_args()
    serve(arguments.port, arguments.slow_seconds)
