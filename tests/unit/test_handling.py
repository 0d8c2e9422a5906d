"""`plimsoll_events.handling.execute` against an in-memory store: load, decide, append.

The real store is exercised by tests/stack/test_allocation_workforce.py; here only
what `execute` itself decides: what it appends, at which version, and retries.
"""

from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from plimsoll_events.handling import (
    Decider,
    Idempotency,
    IdempotencyKeyReused,
    execute,
    load,
    load_many,
)
from plimsoll_events.records import Metadata
from plimsoll_events.refusals import Refused
from plimsoll_events.store import ConcurrencyError, EventTooLarge
from plimsoll_events.types.allocation import ContractedHoursChanged, PractitionerRegistered
from plimsoll_platform.event_sourcing import EVENT_PROBLEMS
from plimsoll_platform.problems import (
    install_problem_handlers,
    install_problem_mapping,
    refusal_problem,
)

from unit.memory_store import MemoryStore

METADATA = Metadata(actor="mo.manager", correlation_id=uuid4())


def _registered(hours: int) -> PractitionerRegistered:
    return PractitionerRegistered(
        practitioner_id="P-1",
        name="Pat",
        grade="PO",
        team_id="T-1",
        region_id="R-1",
        contracted_hours=hours,
        line_manager_id=None,
        start_date="2024-09-02",
    )


def _decide(hours: int, state: int | None) -> list:
    """Register with `hours`, or change to them; the same hours record nothing."""
    if state is None:
        return [_registered(hours)]
    if state == hours:
        return []
    if hours < 0:
        raise ValueError("refused")
    return [
        ContractedHoursChanged(
            practitioner_id="P-1", contracted_hours=hours, previous_contracted_hours=state
        )
    ]


def _evolve(state: int | None, event) -> int:
    return int(event.contracted_hours)


HOURS = Decider[int, int | None](initial_state=None, decide=_decide, evolve=_evolve)


def test_execute_appends_what_was_decided_at_the_folded_version():
    store = MemoryStore()
    execute(store, HOURS, "s", 37, METADATA)
    (changed,) = execute(store, HOURS, "s", 30, METADATA)
    assert (changed.type, changed.stream_version, changed.subject) == (
        "contracted-hours-changed",
        2,
        "P-1",
    )
    assert changed.metadata == METADATA
    assert load(store, HOURS, "s") == (30, 2)


def test_load_many_folds_each_stream_as_load_does():
    store = MemoryStore()
    execute(store, HOURS, "a", 37, METADATA)
    execute(store, HOURS, "a", 30, METADATA)
    execute(store, HOURS, "b", 20, METADATA)
    assert load_many(store, HOURS, ["a", "b", "c"]) == {"a": (30, 2), "b": (20, 1), "c": (None, 0)}


def test_empty_decision_appends_nothing():
    store = MemoryStore()
    execute(store, HOURS, "s", 37, METADATA)
    assert execute(store, HOURS, "s", 37, METADATA) == []
    assert len(store.events) == 1


def test_refusal_appends_nothing():
    store = MemoryStore()
    execute(store, HOURS, "s", 37, METADATA)
    with pytest.raises(ValueError, match="refused"):
        execute(store, HOURS, "s", -1, METADATA)
    assert len(store.events) == 1


def test_retry_with_the_same_key_returns_the_first_events_without_deciding():
    store = MemoryStore()
    first = execute(store, HOURS, "s", 37, METADATA, idempotency=Idempotency("k"))
    assert execute(store, HOURS, "s", 37, METADATA, idempotency=Idempotency("k")) == first
    assert len(store.events) == 1
    with pytest.raises(IdempotencyKeyReused):
        execute(store, HOURS, "other", 37, METADATA, idempotency=Idempotency("k"))


def test_concurrency_error_is_a_409_problem():
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_mapping(app, EVENT_PROBLEMS)

    @app.post("/race")
    def race() -> None:
        raise ConcurrencyError("practitioner-P-1", 3)

    response = TestClient(app).post("/race")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/concurrency-conflict")


def test_an_event_too_large_to_store_records_nothing_and_is_a_422_naming_data():
    """The edge needs no mapping of its own: the store's refusals are `InvalidValue`s."""
    store = MemoryStore(max_event_bytes=200)
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_mapping(app, {Refused: refusal_problem})

    @app.post("/register")
    def register() -> None:
        execute(store, HOURS, "s", 37, METADATA)

    with pytest.raises(EventTooLarge):
        execute(store, HOURS, "s", 37, METADATA)
    response = TestClient(app).post("/register")
    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-value")
    assert [p["name"] for p in response.json()["invalid-params"]] == ["data"]
    assert store.events == []
