"""Placements fed from allocation's events over real Kafka into real PostgreSQL."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from kafka import KafkaProducer
from plimsoll_events.catalogue import dead_letter_topic
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.types.allocation import (
    CaseOpened,
    ContractedHoursChanged,
    LineManagerChanged,
    PractitionerLeft,
    PractitionerTransferred,
)
from plimsoll_platform.placements import Placements, PlacementsProjection
from sqlalchemy import text

from ..calendar import uk_today
from ..eventing import new_topic, read_topic
from .placing import SOURCE, publish, record, register

pytestmark = pytest.mark.stack


def move_day() -> date:
    return uk_today() + timedelta(days=30)


@pytest.fixture
def topic(stack):
    return new_topic(stack.kafka)


@pytest.fixture
def relay(stack, store, engine, topic):
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source=SOURCE)
    relay.create_schema()
    yield relay
    relay.close()


@pytest.fixture
def projection(topic):
    # Its own consumer group: tests share one Kafka.
    return PlacementsProjection(f"test-{uuid.uuid4().hex[:8]}", topic=topic)


def catch_up(stack, engine, projection, *, rebuild: bool = False) -> None:
    runner = ProjectionRunner(engine, projection, kafka=stack.kafka)
    try:
        runner.create_schema()
        if rebuild:
            runner.rebuild()
        runner.run_until_caught_up()
    finally:
        runner.close()


def rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for table in ("placements", "placement_periods")
            for row in conn.execute(text(f"select * from {table} order by 1, 2"))
        ]


def ids(placements) -> list[str]:
    return [p.practitioner_id for p in placements]


def a_team_history(store) -> None:
    """Pat stays; Bo moves south in 30 days; Cy left last year; Di's hours and manager change."""
    for practitioner in ("P-PAT", "P-BO", "P-CY", "P-DI"):
        register(store, practitioner, team="T-NORTH-1", region="R-NORTH", manager="P-MO")
    record(
        store,
        "practitioner-P-BO",
        PractitionerTransferred(
            practitioner_id="P-BO",
            team_id="T-SOUTH-1",
            region_id="R-SOUTH",
            previous_team_id="T-NORTH-1",
            previous_region_id="R-NORTH",
            line_manager_id="P-SAM",
            effective_on=move_day(),
        ),
    )
    record(
        store,
        "practitioner-P-CY",
        PractitionerLeft(practitioner_id="P-CY", leaving_date=date(2025, 6, 30)),
    )
    record(
        store,
        "practitioner-P-DI",
        ContractedHoursChanged(
            practitioner_id="P-DI",
            contracted_hours=Decimal("22.5"),
            previous_contracted_hours=Decimal(37),
        ),
        LineManagerChanged(
            practitioner_id="P-DI", line_manager_id="P-MAX", previous_line_manager_id="P-MO"
        ),
    )
    # Not a placement event: ignored.
    record(
        store,
        "case-X1",
        CaseOpened(
            case_id="X1",
            team_id="T-NORTH-1",
            case_type="community",
            tier="C1",
            t2a=False,
            stage=None,
            points=50,
            scheme_name="wmt",
            scheme_version=1,
            opened_on=uk_today(),
        ),
    )


def test_placements_follow_transfers_leavings_and_changes_day_by_day(
    stack, store, engine, relay, projection
):
    a_team_history(store)
    publish(relay)
    catch_up(stack, engine, projection)
    placements = Placements(engine)

    assert ids(placements.team_members("T-NORTH-1", uk_today())) == ["P-BO", "P-DI", "P-PAT"]
    assert ids(placements.team_members("T-NORTH-1", date(2025, 6, 30))) == [
        "P-BO",
        "P-CY",
        "P-DI",
        "P-PAT",
    ]
    # The transfer takes effect on its day, not when it was recorded.
    assert ids(placements.team_members("T-SOUTH-1", uk_today())) == []
    assert ids(placements.team_members("T-SOUTH-1", move_day())) == ["P-BO"]
    assert ids(placements.team_members("T-NORTH-1", move_day())) == ["P-DI", "P-PAT"]
    assert ids(placements.region_members("R-SOUTH", move_day())) == ["P-BO"]
    assert ids(placements.region_members("R-NORTH", move_day() - timedelta(days=1))) == [
        "P-BO",
        "P-DI",
        "P-PAT",
    ]
    assert placements.team_region("T-SOUTH-1") == "R-SOUTH"
    assert placements.team_region("T-NORTH-1") == "R-NORTH"

    bo = placements.of("P-BO")
    assert bo is not None
    assert (bo.team_id, bo.line_manager_id, bo.placed_to) == (
        "T-NORTH-1",
        "P-MO",
        move_day() - timedelta(days=1),
    )
    bo_moved = placements.on("P-BO", move_day())
    assert bo_moved is not None
    assert (bo_moved.team_id, bo_moved.region_id, bo_moved.line_manager_id) == (
        "T-SOUTH-1",
        "R-SOUTH",
        "P-SAM",
    )
    assert ids(placements.managed_by("P-MO", uk_today())) == ["P-BO", "P-PAT"]
    assert ids(placements.managed_by("P-SAM", move_day())) == ["P-BO"]

    cy = placements.of("P-CY")
    assert cy is not None
    assert cy.leaving_date == date(2025, 6, 30)
    assert not cy.in_post(uk_today())
    assert placements.on("P-CY", uk_today()) is None

    di_now, di_before = placements.of("P-DI"), placements.on("P-DI", uk_today() - timedelta(days=1))
    assert di_now is not None
    assert di_before is not None
    assert (di_now.contracted_hours, di_now.line_manager_id) == (Decimal("22.5"), "P-MAX")
    assert (di_before.contracted_hours, di_before.line_manager_id) == (Decimal(37), "P-MO")
    assert ids(placements.managed_by("P-MAX", uk_today())) == ["P-DI"]


def test_an_unknown_practitioner_is_answered_as_unknown(stack, store, engine, relay, projection):
    a_team_history(store)
    publish(relay)
    catch_up(stack, engine, projection)
    placements = Placements(engine)
    assert placements.of("P-NOBODY") is None
    assert placements.on("P-NOBODY", uk_today()) is None
    assert placements.team_members("T-NOWHERE", uk_today()) == []
    assert placements.region_members("R-NOWHERE", uk_today()) == []
    assert placements.managed_by("P-NOBODY", uk_today()) == []
    assert placements.team_region("T-NOWHERE") is None


def test_a_change_to_someone_never_registered_is_dead_lettered_and_the_rest_applied(
    stack, store, engine, relay, projection, topic
):
    record(
        store,
        "practitioner-P-GHOST",
        LineManagerChanged(
            practitioner_id="P-GHOST", line_manager_id="P-MO", previous_line_manager_id=None
        ),
    )
    register(store, "P-PAT", team="T-NORTH-1", region="R-NORTH", manager="P-MO")
    publish(relay)
    catch_up(stack, engine, projection)
    placements = Placements(engine)
    assert placements.of("P-GHOST") is None
    assert ids(placements.team_members("T-NORTH-1", uk_today())) == ["P-PAT"]
    dead = read_topic(stack.kafka, dead_letter_topic(topic), expect=1)
    reasons = [dict(m.headers)["dlq-reason"].decode() for m in dead]
    assert len(reasons) == 1
    assert "P-GHOST, who was never registered" in reasons[0]


def test_redelivery_and_rebuild_give_the_same_rows(stack, store, engine, relay, projection, topic):
    a_team_history(store)
    publish(relay)
    catch_up(stack, engine, projection)
    first = rows(engine)
    assert len(first) == 4 + 6  # 4 practitioners; Bo and Di have 2 periods each, the others 1

    # The relay resending after a crash: every event again, at new offsets.
    producer = KafkaProducer(**stack.kafka.options(), acks="all")
    try:
        for event in store.read_all(0):
            key = (event.subject or event.stream_id).encode()
            producer.send(topic, key=key, value=encode(to_cloudevent(event, SOURCE)))
        producer.flush()
    finally:
        producer.close()
    catch_up(stack, engine, projection)
    assert rows(engine) == first

    # From scratch: the read model dropped and replayed from the start of the topic.
    catch_up(stack, engine, projection, rebuild=True)
    assert rows(engine) == first
