"""The access log: a read of someone's data is recorded before the answer leaves, and a read
that cannot be recorded is not served."""

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from plimsoll_events.memory import MemoryStore
from plimsoll_events.refusals import Refused
from plimsoll_platform.access import SCOPED, Caller, Place, may
from plimsoll_platform.access_log import ReadsRecorded
from plimsoll_platform.event_sourcing import correlation_of
from plimsoll_platform.gate import Gate
from plimsoll_platform.problems import (
    install_problem_handlers,
    install_problem_mapping,
    refusal_problem,
)

from unit.platform.test_gate import _token, _verifier

NORTH = Place("T-NORTH-1", "R-NORTH")
MO = {"Authorization": f"Bearer {_token(team='T-NORTH-1', region='R-NORTH')}"}
Reader = Annotated[Caller, Depends(may(*SCOPED, own_record=True))]


class BrokenStore(MemoryStore):
    def append(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("the database is away")


def _client(store: MemoryStore) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_mapping(app, {Refused: refusal_problem})

    @app.get("/practitioners/{practitioner_id}")
    def read(practitioner_id: str, caller: Reader) -> dict[str, str]:
        caller.check_practitioner(practitioner_id, NORTH if practitioner_id != "P-X" else None)
        return {"practitioner_id": practitioner_id}

    @app.get("/teams/{team_id}")
    def team(team_id: str, caller: Reader) -> list[str]:
        caller.served("P-1", "P-2", "P-1")
        return ["P-1", "P-2"]

    @app.post("/practitioners/{practitioner_id}/notes")
    def note(practitioner_id: str, caller: Reader) -> None:
        caller.check_practitioner(practitioner_id, NORTH)

    app.add_middleware(
        ReadsRecorded,
        store=lambda: store,
        service="allocation",
        correlation=correlation_of,
        traceparent=lambda: None,
    )
    app.add_middleware(Gate, verifier=_verifier())
    return TestClient(app)


def _reads(store: MemoryStore) -> list[dict]:
    return [e.data for e in store.read_all(0, 1000) if e.type == "personal-data-read"]


def test_a_read_of_someones_record_is_recorded_with_who_why_and_what():
    store = MemoryStore()
    correlation = uuid4()
    headers = {**MO, "X-Purpose": "weekly caseload review", "X-Correlation-Id": str(correlation)}
    assert _client(store).get("/practitioners/P-0007", headers=headers).status_code == 200
    (read,) = _reads(store)
    assert read["practitioner_id"] == "P-0007"
    assert read["reader"] == "mo.manager"
    assert read["reader_roles"] == ["manager"]
    assert read["served_by"] == "allocation"
    assert read["resource"] == "GET /practitioners/P-0007"
    assert read["purpose"] == "weekly caseload review"
    (event,) = [e for e in store.read_all(0, 10)]
    assert event.subject == "P-0007"
    assert event.metadata.correlation_id == UUID(str(correlation))


def test_named_figures_record_each_practitioner_once_in_one_append():
    store = MemoryStore()
    assert _client(store).get("/teams/T-NORTH-1", headers=MO).status_code == 200
    assert [r["practitioner_id"] for r in _reads(store)] == ["P-1", "P-2"]
    assert len({e.stream_id for e in store.read_all(0, 10)}) == 1


def test_refused_reads_and_commands_record_nothing():
    store = MemoryStore()
    client = _client(store)
    assert client.get("/practitioners/P-X", headers=MO).status_code == 403
    assert client.post("/practitioners/P-0007/notes", headers=MO).status_code == 200
    assert _reads(store) == []


def test_a_read_that_cannot_be_recorded_is_not_served():
    response = _client(BrokenStore()).get("/practitioners/P-0007", headers=MO)
    assert response.status_code == 503
    assert response.json()["type"].endswith("/access-log-unavailable")
    assert "practitioner_id" not in response.json()  # the answer itself never left
