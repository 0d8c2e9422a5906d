"""The caseload read model's batched catch-up leaves the rows applying one event at a time would.

The oracle is the read model's original applier, one SQL statement per event in position
order, kept here and run into a `reference` schema of the same database. Every test
compares all three tables, whatever the batch size and wherever the catch-ups fall. The read
model runs on the kit's `StoreFedReadModel`: an event its tables cannot hold is parked with
its reason, and reads carry on.
"""

import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from plimsoll_allocation import projections
from plimsoll_allocation.projections import NAME, Caseload
from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.records import Metadata, NewEvent, RecordedEvent
from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
    CalendarDayBegan,
    CaseAllocated,
    CaseClosed,
    CaseOpened,
    CaseReallocated,
    CaseWeightingChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
)
from sqlalchemy import Connection, text

ACTOR = Metadata(actor="mo.manager", correlation_id=uuid.uuid4())
TABLES = {
    "caseload_cases": "case_id",
    "caseload_practitioners": "practitioner_id",
    "caseload_overrides": "position",
}
BATCH_SIZES = [1, 3, 5000]  # every event alone, batches splitting every story, all at once


def event(model: type[EventData], **fields: Any) -> EventData:
    return model.model_validate({**model.examples[0], **fields})


def opened(case_id: str, **fields: Any) -> EventData:
    return event(CaseOpened, case_id=case_id, **fields)


def allocated(case_id: str, practitioner_id: str, **fields: Any) -> EventData:
    return event(CaseAllocated, case_id=case_id, practitioner_id=practitioner_id, **fields)


def reallocated(case_id: str, practitioner_id: str, **fields: Any) -> EventData:
    return event(CaseReallocated, case_id=case_id, practitioner_id=practitioner_id, **fields)


def weighed(case_id: str, points: int, **fields: Any) -> EventData:
    return event(CaseWeightingChanged, case_id=case_id, points=points, **fields)


def closed(case_id: str, closed_on: date) -> EventData:
    return event(CaseClosed, case_id=case_id, closed_on=closed_on)


def registered(practitioner_id: str, **fields: Any) -> EventData:
    return event(PractitionerRegistered, practitioner_id=practitioner_id, **fields)


def transferred(practitioner_id: str, team_id: str, effective_on: date) -> EventData:
    return event(
        PractitionerTransferred,
        practitioner_id=practitioner_id,
        team_id=team_id,
        region_id=f"R-{team_id}",
        effective_on=effective_on,
    )


def left(practitioner_id: str, leaving_date: date) -> EventData:
    return event(PractitionerLeft, practitioner_id=practitioner_id, leaving_date=leaving_date)


def override(case_id: str, practitioner_id: str, **fields: Any) -> EventData:
    return event(
        AllocationOverrideRecorded, case_id=case_id, practitioner_id=practitioner_id, **fields
    )


class Log:
    """The store's log, appended to one stream (the read model reads the whole log)."""

    def __init__(self, store) -> None:
        self.store = store
        self.version = 0

    def record(self, *events: EventData) -> list[RecordedEvent]:
        recorded = self.store.append(
            "caseload-test", self.version, [CATALOGUE.new_event(e, ACTOR) for e in events]
        )
        self.version += len(events)
        return recorded


# --- the oracle: one statement per event, in position order ----------------------------------

_OVERRIDE_COLUMNS = [
    "event_id",
    "position",
    "recorded_at",
    *AllocationOverrideRecorded.model_fields,
]
ONE_BY_ONE = {
    "case-opened": """
        insert into caseload_cases (case_id, team_id, practitioner_id, case_type, tier, stage,
                                    points, open, opened_on)
        values (:case_id, :team_id, null, :case_type, :tier, :stage, :points, true, :opened_on)
        on conflict (case_id) do nothing""",
    "case-allocated": """
        update caseload_cases set practitioner_id = :practitioner_id, team_id = :team_id
        where case_id = :case_id""",
    "case-reallocated": """
        update caseload_cases
        set practitioner_id = :practitioner_id, team_id = :team_id, points = :points
        where case_id = :case_id""",
    "case-weighting-changed": """
        update caseload_cases
        set points = :points, tier = :tier, stage = :stage, case_type = :case_type
        where case_id = :case_id""",
    "case-closed": """
        update caseload_cases set open = false, closed_on = :closed_on
        where case_id = :case_id""",
    "practitioner-registered": """
        insert into caseload_practitioners (practitioner_id, team_id, region_id, name)
        values (:practitioner_id, :team_id, :region_id, :name)
        on conflict (practitioner_id) do nothing""",
    "practitioner-left": """
        update caseload_practitioners set leaving_date = :leaving_date
        where practitioner_id = :practitioner_id""",
    # Due on the UK day it was recorded: moved now; else pending, replacing those from its day.
    "practitioner-transferred": """
        update caseload_practitioners set
            team_id = case when due then :team_id else team_id end,
            region_id = case when due then :region_id else region_id end,
            transfers = case when due then '[]'::jsonb else coalesce((
                select jsonb_agg(t order by n) from jsonb_array_elements(transfers)
                    with ordinality as pending (t, n)
                where t ->> 'effective_on' < cast(:effective_on as date)::text
            ), '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                'team_id', cast(:team_id as text), 'region_id', cast(:region_id as text),
                'effective_on', cast(:effective_on as date)::text))
            end
        from (select cast(:effective_on as date) <= cast(
            cast(:recorded_at as timestamptz) at time zone 'Europe/London' as date) as due) d
        where practitioner_id = :practitioner_id""",
    "allocation-override-recorded": f"""
        insert into caseload_overrides ({", ".join(_OVERRIDE_COLUMNS)})
        values ({", ".join(f":{c}" for c in _OVERRIDE_COLUMNS)})
        on conflict (event_id) do nothing""",
}


def apply_one_by_one(engine, store) -> None:
    """The whole log into the `reference` schema, one statement per event."""
    with engine.begin() as conn:
        conn.execute(text("create schema if not exists reference"))
        conn.execute(text("set local search_path = reference"))
        conn.exec_driver_sql(projections.SCHEMA)
        for recorded in store.read_all(0, 1_000_000):
            statement = ONE_BY_ONE.get(recorded.type)
            if statement is not None:
                decoded = CATALOGUE.decode(recorded.type, recorded.version, recorded.data)
                params = {
                    **decoded.model_dump(),
                    "event_id": recorded.event_id,
                    "position": recorded.position,
                    "recorded_at": recorded.recorded_at,
                }
                conn.execute(text(statement), params)


def rows(conn: Connection, schema: str, table: str) -> list[dict[str, Any]]:
    query = f"select * from {schema}.{table} order by {TABLES[table]}"
    return [dict(row) for row in conn.execute(text(query)).mappings()]


def tables(engine, schema: str = "public") -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {table: rows(conn, schema, table) for table in TABLES}


def caught_up(caseload: Caseload) -> int:
    return caseload.catch_up()


@pytest.fixture
def caseload(engine, store):
    model = Caseload(engine, store)
    model.create_schema()
    return model


def batched(engine, store, batch: int) -> Caseload:
    model = Caseload(engine, store, batch_size=batch)
    model.create_schema()
    return model


# --- the stories ------------------------------------------------------------------------------

D = date(2026, 3, 2)


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_batched_catch_up_matches_one_by_one(engine, store, batch):
    caseload = batched(engine, store, batch)
    log = Log(store)
    log.record(
        registered("P-A", team_id="T-1", name="Ann"),
        left("P-C", D),  # before P-C is registered: changes nothing
        registered("P-B", team_id="T-1"),
        registered("P-A", team_id="T-9", name="Not Ann"),  # the first registration wins
        left("P-B", D),
        registered("P-C", team_id="T-2"),
        left("P-B", D + timedelta(days=7)),  # the last leaving date stands
        registered("P-D", team_id="T-2"),
        left("P-D", D),  # registered then left, side by side
        transferred("P-A", "T-3", D + timedelta(days=400)),  # to come: pending
        transferred("P-A", "T-4", D + timedelta(days=500)),  # to come after it: both pending
        transferred("P-B", "T-3", D + timedelta(days=400)),
        transferred("P-B", "T-2", D),  # due: moves now, and replaces the one to come
        transferred("P-X", "T-3", D),  # nobody registered: changes nothing
        # One case's whole life, interleaved with others'.
        opened("C-1", team_id="T-1", points=10, tier="C1"),
        opened("C-1", team_id="T-9", points=99),  # opened twice: the first wins
        allocated("C-2", "P-A"),  # before C-2 is opened: changes nothing
        allocated("C-1", "P-A", team_id="T-1"),
        opened("C-2", team_id="T-2", points=5),
        reallocated("C-1", "P-B", team_id="T-2"),
        weighed("C-1", 20, tier="B2"),
        override("C-1", "P-B", team_id="T-2"),
        reallocated("C-1", "P-A", team_id="T-1"),
        weighed("C-1", 30, tier="A3"),
        closed("C-1", D),
        opened("C-3", team_id="T-1", points=7),
        allocated("C-3", "P-C", team_id="T-2"),
    )
    first = caught_up(caseload)
    assert first == store.head_position()

    # Later events about rows an earlier catch-up wrote.
    log.record(
        opened("C-2", team_id="T-9", points=99),  # already open: nothing changes
        registered("P-A", name="Still not Ann"),
        weighed("C-2", 8, tier="D1"),
        allocated("C-2", "P-C", team_id="T-2"),
        override("C-2", "P-C", team_id="T-2", reason="Only one with the training."),
        left("P-A", D + timedelta(days=30)),
        transferred("P-A", "T-5", D + timedelta(days=450)),  # drops the one from day 500
        closed("C-3", D + timedelta(days=1)),
        weighed("C-3", 70),  # after closing: still applied, as one by one
        opened("C-4", team_id="T-3", points=1),
    )
    assert caught_up(caseload) == store.head_position() > first

    apply_one_by_one(engine, store)
    rows_now = tables(engine)
    assert rows_now == tables(engine, "reference")
    cases = {row["case_id"]: row for row in rows_now["caseload_cases"]}
    assert (cases["C-1"]["practitioner_id"], cases["C-1"]["team_id"]) == ("P-A", "T-1")
    assert (cases["C-1"]["points"], cases["C-1"]["open"], cases["C-1"]["closed_on"]) == (
        30,
        False,
        D,
    )
    assert (cases["C-2"]["practitioner_id"], cases["C-2"]["points"]) == ("P-C", 8)
    people = {row["practitioner_id"]: row for row in rows_now["caseload_practitioners"]}
    assert people["P-A"]["name"] == "Ann"
    assert people["P-B"]["leaving_date"] == D + timedelta(days=7)
    assert people["P-C"]["leaving_date"] is None
    assert people["P-D"]["leaving_date"] == D
    assert (people["P-B"]["team_id"], people["P-B"]["transfers"]) == ("T-2", [])
    assert people["P-A"]["team_id"] == "T-1"
    assert [t["team_id"] for t in people["P-A"]["transfers"]] == ["T-3", "T-5"]
    assert [o["case_id"] for o in rows_now["caseload_overrides"]] == ["C-1", "C-2"]


def random_events(rng: random.Random, count: int) -> list[EventData]:
    """A log full of collisions: few cases and practitioners, events in any order."""
    cases = [f"C-{n}" for n in range(40)]
    people = [f"P-{n}" for n in range(15)]
    teams = ["T-1", "T-2", "T-3"]
    tiers = ["A3", "B2", "C1", "D0", None]
    makers = [
        lambda: opened(rng.choice(cases), team_id=rng.choice(teams), points=rng.randrange(99)),
        lambda: allocated(rng.choice(cases), rng.choice(people), team_id=rng.choice(teams)),
        lambda: reallocated(rng.choice(cases), rng.choice(people), team_id=rng.choice(teams)),
        lambda: weighed(rng.choice(cases), rng.randrange(99), tier=rng.choice(tiers)),
        lambda: closed(rng.choice(cases), D + timedelta(days=rng.randrange(60))),
        lambda: registered(rng.choice(people), team_id=rng.choice(teams), name=f"N{rng.random()}"),
        lambda: left(rng.choice(people), D + timedelta(days=rng.randrange(60))),
        lambda: transferred(
            rng.choice(people), rng.choice(teams), D + timedelta(days=rng.randrange(-30, 900))
        ),
        lambda: override(rng.choice(cases), rng.choice(people), points_after=rng.randrange(999)),
    ]
    return [rng.choice(makers)() for _ in range(count)]


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_batched_catch_up_of_a_random_log_matches_one_by_one(engine, store, batch):
    caseload = batched(engine, store, batch)
    rng = random.Random(20261130)
    log = Log(store)
    for _ in range(4):  # catch-ups between appends, as requests come
        log.record(*random_events(rng, rng.randrange(20, 120)))
        caught_up(caseload)
    apply_one_by_one(engine, store)
    rows_now = tables(engine)
    assert rows_now == tables(engine, "reference")
    assert len(rows_now["caseload_cases"]) > 5
    assert any(not row["open"] for row in rows_now["caseload_cases"])


def test_rows_and_checkpoint_move_together_or_not_at_all(engine, store, caseload):
    Log(store).record(registered("P-A"), opened("C-1"), allocated("C-1", "P-A"))
    with engine.connect() as conn:
        assert caseload.model.catch_up(conn) == store.head_position()
        conn.rollback()
    with engine.connect() as conn:
        assert caseload.model.position(conn) == 0
    assert tables(engine) == {table: [] for table in TABLES}
    caught_up(caseload)
    assert len(tables(engine)["caseload_cases"]) == 1


def test_a_new_overrides_table_is_filled_up_to_the_checkpoint(engine, store, monkeypatch):
    monkeypatch.setattr(projections, "BATCH", 2)
    log = Log(store)
    log.record(
        opened("C-1"),
        override("C-1", "P-A"),
        allocated("C-1", "P-A"),
        override("C-1", "P-B", action="reallocate"),
        opened("C-2"),
    )
    caseload = Caseload(engine, store)
    caseload.create_schema()
    caught_up(caseload)
    before = tables(engine)["caseload_overrides"]
    assert len(before) == 2
    # An override after the checkpoint: the backfill leaves it to the next catch-up.
    log.record(override("C-2", "P-C"))
    with engine.begin() as conn:
        conn.execute(text("drop table caseload_overrides"))
    Caseload(engine, store).create_schema()  # a new table: filled from the log
    assert tables(engine)["caseload_overrides"] == before
    caught_up(caseload)
    apply_one_by_one(engine, store)
    assert tables(engine) == tables(engine, "reference")


def test_transfers_to_come_move_the_rows_on_their_day_once(engine, store, caseload):
    Log(store).record(
        registered("P-A", team_id="T-1"),
        registered("P-B", team_id="T-1"),
        transferred("P-A", "T-2", D + timedelta(days=400)),
        transferred("P-A", "T-3", D + timedelta(days=410)),
    )

    assert caseload.move_due_transfers(D + timedelta(days=399)) == 0
    assert caseload.move_due_transfers(D + timedelta(days=405)) == 1
    assert caseload.move_due_transfers(D + timedelta(days=405)) == 0
    people = {row["practitioner_id"]: row for row in tables(engine)["caseload_practitioners"]}
    assert (people["P-A"]["team_id"], people["P-A"]["region_id"]) == ("T-2", "R-T-2")
    assert [t["team_id"] for t in people["P-A"]["transfers"]] == ["T-3"]
    assert caseload.move_due_transfers(D + timedelta(days=410)) == 1
    people = {row["practitioner_id"]: row for row in tables(engine)["caseload_practitioners"]}
    assert (people["P-A"]["team_id"], people["P-A"]["transfers"]) == ("T-3", [])
    assert people["P-B"]["team_id"] == "T-1"


def test_the_day_a_transfer_was_recorded_for_moves_its_row_and_a_rebuild_moves_it_alike(
    engine, store, caseload
):
    log = Log(store)
    log.record(
        registered("P-A", team_id="T-1"),
        transferred("P-A", "T-2", D + timedelta(days=400)),
        event(CalendarDayBegan, day=D + timedelta(days=399)),
    )
    caught_up(caseload)
    assert tables(engine)["caseload_practitioners"][0]["team_id"] == "T-1"

    log.record(event(CalendarDayBegan, day=D + timedelta(days=400)))
    caught_up(caseload)
    live = tables(engine)

    assert live["caseload_practitioners"][0]["team_id"] == "T-2"
    assert caseload.rebuild() == store.head_position()
    assert tables(engine) == live


def test_an_event_the_tables_cannot_hold_is_parked_and_reads_carry_on(engine, store, caseload):
    log = Log(store)
    log.record(registered("P-A"), opened("C-1"), allocated("C-1", "P-A"))
    # Points beyond a 32-bit column, as a store written before the bounds could hold them:
    # appended as raw data, past the catalogue's checks.
    poison = dict(weighed("C-1", 20).model_dump(mode="json"), points=3_000_000_000)
    store.append(
        "caseload-test",
        log.version,
        [NewEvent("case-weighting-changed", 2, poison, "P-A", ACTOR)],
    )
    log.version += 1
    log.record(opened("C-2", points=7), allocated("C-2", "P-A"))

    with caseload.reading() as conn:
        points = conn.execute(
            text("select sum(points) from caseload_cases where practitioner_id = 'P-A'")
        ).scalar_one()

    [parked] = caseload.parked()
    assert parked.type == "case-weighting-changed"
    assert "3000000000" in parked.reason or "less than or equal" in parked.reason
    assert points == 50 + 7  # the events around it applied


def test_the_checkpoint_of_the_read_model_before_the_kit_is_carried_over(engine, store):
    Log(store).record(registered("P-A"), opened("C-1"))
    with engine.begin() as conn:
        conn.execute(
            text("create table caseload_checkpoint (id integer primary key, position bigint)")
        )
        conn.execute(text("insert into caseload_checkpoint values (1, 1)"))
    caseload = Caseload(engine, store)

    caseload.create_schema()

    with engine.connect() as conn:
        assert caseload.model.position(conn) == 1
        assert conn.execute(text("select to_regclass('caseload_checkpoint')")).scalar() is None
        assert (
            conn.execute(
                text("select count(*) from read_model_checkpoints where name = :n"), {"n": NAME}
            ).scalar_one()
            == 1
        )
