"""A rebuild of the timesheet read model from the service's store equals the live one, row for
row, at the same position: whatever the batches the events were applied in."""

import pytest
import sqlalchemy
from plimsoll_events.readmodel import StoreFedReadModel, StoreUpTo
from plimsoll_timesheet.projections import TABLES, TimesheetReadModel
from sqlalchemy import text

from .sheet import a_working_day, key, logged, register

pytestmark = pytest.mark.stack

REASON = "Rebuilt from the diary"
ORDER = {
    "timesheet_entries": "entry_id",
    "timesheet_days": "practitioner_id, day",
    "timesheet_leave": "practitioner_id, leave_id",
    "timesheet_opt_outs": "practitioner_id, position",
}


def _rows(conn) -> dict[str, list]:
    return {
        table: [
            tuple(row)
            for row in conn.execute(text(f"select * from {table} order by {ORDER[table]}"))
        ]
        for table in TABLES
    }


def _live(engine) -> tuple[int, dict[str, list]]:
    """The live read model's position and rows, in one snapshot."""
    with engine.connect() as conn:
        conn.execute(text("set transaction isolation level repeatable read"))
        position = conn.execute(
            text("select position from read_model_checkpoints where name = 'timesheet'")
        ).scalar_one()
        return position, _rows(conn)


def test_a_rebuild_equals_the_live_read_model(
    service_api, timesheet_store, timesheet_engine, scratch_database
):
    practitioner = register(service_api)
    mo = service_api("timesheet", "mo.manager")
    day = a_working_day(9)
    entry = logged(
        mo, practitioner, day=str(day), minutes=500, category="casework", on_behalf_reason=REASON
    )["entry_id"]
    logged(mo, practitioner, day=str(day), minutes=30, category="admin", on_behalf_reason=REASON)
    base = f"/practitioners/{practitioner}/days/{day}/entries/{entry}"
    mo.post(
        f"{base}/correction",
        json={"minutes": 450, "category": "court", "reason": "Less"},
        headers=key(),
    )
    mo.post(
        f"/practitioners/{practitioner}/leave",
        headers=key(),
        json={
            "kind": "toil",
            "first_day": str(a_working_day(8)),
            "last_day": str(a_working_day(8)),
            "minutes_per_day": 36,
        },
    )
    # A read brings the live read model up to the store's head.
    assert mo.get(f"/practitioners/{practitioner}/working-time").status_code == 200
    position, live = _live(timesheet_engine)

    rebuilt = sqlalchemy.create_engine(scratch_database)
    # Half the log seven events at a time, the rest in large batches: the rows must not
    # depend on how the events were batched.
    for batch, upto in ((7, position // 2), (997, position)):
        model = StoreFedReadModel(
            rebuilt, StoreUpTo(timesheet_store, upto), TimesheetReadModel(), batch_size=batch
        )
        with rebuilt.begin() as conn:
            assert model.catch_up(conn) == upto
    with rebuilt.connect() as conn:
        replayed = _rows(conn)
        parked = conn.execute(text("select count(*) from read_model_parked")).scalar_one()
    rebuilt.dispose()

    assert parked == 0
    assert replayed == live
    ours = [row for row in live["timesheet_entries"] if row[2] == practitioner]
    assert sorted((row[4], row[5]) for row in ours) == [(30, "admin"), (450, "court")]
