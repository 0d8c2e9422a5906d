"""The live inbox stream of the running service: a client that reconnects with `Last-Event-ID`
gets what it missed; a browser's `EventSource`, which cannot send a bearer token, opens its
stream with a short-lived ticket instead, and the access token never goes in a URL."""

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy
from sqlalchemy import text

from .test_service import eventually, inbox_item, problem

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def notify(service_api):
    return lambda user: service_api("notifications", user)


@dataclass
class Listener:
    """Reads one SSE stream in a thread: (id, item) for each `notification` event."""

    url: str
    params: dict[str, str | int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    events: list[tuple[int, dict]] = field(default_factory=list)
    status: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "Listener":
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()
        eventually(lambda: self.status is not None, "the stream's answer", 30)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()

    def _listen(self) -> None:
        with (
            httpx.Client(timeout=120) as client,
            client.stream("GET", self.url, params=self.params, headers=self.headers) as s,
        ):
            self.status = s.status_code
            if s.status_code != 200:
                return
            assert s.headers["content-type"].startswith("text/event-stream")
            last: int | None = None
            for line in s.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("id: "):
                    last = int(line.removeprefix("id: "))
                elif line.startswith("data: "):
                    assert last is not None
                    self.events.append((last, json.loads(line.removeprefix("data: "))))

    def about(self, declaration_id: str) -> list[tuple[int, dict]]:
        return [
            e for e in self.events if e[1]["identifiers"].get("declaration_id") == declaration_id
        ]


def declare(service_api, what: str) -> str:
    answer = service_api("wellbeing", "pat.practitioner").post(
        "/practitioners/P-0001/declarations",
        json={"what_is_unsafe": what, "tasks": []},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["declaration_id"])


@pytest.fixture(scope="module")
def missed(stack, notify, service_api, tokens):
    """Pat hears of declaration A live, drops the connection, and B arrives meanwhile:
    (A's event id, A, B)."""
    url = stack.services["notifications"] + "/inbox/stream"
    with Listener(url, headers=tokens("pat.practitioner")) as first:
        seen = declare(service_api, "Live test A")
        [(seen_id, _)] = eventually(lambda: first.about(seen), "A pushed live")
    unseen = declare(service_api, "Live test B")
    inbox_item(notify, "pat.practitioner", unseen)
    return seen_id, seen, unseen


def test_a_stream_resumed_with_last_event_id_gets_what_it_missed_first(stack, tokens, missed):
    seen_id, seen, unseen = missed
    url = stack.services["notifications"] + "/inbox/stream"
    headers = {**tokens("pat.practitioner"), "Last-Event-ID": str(seen_id)}
    with Listener(url, headers=headers) as resumed:
        [(unseen_id, item)] = eventually(lambda: resumed.about(unseen), "B resent", 20)
    assert unseen_id > seen_id
    assert item["practitioner_id"] == "P-0001"
    assert not resumed.about(seen), "nothing up to the last id is sent again"
    assert all(i > seen_id for i, _ in resumed.events)
    assert all(e["identifiers"] for _, e in resumed.events)

    with (
        Listener(url, headers=tokens("pat.practitioner")) as fresh,
        Listener(url, headers={**tokens("pat.practitioner"), "Last-Event-ID": "null"}) as odd,
    ):
        time.sleep(3)
    assert not fresh.about(unseen), "without Last-Event-ID, only what arrives from now on"
    assert odd.status == 200
    assert not odd.about(unseen), "an id the stream never gave is ignored"


def test_a_browser_opens_its_stream_with_a_short_lived_ticket_not_its_token(
    stack, notify, tokens, missed
):
    seen_id, _, unseen = missed
    base = stack.services["notifications"]
    live = base + "/live/inbox"
    problem(httpx.get(live, params={"ticket": "st_forged"}), 401)
    problem(httpx.get(live), 422)
    problem(httpx.post(base + "/inbox/stream/tickets"), 401)

    issued = notify("pat.practitioner").post("/inbox/stream/tickets")
    assert issued.status_code == 200, issued.text
    ticket = issued.json()["ticket"]
    assert ticket.startswith("st_")
    assert ticket not in tokens("pat.practitioner")["Authorization"]
    with Listener(live, params={"ticket": ticket, "after": seen_id}) as browser:
        eventually(lambda: browser.about(unseen), "B through the ticket's stream", 20)
    assert browser.status == 200
    assert {e["practitioner_id"] for _, e in browser.events} <= {"P-0001", None}
    # The same ticket serves EventSource's own reconnects while it lives...
    with Listener(
        live, params={"ticket": ticket}, headers={"Last-Event-ID": str(seen_id)}
    ) as again:
        eventually(lambda: again.about(unseen), "B again on reconnecting", 20)
    # ...opens nothing else...
    problem(httpx.get(base + "/inbox", params={"ticket": ticket}), 401)
    # ...and nothing once expired.
    engine = sqlalchemy.create_engine(stack.postgres["notifications"])
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "update notification_stream_tickets set expires_at = now() - interval '1s' "
                    "where ticket_hash = :h"
                ),
                {"h": hashlib.sha256(ticket.encode()).hexdigest()},
            )
    finally:
        engine.dispose()
    problem(httpx.get(live, params={"ticket": ticket}), 401)
