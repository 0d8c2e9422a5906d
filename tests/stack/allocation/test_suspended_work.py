"""Suspended work agreed in supervision counts for nothing in allocation's capacity.

Through the running services: wellbeing records a supervision suspending work on a case;
allocation hears of it on Kafka and re-weighs the case (`case-weighting-changed` at 0 points,
caused by wellbeing's `work-suspended`), and its capacity figure follows (`capacity-changed`
caused by that). Resuming weighs the case again. On a scratch database: an agreement
delivered twice records nothing twice, and one about a case allocation never heard of is
dead-lettered with the reason.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy
from kafka import KafkaProducer
from plimsoll_allocation.agreements import WorkAgreements
from plimsoll_allocation.domain import AllocateCase, CaseProfile, OpenCase, RegisterPractitioner
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.records import RecordedEvent, new_event_id
from plimsoll_events.store import EventStore
from plimsoll_events.types.wellbeing import WorkResumed, WorkSuspended
from sqlalchemy import text

from ..eventing import new_topic
from ..wellbeing.helpers import Wellbeing, uk_today
from .inprocess import MANAGER, Allocation, metadata

DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def wb(service_api) -> Wellbeing:
    return Wellbeing(service_api)


def _until(probe: Callable[[], object], done: Callable[[object], bool]) -> object:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found = probe()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _capacity(wb: Wellbeing, practitioner_id: str) -> dict:
    response = wb.allocation().get(f"/practitioners/{practitioner_id}/capacity")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _events(store, stream_id: str) -> list[RecordedEvent]:
    return store.read_stream(stream_id)


def test_a_suspension_agreed_in_supervision_takes_the_case_out_of_capacity_until_resumed(
    wb, allocation_store, stack
):
    pid = wb.practitioner()
    case_id = wb.case_for(pid)
    assert _capacity(wb, pid)["total_points"] == 50

    held = wb.hold(
        pid,
        agreements=[
            {
                "kind": "suspend",
                "case_id": case_id,
                "reason": "Person remanded in custody",
                "court_or_partner_must_be_told": True,
            }
        ],
    )
    assert held.status_code == 201, held.text
    [agreement] = held.json()["agreements"]

    after = _until(lambda: _capacity(wb, pid), lambda c: c["total_points"] == 0)  # type: ignore[index]
    assert after["total_points"] == 0, after  # type: ignore[index]

    wellbeing_engine = sqlalchemy.create_engine(stack.postgres["wellbeing"])
    wellbeing_store = EventStore(wellbeing_engine)
    try:
        suspended = next(
            e
            for e in wellbeing_store.read_stream(f"supervision-record-{pid}")
            if e.type == "work-suspended"
        )
        weighed = [
            e
            for e in _events(allocation_store, f"case-{case_id}")
            if e.type == "case-weighting-changed"
        ]
        assert [(e.data["cause"], e.data["points"], e.data["agreement_id"]) for e in weighed] == [
            ("work-suspended", 0, agreement["agreement_id"])
        ]
        assert weighed[0].metadata.causation_id == suspended.event_id
        figures = _until(
            lambda: _events(allocation_store, f"capacity-{pid}"),
            lambda found: any(e.data["cause_event_id"] == str(weighed[0].event_id) for e in found),  # type: ignore[attr-defined]
        )
        assert [(e.data["total_points"], e.data["cause_type"]) for e in figures][-1] == (  # type: ignore[attr-defined]
            0,
            "case-weighting-changed",
        )

        resumed = wb("mo.manager").post(
            f"/practitioners/{pid}/agreements/{agreement['agreement_id']}/resumption",
            json={"reason": "Released on bail"},
        )
        assert resumed.status_code == 200, resumed.text
        back = _until(lambda: _capacity(wb, pid), lambda c: c["total_points"] == 50)  # type: ignore[index]
        assert back["total_points"] == 50, back  # type: ignore[index]
        weighed = [
            e
            for e in _events(allocation_store, f"case-{case_id}")
            if e.type == "case-weighting-changed"
        ]
        assert [e.data["cause"] for e in weighed] == ["work-suspended", "work-resumed"]
    finally:
        wellbeing_store.close()
        wellbeing_engine.dispose()


# --- on a scratch database, the consumer alone -------------------------------------------------


@pytest.fixture
def allocation(scratch_database) -> Iterator[Allocation]:
    service = Allocation.on(scratch_database)
    yield service
    service.close()


def _wellbeing_event(data: WorkSuspended | WorkResumed, position: int) -> bytes:
    recorded = RecordedEvent(
        position=position,
        stream_id=f"supervision-record-{data.practitioner_id}",
        stream_version=1,
        event_id=new_event_id(),
        type=data.type,
        version=data.version,
        subject=data.practitioner_id,
        data=data.model_dump(mode="json"),
        metadata=metadata("sam.supervisor"),
        recorded_at=datetime.now(UTC),
    )
    return encode(to_cloudevent(recorded, "/plimsoll/wellbeing"))


def _publish(stack, messages: list[bytes]) -> str:
    topic = new_topic(stack.kafka, partitions=1)
    producer = KafkaProducer(**stack.kafka.options(), acks="all")
    for message in messages:
        producer.send(topic, key=b"P-1", value=message).get(timeout=30)
    producer.close()
    return topic


def _consume(allocation: Allocation, stack, topic: str, name: str) -> None:
    consumer = WorkAgreements(allocation.cases, topic=topic, name=name)
    runner = ProjectionRunner(allocation.engine, consumer, kafka=stack.kafka)
    runner.create_schema()
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()


def _suspended(case_id: str) -> WorkSuspended:
    return WorkSuspended(
        practitioner_id="P-1",
        agreement_id="A-1",
        case_id=case_id,
        supervision_id="S-1",
        reason="On remand",
        court_or_partner_must_be_told=False,
        agreed_on=uk_today(),
        until=None,
    )


def test_an_agreement_delivered_twice_records_once_and_one_on_an_unknown_case_is_dead_lettered(
    allocation, stack
):
    allocation.workforce.register_practitioner(
        RegisterPractitioner("P-1", "Pat", "PO", "T-1", "R-1", Decimal(37), uk_today()),
        metadata(),
    )
    allocation.cases.open_case(OpenCase("C-1", "T-1", CaseProfile("community", "C1")), metadata())
    allocation.cases.allocate_case(AllocateCase("C-1", "P-1", MANAGER), metadata())
    topic = _publish(
        stack,
        [_wellbeing_event(_suspended("C-1"), 1), _wellbeing_event(_suspended("C-NEVER"), 2)],
    )
    name = f"allocation-test-{uuid.uuid4().hex[:8]}"
    _consume(allocation, stack, topic, name)
    # Delivered again, as after a crash before the runner's checkpoint moved.
    with allocation.engine.begin() as conn:
        for table in ("projection_checkpoints", "projection_positions"):
            conn.execute(text(f"delete from {table} where projection = :n"), {"n": name})
    _consume(allocation, stack, topic, name)

    weighed = [
        e for e in allocation.store.read_stream("case-C-1") if e.type == "case-weighting-changed"
    ]
    assert [(e.data["cause"], e.data["points"]) for e in weighed] == [("work-suspended", 0)]
    with allocation.engine.connect() as conn:
        [reason] = conn.execute(text("select reason from projection_dead_letters")).scalars()
    assert "C-NEVER" in reason
    assert "NotFound" in reason
