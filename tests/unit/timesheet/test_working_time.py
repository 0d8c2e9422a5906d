"""The working-time opt-out: given its events, when a command, then events or a refusal."""

from datetime import date, timedelta

import pytest
from plimsoll_events.types.timesheet import WorkingTimeOptOutRecorded, WorkingTimeOptOutWithdrawn
from plimsoll_timesheet.domain import (
    WORKING_TIME,
    RecordOptOut,
    WithdrawOptOut,
    opted_out_on,
    working_time_stream,
)
from plimsoll_timesheet.domain.errors import InvalidValue, OptOutUnchanged, PractitionerOnly

from .given import PRACTITIONER, TODAY

APRIL = date(2025, 4, 1)
OCTOBER = date(2025, 10, 1)


def opted_out(effective_from: date = APRIL) -> WorkingTimeOptOutRecorded:
    return WorkingTimeOptOutRecorded(practitioner_id=PRACTITIONER, effective_from=effective_from)


def withdrawn(effective_from: date = OCTOBER) -> WorkingTimeOptOutWithdrawn:
    return WorkingTimeOptOutWithdrawn(practitioner_id=PRACTITIONER, effective_from=effective_from)


def opt_out(effective_from: date = APRIL, *, by_practitioner: bool = True) -> RecordOptOut:
    return RecordOptOut(PRACTITIONER, effective_from, by_practitioner, TODAY)


def withdraw(effective_from: date = OCTOBER, *, by_practitioner: bool = True) -> WithdrawOptOut:
    return WithdrawOptOut(PRACTITIONER, effective_from, by_practitioner, TODAY)


def test_the_practitioner_opts_out_from_a_day():
    assert working_time_stream("P-0001") == "working-time-P-0001"
    assert WORKING_TIME.run(opt_out()) == [opted_out()]
    assert WORKING_TIME.run(opt_out(TODAY)) == [opted_out(TODAY)]


def test_the_practitioner_withdraws_their_opt_out():
    assert WORKING_TIME.run(withdraw(), [opted_out()]) == [withdrawn()]


@pytest.mark.parametrize(
    "command", [opt_out(by_practitioner=False), withdraw(by_practitioner=False)]
)
def test_nobody_but_the_practitioner_records_or_withdraws_it(command):
    with pytest.raises(PractitionerOnly) as raised:
        WORKING_TIME.run(command, [opted_out()] if isinstance(command, WithdrawOptOut) else [])
    assert raised.value.field == "practitioner_id"


def test_an_opt_out_is_never_backdated():
    with pytest.raises(InvalidValue) as raised:
        WORKING_TIME.run(opt_out(TODAY - timedelta(days=1)))
    assert raised.value.field == "effective_from"


def test_opting_out_twice_or_withdrawing_nothing_is_refused():
    with pytest.raises(OptOutUnchanged):
        WORKING_TIME.run(opt_out(), [opted_out()])
    with pytest.raises(OptOutUnchanged):
        WORKING_TIME.run(withdraw())
    with pytest.raises(OptOutUnchanged):
        WORKING_TIME.run(withdraw(), [opted_out(), withdrawn()])


def test_the_latest_change_in_effect_on_a_day_decides_whether_the_limit_applies():
    changes = [(APRIL, True), (OCTOBER, False)]

    assert not opted_out_on(changes, date(2025, 3, 31))
    assert opted_out_on(changes, APRIL)
    assert opted_out_on(changes, date(2025, 9, 30))
    assert not opted_out_on(changes, OCTOBER)


def test_a_withdrawal_before_a_planned_opt_out_starts_means_it_never_applies():
    changes = [(OCTOBER, True), (APRIL, False)]

    assert not opted_out_on(changes, date(2025, 11, 1))
    assert not opted_out_on(changes, date(2025, 5, 1))
