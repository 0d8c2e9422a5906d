"""Live capacity on Kafka: `capacity-changed` and `team-capacity-changed`, from the log alone.

A scripted history (registrations, an allocation, a re-tier, a change of hours, a reduction
the calendar job starts, suspended work arriving from wellbeing over Kafka, a reallocation, a
closure) runs through the service's own handlers on a scratch database with a fixed clock; the
capacity process manager publishes; the relay puts everything on a fresh topic. The figures on
Kafka are exactly the expected ones, each after its cause. A rebuild on a copy of the log
publishes the same sequence, and a crash between the append and the checkpoint publishes
nothing twice.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer
from plimsoll_allocation import capacity as capacity_module
from plimsoll_allocation.agreements import WorkAgreements
from plimsoll_allocation.domain import (
    AllocateCase,
    CaseProfile,
    ChangeContractedHours,
    ChangeTier,
    CloseCase,
    OpenCase,
    ReallocateCase,
    RegisterPractitioner,
    StartReduction,
)
from plimsoll_events.envelope import decode, encode, to_cloudevent
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.records import RecordedEvent, new_event_id
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.types.wellbeing import WorkSuspended
from sqlalchemy import text

from ..eventing import new_topic, read_topic
from .inprocess import MANAGER, NOON, Allocation, metadata

FIGURES = ("capacity-changed", "team-capacity-changed")
OTHER_REASON = (
    "Other (disability, phased return, pregnancy, co-worked, groups, court duty, split role)"
)
NONE: tuple[str, ...] = ()
BOTH = ("override-threshold", "hard-ceiling")

# (type, whose, total, available, percent, above, cause type), in the order of their causes.
# A practitioner's or a team's figures are one Kafka key each, and come in this order; two
# figures of one cause, on different keys, may be recorded in either order.
EXPECTED = [
    ("capacity-changed", "P-1", 0, 2176, "0.0", NONE, "practitioner-registered"),
    ("team-capacity-changed", "T-1", 0, 2176, "0.0", NONE, "practitioner-registered"),
    ("capacity-changed", "P-2", 0, 2176, "0.0", NONE, "practitioner-registered"),
    ("team-capacity-changed", "T-1", 0, 4352, "0.0", NONE, "practitioner-registered"),
    ("capacity-changed", "P-1", 50, 2176, "2.3", NONE, "case-allocated"),
    ("team-capacity-changed", "T-1", 50, 4352, "1.1", NONE, "case-allocated"),
    ("capacity-changed", "P-1", 206, 2176, "9.5", NONE, "case-weighting-changed"),
    ("team-capacity-changed", "T-1", 206, 4352, "4.7", NONE, "case-weighting-changed"),
    ("capacity-changed", "P-1", 206, 435, "47.4", NONE, "contracted-hours-changed"),
    ("team-capacity-changed", "T-1", 206, 2611, "7.9", NONE, "contracted-hours-changed"),
    # The calendar starts a reduction: P-1 goes above both limits, and it is published.
    ("capacity-changed", "P-1", 206, 111, "185.6", BOTH, "reduction-started"),
    ("team-capacity-changed", "T-1", 206, 2287, "9.0", NONE, "reduction-started"),
    # Work on the case suspended in supervision (wellbeing, over Kafka).
    ("capacity-changed", "P-1", 0, 111, "0.0", NONE, "case-weighting-changed"),
    ("team-capacity-changed", "T-1", 0, 2287, "0.0", NONE, "case-weighting-changed"),
    # Reallocated: the suspension ends, and it moves whole (P-1 carried it for nothing).
    ("capacity-changed", "P-2", 206, 2176, "9.5", NONE, "case-reallocated"),
    ("team-capacity-changed", "T-1", 206, 2287, "9.0", NONE, "case-reallocated"),
    ("capacity-changed", "P-2", 0, 2176, "0.0", NONE, "case-closed"),
    ("team-capacity-changed", "T-1", 0, 2287, "0.0", NONE, "case-closed"),
]


@pytest.fixture
def allocation(scratch_database) -> Iterator[Allocation]:
    service = Allocation.on(scratch_database)
    yield service
    service.close()


@pytest.fixture
def another_database(stack) -> Iterator[str]:
    """A second scratch database (the first is `scratch_database`)."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://plimsoll@127.0.0.1:{stack.module.PG_PORT}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield f"postgresql+psycopg://plimsoll@127.0.0.1:{stack.module.PG_PORT}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _register(allocation: Allocation, practitioner_id: str) -> None:
    allocation.workforce.register_practitioner(
        RegisterPractitioner(
            practitioner_id=practitioner_id,
            name=f"Tester {practitioner_id}",
            grade="PO",
            team_id="T-1",
            region_id="R-1",
            contracted_hours=Decimal(37),
            start_date=NOON.date() - timedelta(days=400),
        ),
        metadata(),
    )


def _suspend_through_wellbeing(allocation: Allocation, stack, case_id: str) -> RecordedEvent:
    """`work-suspended` as wellbeing publishes it, on a topic of this test's, consumed by the
    service's own consumer (a group of this test's)."""
    topic = new_topic(stack.kafka)
    agreed = WorkSuspended(
        practitioner_id="P-1",
        agreement_id="A-1",
        case_id=case_id,
        supervision_id="S-1",
        reason="Person on remand: no contact possible until sentencing.",
        court_or_partner_must_be_told=True,
        agreed_on=allocation.clock.today(),
        until=None,
    )
    recorded = RecordedEvent(
        position=1,
        stream_id="supervision-record-P-1",
        stream_version=1,
        event_id=new_event_id(),
        type=agreed.type,
        version=agreed.version,
        subject="P-1",
        data=agreed.model_dump(mode="json"),
        metadata=metadata("sam.supervisor"),
        recorded_at=allocation.clock.now(),
    )
    producer = KafkaProducer(**stack.kafka.options(), acks="all")
    message = encode(to_cloudevent(recorded, "/plimsoll/wellbeing"))
    producer.send(topic, key=b"P-1", value=message).get(timeout=30)
    producer.close()
    consumer = WorkAgreements(
        allocation.cases, topic=topic, name=f"allocation-test-{uuid.uuid4().hex[:8]}"
    )
    runner = ProjectionRunner(allocation.engine, consumer, kafka=stack.kafka)
    runner.create_schema()
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    return recorded


def _history(allocation: Allocation, stack) -> dict[str, Any]:
    """The scripted history; the capacity process manager runs after each step, as live."""
    _register(allocation, "P-1")
    _register(allocation, "P-2")
    case = OpenCase("C-1", "T-1", CaseProfile("community", "C1"))
    allocation.cases.open_case(case, metadata())
    allocation.cases.allocate_case(AllocateCase("C-1", "P-1", MANAGER), metadata())
    allocation.publish()
    allocation.cases.change_tier(ChangeTier("C-1", "A3"), metadata())
    hours = ChangeContractedHours("P-1", Decimal("7.4"))
    allocation.workforce.change_contracted_hours(hours, metadata())
    allocation.publish()
    tomorrow = allocation.clock.today() + timedelta(days=1)
    reduction = StartReduction("P-1", "R-1", OTHER_REASON, tomorrow, hours=Decimal("5.5"))
    allocation.workforce.start_reduction(reduction, metadata())
    allocation.clock.advance(timedelta(days=1))
    reconciled = allocation.cases.reconcile(metadata("system:reduction-calendar"))
    allocation.publish()
    suspended = _suspend_through_wellbeing(allocation, stack, "C-1")
    allocation.publish()
    moved = ReallocateCase("C-1", "P-2", MANAGER, reason="CASELOAD_ADJUSTMENT")
    allocation.cases.reallocate_case(moved, metadata())
    allocation.cases.close_case(CloseCase("C-1", allocation.clock.today()), metadata())
    allocation.publish()
    return {"reconciled": reconciled, "suspended": suspended}


def _by_key(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """Each practitioner's and team's figures, in order: what a Kafka consumer relies on."""
    keyed: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        keyed.setdefault((row[0], row[1]), []).append(row)
    return keyed


def _published(allocation: Allocation) -> list[RecordedEvent]:
    return [e for e in allocation.store.read_all(0, 100_000) if e.type in FIGURES]


def _summary(data: dict[str, Any], event_type: str) -> tuple[Any, ...]:
    whose = data["practitioner_id"] if event_type == "capacity-changed" else data["team_id"]
    return (
        event_type,
        whose,
        data["total_points"],
        data["available_points"],
        str(Decimal(str(data["capacity_percent"])).quantize(Decimal("0.1"))),
        tuple(data["above"]),
        data["cause_type"],
    )


def test_a_scripted_history_publishes_exactly_these_figures_on_kafka_after_their_causes(
    allocation, stack
):
    happened = _history(allocation, stack)
    assert happened["reconciled"].events_recorded == 1  # the reduction the calendar started
    topic = new_topic(stack.kafka)
    relay = OutboxRelay(
        allocation.store,
        allocation.engine,
        kafka=stack.kafka,
        topic=topic,
        source="/plimsoll/allocation",
    )
    relay.create_schema()
    try:
        while relay.publish_pending():
            pass
    finally:
        relay.close()

    head = allocation.store.head_position()
    records = read_topic(stack.kafka, topic, expect=head)
    envelopes = {decode(r.value).plimsollposition: (r, decode(r.value)) for r in records}
    figures = sorted(p for p, (_, e) in envelopes.items() if e.event_type in FIGURES)

    assert _by_key(
        [_summary(envelopes[p][1].data, envelopes[p][1].event_type) for p in figures]
    ) == (_by_key(EXPECTED))
    for position in figures:
        record, figure = envelopes[position]
        cause_record, cause = envelopes[figure.data["cause_position"]]
        # Keyed by whose figure it is, recorded after its cause, caused by it.
        assert str(cause.id) == figure.data["cause_event_id"]
        assert position > cause.plimsollposition
        assert figure.causationid == cause.id  # no day brought a transfer in: the cause
        if figure.event_type == "capacity-changed":
            assert record.key == figure.data["practitioner_id"].encode()
            if cause.subject == figure.subject:  # the same key: the same partition, later
                assert (record.partition, record.offset > cause_record.offset) == (
                    cause_record.partition,
                    True,
                )
        else:
            assert record.key == f"team-capacity-{figure.data['team_id']}".encode()
    # The suspension's figure is caused by allocation's answer to wellbeing's event.
    weighed = next(
        e
        for _, e in envelopes.values()
        if e.event_type == "case-weighting-changed" and e.data["cause"] == "work-suspended"
    )
    assert weighed.causationid == happened["suspended"].event_id
    assert weighed.data["agreement_id"] == "A-1"


def _copy_without_figures(source_url: str, target_url: str) -> None:
    """The log as it stands, figures left out, positions, ids and times kept."""
    source = source_url.replace("+psycopg", "")
    target = target_url.replace("+psycopg", "")
    columns = "position, stream_id, stream_version, event_id, type, version, subject"
    with psycopg.connect(source) as src, psycopg.connect(target) as dst:
        rows = src.execute(
            f"select {columns}, data::text, metadata::text, recorded_at from events "
            "where type <> all(%s) order by position",
            (list(FIGURES),),
        ).fetchall()
        dst.cursor().executemany(
            f"insert into events ({columns}, data, metadata, recorded_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)",
            rows,
        )
        dst.execute("update event_log_head set last_position = (select max(position) from events)")


def test_a_rebuild_on_a_copy_of_the_log_publishes_the_same_sequence(
    allocation, stack, another_database, scratch_database
):
    _history(allocation, stack)
    live = _published(allocation)
    rebuilt_service = Allocation.on(another_database)
    try:
        _copy_without_figures(scratch_database, another_database)
        rebuilt_service.publish()
        rebuilt = _published(rebuilt_service)
    finally:
        rebuilt_service.close()

    assert len(live) == len(EXPECTED)

    def streams(events: list[RecordedEvent]) -> dict[str, list[Any]]:
        by_stream: dict[str, list[Any]] = {}
        for e in events:
            by_stream.setdefault(e.stream_id, []).append((e.type, e.data, e.metadata.causation_id))
        return by_stream

    assert streams(rebuilt) == streams(live)


class Crash(BaseException):
    """The process dies here (not an error anything catches)."""


@pytest.mark.parametrize("where", ["after-every-append", "halfway-through-the-appends"])
def test_a_crash_between_append_and_checkpoint_publishes_nothing_twice(
    allocation, stack, monkeypatch, where
):
    # The history recorded without publishing, then one catch-up over all of it that dies.
    publish = allocation.publish
    allocation.publish = lambda: 0  # type: ignore[method-assign]
    _history(allocation, stack)
    allocation.publish = publish  # type: ignore[method-assign]
    real_append = capacity_module.CapacityModel._append_stream
    calls = itertools.count()

    def append_then_die(self, stream_id, figures):  # type: ignore[no-untyped-def]
        if where == "halfway-through-the-appends" and next(calls) == 2:
            raise Crash  # the third stream's append never happens; the other two do
        real_append(self, stream_id, figures)

    monkeypatch.setattr(capacity_module.CapacityModel, "_append_stream", append_then_die)
    if where == "after-every-append":
        monkeypatch.setattr(capacity_module, "_save", _raise_crash)
    with pytest.raises(Crash):
        allocation.publish()
    with allocation.engine.connect() as conn:
        assert allocation.capacity.position(conn) == 0  # the checkpoint never moved
    assert _published(allocation)  # ...but figures were appended

    monkeypatch.undo()
    allocation.publish()

    published = _published(allocation)
    assert _by_key([_summary(e.data, e.type) for e in published]) == _by_key(EXPECTED)
    causes = [(e.stream_id, e.data["cause_event_id"]) for e in published]
    assert len(causes) == len(set(causes)) == len(EXPECTED)


def _raise_crash(*_: object, **__: object) -> None:
    raise Crash


def test_the_processor_state_follows_the_log_not_the_clock(allocation, stack):
    """The figures' state tables hold what the log said: the reduction the calendar started
    is in force, the case is suspended at 0 then moved whole, then closed."""
    _history(allocation, stack)
    with allocation.engine.connect() as conn:
        member = conn.execute(
            text(
                "select contracted_hours, reductions, total_points from capacity_practitioners "
                "where practitioner_id = 'P-1'"
            )
        ).one()
        case = conn.execute(text("select * from capacity_cases where case_id = 'C-1'")).one()
    assert (member[0], member[1], member[2]) == (Decimal("7.4"), {"R-1": "5.5"}, 0)
    assert (case.practitioner_id, case.points, case.open) == (None, 206, False)
