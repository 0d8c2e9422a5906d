"""Re-weighing after a scheme change finishes even when the service stops halfway.

On a scratch database, through the service's own classes: a change of the probation scheme
is recorded, and the re-weighing process manager dies after re-weighing two of five cases
(its transaction, with its checkpoint, never commits). After a restart (a new manager on the
same database) it finishes: every case re-weighed exactly once, and the change answers as
done. Sending the same change again records nothing and answers success.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from plimsoll_allocation import schemes as schemes_module
from plimsoll_allocation.domain import (
    DEFAULT_PROBATION_SCHEME,
    AllocateCase,
    CaseProfile,
    ChangeWeightingScheme,
    OpenCase,
    RegisterPractitioner,
)
from plimsoll_allocation.schemes import Reweighing, SchemeChanges
from sqlalchemy import text

from .inprocess import MANAGER, NOON, Allocation, metadata

CASES = [f"C-{n}" for n in range(5)]


class Crash(BaseException):
    """The process dies here."""


@pytest.fixture
def allocation(scratch_database) -> Iterator[Allocation]:
    service = Allocation.on(scratch_database)
    yield service
    service.close()


def _next_version(points: int) -> ChangeWeightingScheme:
    scheme = DEFAULT_PROBATION_SCHEME
    community = {**scheme.tier_points["community"], "C1": points}
    changed = scheme.model_copy(
        update={"version": 2, "tier_points": {**scheme.tier_points, "community": community}}
    )
    return ChangeWeightingScheme(scheme=changed, changed_by="ada.admin", reason="test")


def _weighings(allocation: Allocation, case_id: str) -> list[int]:
    return [
        e.data["points"]
        for e in allocation.store.read_stream(f"case-{case_id}")
        if e.type == "case-weighting-changed"
    ]


def test_a_reweighing_stopped_halfway_finishes_after_a_restart_each_case_once(
    allocation, monkeypatch
):
    allocation.workforce.register_practitioner(
        RegisterPractitioner(
            "P-1",
            "Pat",
            "PO",
            "T-1",
            "R-1",
            DEFAULT_PROBATION_SCHEME.grades["PO"].default_contracted_hours,
            NOON.date(),
        ),
        metadata(),
    )
    for case_id in CASES:
        allocation.cases.open_case(
            OpenCase(case_id, "T-1", CaseProfile("community", "C1")), metadata()
        )
        allocation.cases.allocate_case(AllocateCase(case_id, "P-1", MANAGER), metadata())
    real = schemes_module.ReweighingModel._reweigh
    done: list[str] = []

    def reweigh_then_die(self, command, metadata):  # type: ignore[no-untyped-def]
        if len(done) == 2:
            raise Crash
        done.append(command.case_id)
        return real(self, command, metadata)

    monkeypatch.setattr(schemes_module.ReweighingModel, "_reweigh", reweigh_then_die)
    with pytest.raises(Crash):
        allocation.scheme_changes.change_scheme(_next_version(60), metadata("ada.admin"))

    # The change is recorded, two cases re-weighed, the manager's checkpoint where it was.
    assert allocation.schemes.in_force("probation")[0].version == 2
    assert sum(bool(_weighings(allocation, c)) for c in CASES) == 2
    with allocation.engine.connect() as conn:
        assert allocation.reweighing.model.position(conn) < allocation.store.head_position()
        assert conn.execute(text("select count(*) from scheme_reweighings")).scalar_one() == 0

    monkeypatch.undo()
    # After a restart: the manager's thread (here, one step) finishes what was left.
    restarted = Reweighing(
        allocation.engine,
        allocation.store,
        allocation.store,
        allocation.schemes,
        allocation.caseload,
    )
    restarted.model.create_schema()
    while allocation.processors.step(restarted.model):
        pass

    assert all(_weighings(allocation, c) == [60] for c in CASES)  # each once, none twice
    # The same change sent again: nothing recorded, and the answer says what was done.
    changes = SchemeChanges(allocation.store, allocation.schemes, restarted)
    head = allocation.store.head_position()
    again = changes.change_scheme(_next_version(60), metadata("ada.admin"))
    assert (again.recorded, again.cases_examined, again.cases_reweighed) == (False, 5, 3)
    assert allocation.store.head_position() == head
