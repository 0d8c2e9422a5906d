"""What every chapter of `make demo` shares: checks, steps, signing in, the services over HTTP,
problem documents, Kafka read from now, and waiting for what travels by Kafka.

A chapter (`Chapter`) is a function of the stack's endpoints (`.stack/endpoints.json`) that
tells its part of the story, checks every answer (raising `StoryBroken` on one that is wrong)
and returns a one-line summary. `run_alone(chapter)` runs one by itself, as
`python deploy/local/demo_X.py` does; `deploy/local/demo.py` runs them all in order.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from plimsoll_events.envelope import TYPE_PREFIX
from plimsoll_events.kafka import KafkaAccess

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("PLIMSOLL_STACK_DIR", ROOT / ".stack"))
TEAM, REGION = "T-NORTH-1", "R-NORTH"
MO = "P-0100"  # mo.manager's practitioner id: the line manager of whoever a chapter registers
DEADLINE_S = 30.0
"""How long to wait for what travels by Kafka (a relay, then a projection, then a relay...)."""
Json = dict[str, Any]
T = TypeVar("T")


class StoryBroken(Exception):
    """The stack did not answer as the story says."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise StoryBroken(what)


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def fresh(prefix: str) -> str:
    """An id of this run: `prefix` and six hex digits (every run makes new ones)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def until(what: str, probe: Callable[[], T | None], deadline_s: float = DEADLINE_S) -> T:
    """Ask `probe()` until it answers something truthy (events travel by Kafka), or break."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise StoryBroken(f"after {deadline_s:.0f} s, still waiting for {what}")
        time.sleep(0.25)


_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (issuer, user): (token, renew at)


def sign_in(issuer: str, username: str) -> str:
    """A token by the password grant on the public client (enabled for local use only),
    kept until shortly before it expires."""
    kept = _tokens.get((issuer, username))
    if kept is not None and time.monotonic() < kept[1]:
        return kept[0]
    form = {"grant_type": "password", "client_id": "plimsoll-web", "username": username}
    form["password"] = f"{username}-local-only"
    response = httpx.post(f"{issuer}/protocol/openid-connect/token", data=form, timeout=10)
    check(response.status_code == 200, f"Keycloak refused {username}: {response.text}")
    answer = response.json()
    renew_at = time.monotonic() + max(0, int(answer.get("expires_in", 60)) - 30)
    _tokens[(issuer, username)] = (str(answer["access_token"]), renew_at)
    return str(answer["access_token"])


class Api:
    """One service over HTTP, called as one demo user or another. Every POST carries a new
    Idempotency-Key unless given one."""

    def __init__(self, base_url: str, issuer: str, timeout: float = 60) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.issuer = issuer

    def token(self, user: str) -> str:
        return sign_in(self.issuer, user)

    def ask(self, user: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """The answer, whatever it is."""
        headers = {"Authorization": f"Bearer {self.token(user)}", **kw.pop("headers", {})}
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        return self.http.request(method, path, headers=headers, **kw)

    def call(self, user: str, method: str, path: str, expect: int, **kw: Any) -> httpx.Response:
        """The answer, checked to have the status `expect`."""
        response = self.ask(user, method, path, **kw)
        said = f"{response.status_code} {response.text[:400]}"
        check(response.status_code == expect, f"{user}: {method} {path}: not {expect} but {said}")
        return response

    def close(self) -> None:
        self.http.close()


def apis(endpoints: Json) -> dict[str, Api]:
    """Every service of the stack, by name."""
    issuer = endpoints["keycloak_issuer"]
    return {name: Api(base, issuer) for name, base in endpoints["services"].items()}


def show_problem(
    response: httpx.Response, kind: str, field: str | None, indent: str = "  "
) -> Json:
    """Print an RFC 9457 problem in one line, checking it is one, of its type and on `field`."""
    problem: Json = response.json()
    check(
        response.headers.get("content-type") == "application/problem+json",
        f"not a problem document: {response.status_code} {problem}",
    )
    check(str(problem["type"]).endswith(f"/{kind}"), f"expected a {kind} problem, got {problem}")
    named = [p["name"] for p in problem.get("invalid-params") or []]
    check(field is None or named == [field], f"not on {field}: {problem}")
    on = f" on {field}" if field else ""
    print(f"{indent}{problem['status']} {kind}{on}: {problem['detail']}")
    return problem


def kafka_access(endpoints: Json) -> KafkaAccess:
    """The stack's admin principal (a super user), as `kafka_security` in endpoints says."""
    security = endpoints["kafka_security"]
    admin = security["principals"]["admin"]
    password = json.loads((STATE / "secrets.json").read_text())[admin["password_secret"]]
    return KafkaAccess(
        endpoints["kafka_bootstrap"], admin["username"], password, security["sasl_mechanism"]
    )


def kafka_from_now(endpoints: Json, *topics: str, since: float | None = None) -> KafkaConsumer:
    """A consumer of `topics` (no group), placed after their last messages: what it reads
    afterwards is what this run made happen. Given `since` (epoch seconds), placed at the
    first message published since then instead."""
    consumer = KafkaConsumer(**kafka_access(endpoints).options(), enable_auto_commit=False)
    partitions = [
        TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
    ]
    check({p.topic for p in partitions} == set(topics), f"missing topics, not all of {topics}")
    consumer.assign(partitions)
    if since is not None:
        at = consumer.offsets_for_times({p: int(since * 1000) for p in partitions})
        for partition, found in at.items():
            if found is not None:
                consumer.seek(partition, found.offset)
    for partition in partitions:
        consumer.position(partition)  # resolved now (to the end), not at the first poll
    return consumer


def event_kind(message: Json) -> str:
    """`case-allocated` for a CloudEvent of Plimsoll's, the `eventType` of an HMPPS message."""
    if "eventType" in message:
        return str(message["eventType"])
    return str(message["type"]).removeprefix(f"{TYPE_PREFIX}.").rsplit(".v", 1)[0]


def read_events(
    consumer: KafkaConsumer,
    keys: Iterable[str],
    expected: Counter[str],
    deadline_s: float = DEADLINE_S,
) -> list[tuple[str, Json]]:
    """This run's messages, (topic, message) by their key, each once (delivery is at least
    once), until those of `expected` (counts by kind) are all seen; in position order."""
    wanted = set(keys)
    seen: dict[bytes, tuple[str, Json]] = {}
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + deadline_s  # the relays publish asynchronously
    while time.monotonic() < deadline:
        for partition, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                if record.key is not None and record.key.decode() in wanted:
                    seen[record.value] = (partition.topic, json.loads(record.value))
        counts = Counter(event_kind(m) for _, m in seen.values())
        if counts >= expected:
            return sorted(seen.values(), key=lambda tm: (tm[0], tm[1].get("plimsollposition", 0)))
    raise StoryBroken(f"after {deadline_s:.0f} s on Kafka, still missing: {expected - counts}")


def print_counts(found: list[tuple[str, Json]], indent: str = "  ") -> None:
    """How many of each kind, by topic."""
    for (topic, kind), count in sorted(Counter((t, event_kind(m)) for t, m in found).items()):
        print(f"{indent}{topic:<26} {count:>3} x {kind}")


def load_endpoints() -> Json | None:
    try:
        found: Json = json.loads((STATE / "endpoints.json").read_text())
    except FileNotFoundError:
        print(f"demo: no {STATE / 'endpoints.json'}: run `make up` first", file=sys.stderr)
        return None
    return found


BROKEN = (StoryBroken, httpx.HTTPError, KafkaError)
"""What a chapter raises when the stack does not answer as the story says."""


Chapter = Callable[[Json, Json], str]
"""A chapter: `chapter(endpoints, told)` tells its part and returns a one-line summary; `told`
carries what earlier chapters made for later ones (empty when it runs alone)."""


def run_alone(chapter: Chapter) -> int:
    """Tell one chapter by itself: 0 when every check held, else 1 with `DEMO FAILED: ...`."""
    started = time.monotonic()
    endpoints = load_endpoints()
    if endpoints is None:
        return 1
    try:
        summary = chapter(endpoints, {})
    except BROKEN as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        return 1
    step(f"Done in {time.monotonic() - started:.1f} s: {summary}")
    return 0
