"""The timesheet's handlers on the in-memory store: context filled in from the clock and the
placement, entries named by their event ids, a write in between refused, retries answered."""

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from plimsoll_events.handling import Idempotency
from plimsoll_events.memory import MemoryStore
from plimsoll_events.records import Metadata
from plimsoll_events.store import ConcurrencyError
from plimsoll_platform.clock import FixedClock
from plimsoll_platform.placement_history import Period, PlacementHistory
from plimsoll_timesheet.domain import CorrectHours, LogHours, day_stream
from plimsoll_timesheet.domain.errors import InTheFuture, NotFound, NotInPost
from plimsoll_timesheet.handlers import Practitioner, Timesheets

NOW = datetime(2025, 3, 5, 17, 30, tzinfo=UTC)  # 17:30 in London, a Wednesday
MONDAY = date(2025, 3, 3)
META = Metadata(actor="mo.manager", correlation_id=uuid.uuid4())
HISTORY = PlacementHistory(
    practitioner_id="P-0001",
    name="Pat Practitioner",
    grade="PO",
    start_date=date(2024, 9, 2),
    leaving_date=None,
    periods=(Period(date(2024, 9, 2), "T-NORTH-1", "R-NORTH", "P-0100", Decimal(30)),),
)
PAT = Practitioner("P-0001", HISTORY, by_practitioner=True)


@pytest.fixture
def handlers() -> Timesheets:
    return Timesheets(MemoryStore(), FixedClock(NOW))


def test_the_contracted_day_comes_from_the_placement_on_that_day(handlers):
    done = handlers.log_hours(LogHours("P-0001", MONDAY, 400, "casework"), PAT, META, None)

    assert done.contracted_day_minutes == 360  # 30 hours / 5
    assert done.day.toil_minutes == 40
    assert [e.type for e in done.outcome.recorded] == ["hours-logged", "toil-accrued"]


def test_today_and_now_are_the_clocks_in_the_uk(handlers):
    today = NOW.date()
    handlers.log_hours(LogHours("P-0001", today, 60, "admin"), PAT, META, None)

    with pytest.raises(InTheFuture):
        handlers.log_hours(LogHours("P-0001", today, 17 * 60 + 31, "admin"), PAT, META, None)


def test_an_entry_is_corrected_by_the_id_of_its_event(handlers):
    logged = handlers.log_hours(LogHours("P-0001", MONDAY, 120, "casework"), PAT, META, None)
    entry_id = logged.outcome.recorded[0].event_id

    done = handlers.correct_hours(
        CorrectHours("P-0001", MONDAY, entry_id, 90, "travel", "It was the drive"), PAT, META, None
    )

    (entry,) = done.day.entries(done.event_ids)
    assert (entry.entry_id, entry.minutes, entry.category) == (entry_id, 90, "travel")


def test_a_write_between_the_read_and_the_append_is_a_conflict(handlers):
    store: MemoryStore = handlers.store  # type: ignore[assignment]
    stream = day_stream("P-0001", MONDAY)
    read = store.read_stream
    written: list[bool] = []

    def read_then_someone_writes(stream_id: str, after_version: int = 0):
        events = read(stream_id, after_version)
        if stream_id == stream and not written:
            written.append(True)  # someone else logs time on the day, once, after our read
            other = Timesheets(store, handlers.clock)
            other.log_hours(LogHours("P-0001", MONDAY, 30, "admin"), PAT, META, None)
        return events

    store.read_stream = read_then_someone_writes  # type: ignore[method-assign]
    with pytest.raises(ConcurrencyError):
        handlers.log_hours(LogHours("P-0001", MONDAY, 60, "casework"), PAT, META, None)
    assert [e.type for e in read(stream)] == ["hours-logged"]


def test_a_retry_gets_the_first_answer_and_writes_nothing(handlers):
    key = Idempotency("mo 1", "body")
    command = LogHours("P-0001", MONDAY, 60, "casework")

    first = handlers.log_hours(command, PAT, META, key)
    again = handlers.log_hours(command, PAT, META, key)

    assert again.outcome.repeated
    assert again.outcome.recorded == first.outcome.recorded
    assert len(handlers.store.read_stream(day_stream("P-0001", MONDAY))) == 1


def test_someone_placements_do_not_know_or_a_day_out_of_post_is_refused(handlers):
    nobody = Practitioner("P-9999", None, by_practitioner=False)

    with pytest.raises(NotFound):
        handlers.log_hours(LogHours("P-9999", MONDAY, 60, "admin"), nobody, META, None)
    with pytest.raises(NotInPost):
        handlers.log_hours(LogHours("P-0001", date(2024, 8, 30), 60, "admin"), PAT, META, None)


def test_many_rows_are_logged_together_and_what_is_not_settled_is_left_to_run_alone(handlers):
    tuesday = date(2025, 3, 4)
    earlier_key = Idempotency("sheet row 5", "row 5")
    handlers.log_hours(LogHours("P-0001", tuesday, 30, "court"), PAT, META, earlier_key)

    def row(n: int, day: date, minutes: int, start: int | None = None) -> tuple:
        interval = (time(start), time(start + minutes // 60)) if start is not None else ()
        command = LogHours("P-0001", day, minutes, "casework", *interval, sheet_occurrence=1)
        return command, Idempotency(f"sheet row {n}", f"row {n}")

    rows = [
        row(1, MONDAY, 120, 9),
        row(2, MONDAY, 120, 10),  # overlaps row 1: refused alone, as ever
        row(3, MONDAY, 60),
        row(4, tuesday, 60),
        (LogHours("P-0001", tuesday, 45, "admin", sheet_occurrence=1), earlier_key),  # used
        row(6, tuesday, 30),  # after a row whose append was answered from its key
    ]

    first = handlers.log_hours_together(rows, PAT, META)
    again = handlers.log_hours_together(rows, PAT, META)

    assert first == [True, None, True, True, None, None]
    assert again == [False, None, False, False, None, None]
    monday = handlers.store.read_stream(day_stream("P-0001", MONDAY))
    assert [e.data["minutes"] for e in monday if e.type == "hours-logged"] == [120, 60]
    tuesdays = handlers.store.read_stream(day_stream("P-0001", tuesday))
    assert [e.data["minutes"] for e in tuesdays if e.type == "hours-logged"] == [30, 60]
