"""Steady writes to the allocation API, and a record of what each one was answered.

Each writer thread repeats one unit of work with fresh ids: register a practitioner, record a
reduction for them (its id chosen by the server: without the Idempotency-Key a retry would
record a second one), open a case in their team. Every request carries an Idempotency-Key. On
a 5xx or a transport error (refused, reset, timed out) a write is sent again with the same
key, with backoff, until it is answered or its budget runs out; one write in three is never
retried, so some writes end unanswered and may or may not have been recorded. A write is
*acknowledged* when some attempt got a 2xx.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TEAM = "T-NORTH-1"
REGION = "R-NORTH"
REQUEST_SECONDS = 10.0
PAUSE_SECONDS = 0.1  # between one writer's units: steady writes, not a flood
RETRY_BUDGET_SECONDS = 60.0


@dataclass
class Write:
    """One write and every answer it got (a status code, or the transport error's name)."""

    kind: str  # "registration", "reduction", "case"
    subject: str  # practitioner id, or case id
    method: str
    path: str
    body: dict[str, Any]
    key: str
    retried: bool
    answers: list[int | str] = field(default_factory=list)
    reply: dict[str, Any] | None = None  # the body of the first 2xx
    acknowledged_at: float | None = None  # time.monotonic() of that answer
    refusal: str = ""  # the body of a 4xx, to say why

    @property
    def acknowledged(self) -> bool:
        return any(isinstance(a, int) and 200 <= a < 300 for a in self.answers)

    @property
    def refused(self) -> bool:
        """Answered 4xx at some attempt: never expected here (a retry of a write whose reply
        was lost must get the first answer back, not 'already registered')."""
        return any(isinstance(a, int) and 400 <= a < 500 for a in self.answers)

    @property
    def stream(self) -> str:
        return f"case-{self.subject}" if self.kind == "case" else f"practitioner-{self.subject}"


class Load:
    """Writers running until `stop()`; every `Write` they made, in `writes`."""

    def __init__(
        self, base_url: str, headers: Callable[[], dict[str, str]], run: str, writers: int = 4
    ) -> None:
        self.base_url = base_url
        self.headers = headers
        self.run = run
        self.writes: list[Write] = []
        self.failures: list[BaseException] = []  # what stopped a writer thread, if anything
        self.in_flight = 0  # requests sent and not yet answered
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._numbers = itertools.count()
        self._threads = [
            threading.Thread(target=self._writer, name=f"writer-{i}", daemon=True)
            for i in range(writers)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=RETRY_BUDGET_SECONDS + 2 * REQUEST_SECONDS)
            assert not thread.is_alive(), f"{thread.name} did not stop"
        assert not self.failures, f"writers failed: {self.failures!r}"

    def acknowledged_since(self, moment: float) -> int:
        """Writes acknowledged by an attempt sent after `moment` (time.monotonic)."""
        with self._lock:
            return sum(
                1
                for w in self.writes
                if w.acknowledged_at is not None and w.acknowledged_at >= moment
            )

    def _writer(self) -> None:
        try:
            with httpx.Client(base_url=self.base_url, timeout=REQUEST_SECONDS) as client:
                while not self._stop.wait(PAUSE_SECONDS):
                    self._unit(client, next(self._numbers))
        except BaseException as failure:
            self.failures.append(failure)
            raise

    def _unit(self, client: httpx.Client, n: int) -> None:
        practitioner = f"P-F{self.run}-{n}"
        registered = self._send(
            client,
            "registration",
            practitioner,
            "POST",
            "/practitioners",
            {
                "practitioner_id": practitioner,
                "name": f"Fault Tester {n}",
                "grade": "PO",
                "team_id": TEAM,
                "region_id": REGION,
                "contracted_hours": "37",
                "start_date": "2024-09-02",
            },
            retried=n % 3 != 1,
        )
        if not registered.acknowledged:
            return
        self._send(
            client,
            "reduction",
            practitioner,
            "POST",
            f"/practitioners/{practitioner}/reductions",
            {"reason": "Trade Union Facility Time", "hours": "1", "effective_from": "2024-09-02"},
            retried=n % 3 != 2,
        )
        case = f"C-F{self.run}-{n}"
        self._send(
            client,
            "case",
            case,
            "POST",
            "/cases",
            {"case_id": case, "team_id": TEAM, "case_type": "community", "tier": "C1"},
            retried=n % 3 != 0,
        )

    def _send(
        self,
        client: httpx.Client,
        kind: str,
        subject: str,
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        retried: bool,
    ) -> Write:
        write = Write(kind, subject, method, path, body, str(uuid.uuid4()), retried)
        with self._lock:
            self.writes.append(write)
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS
        pause = 0.2
        while True:
            headers = self.headers()
            with self._lock:
                self.in_flight += 1
            try:
                answer = send(client, write, headers)
            finally:
                with self._lock:
                    self.in_flight -= 1
            write.answers.append(answer if isinstance(answer, str) else answer.status_code)
            if isinstance(answer, httpx.Response) and answer.status_code < 500:
                if not answer.is_success:
                    write.refusal = answer.text[:500]
                if answer.is_success:
                    write.reply = answer.json()
                    write.acknowledged_at = time.monotonic()
                return write
            if not retried or time.monotonic() > deadline:
                return write
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def send(client: httpx.Client, write: Write, headers: dict[str, str]) -> httpx.Response | str:
    """One attempt: the response, or the name of the transport error."""
    try:
        return client.request(
            write.method,
            write.path,
            json=write.body,
            headers={**headers, "Idempotency-Key": write.key},
        )
    except httpx.TransportError as error:
        return type(error).__name__
