"""The wellbeing read models on a database of their own: the records model is the same whatever
the batches it is folded in (a rebuild gives the same rows), and case holders keep the newest
fact whatever order one case's events arrive in."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
import sqlalchemy
from plimsoll_events.projection import Delivered
from plimsoll_events.readmodel import StoreFedReadModel, StoreUpTo
from plimsoll_events.types.allocation import CaseAllocated, CaseClosed, CaseReallocated
from plimsoll_wellbeing.case_holders import CaseHoldersProjection
from plimsoll_wellbeing.projections import TYPES, WellbeingRecords

pytestmark = pytest.mark.stack

TABLES = ("supervisions", "agreements", "declarations", "assessments", "consents")


def _rows(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            table: sorted(map(tuple, conn.exec_driver_sql(f"select * from wellbeing_{table}")))
            for table in TABLES
        }


def test_folding_in_small_batches_gives_the_rows_one_batch_gives(
    wb, wellbeing_store, scratch_database
):
    pid = wb.practitioner()  # at least one record of every kind
    case_id = wb.case_for(pid)
    held = wb.hold(pid, agreements=[{"kind": "suspend", "case_id": case_id, "reason": "Remand"}])
    assert held.status_code == 201, held.text
    wb("ada.admin").put(f"/practitioners/{pid}/union-consent/uma.union")
    store = StoreUpTo(wellbeing_store, wellbeing_store.head_position())
    engine = sqlalchemy.create_engine(scratch_database)
    try:
        by_seven = StoreFedReadModel(engine, store, WellbeingRecords(), types=TYPES, batch_size=7)
        assert by_seven.rebuild() == store.position
        small = _rows(engine)
        at_once = StoreFedReadModel(
            engine, store, WellbeingRecords(), types=TYPES, batch_size=100_000
        )
        assert at_once.rebuild() == store.position
        whole = _rows(engine)
        assert by_seven.parked() == []
    finally:
        engine.dispose()

    assert any(row[0] == pid for row in small["agreements"])
    assert small == whole


def _delivered(data, position: int) -> Delivered:
    return Delivered(
        event_id=uuid4(),
        type=data.type,
        data=data,
        subject=data.practitioner_id,
        time=datetime.now(UTC),
        source="/plimsoll/allocation",
        position=position,
        traceparent=None,
        topic="plimsoll.allocation",
        partition=0,
        offset=position,
    )


def test_case_holders_keep_the_newest_fact_in_any_order(scratch_database):
    allocated = CaseAllocated(
        practitioner_id="P-1",
        case_id="X1",
        team_id="T",
        tier="C1",
        case_type="community",
        points=50,
        allocated_by="mo",
    )
    moved = CaseReallocated(
        practitioner_id="P-2",
        from_practitioner_id="P-1",
        case_id="X1",
        team_id="T",
        from_team_id="T",
        tier="C1",
        case_type="community",
        points=50,
        reason="CASELOAD_ADJUSTMENT",
        note=None,
        reallocated_by="mo",
    )
    closed = CaseClosed(
        case_id="X2",
        practitioner_id="P-1",
        team_id="T",
        points=10,
        closed_on=datetime.now(UTC).date(),
    )
    other = CaseAllocated(
        practitioner_id="P-1",
        case_id="X2",
        team_id="T",
        tier="D1",
        case_type="community",
        points=10,
        allocated_by="mo",
    )
    projection = CaseHoldersProjection("test")
    engine = sqlalchemy.create_engine(scratch_database)
    with engine.begin() as conn:
        projection.create(conn)
        projection.apply(conn, [_delivered(moved, 20), _delivered(closed, 31)])  # newer first
        projection.apply(conn, [_delivered(allocated, 10), _delivered(other, 30)])
        projection.apply(conn, [_delivered(moved, 20)])  # a resend
        rows = sorted(
            conn.exec_driver_sql(
                "select case_id, practitioner_id, open, position from wellbeing_case_holders"
            )
        )
    engine.dispose()

    assert [tuple(r) for r in rows] == [("X1", "P-2", True, 20), ("X2", "P-1", False, 31)]
