"""Reads, apart from commands: a practitioner today, their caseload, capacity and impact
preview, a team's and a region's capacity, the recorded overrides.

Two sources:

* a practitioner's or a case's own stream, folded: exact. A practitioner is
  read as placed today, with the reductions due by today applied as the daily
  reconciliation would record them (a read never records anything);
* the caseload read model (`projections`), on a caught-up connection, so reads
  see every write that returned. The SQL functions take that connection, so a
  handler holding a practitioner's allocation lock reads on the same one.

Each answer is an object shaped as its view in `api`, which is built from it
with `model_validate`. A record that does not exist is None: the route decides,
with the caller's scope, whether that is a 404 or a 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Final
from uuid import UUID

from plimsoll_events.handling import Store, load, load_many
from plimsoll_events.types.allocation import AllocationOverrideRecorded
from plimsoll_platform.clock import Clock
from sqlalchemy import Connection, text

from plimsoll_allocation.domain import (
    CASE,
    DEFAULT_POLICY,
    PRACTITIONER,
    AllocationPolicy,
    Case,
    ImpactPreview,
    NotFound,
    Practitioner,
    PractitionerFacts,
    ReconcileReductions,
    Scheme,
    Workload,
    assess_allocation,
    available_points_of,
    case_points,
    case_stream,
    pooled,
    practitioner_stream,
    scheme_for_case_type,
    scheme_for_grade,
)
from plimsoll_allocation.projections import Caseload

if TYPE_CHECKING:
    from plimsoll_allocation.schemes import SchemeSource


# From the streams.


@dataclass(frozen=True)
class PractitionerReading:
    """A practitioner as their stream says today, with their capacity figures."""

    practitioner: Practitioner
    scheme: Scheme
    today: date
    available_points: int
    version: int


def read_practitioner(
    store: Store, practitioner_id: str, schemes: tuple[Scheme, ...], today: date
) -> PractitionerReading | None:
    """The practitioner today; None when never registered."""
    state, version = load(store, PRACTITIONER, practitioner_stream(practitioner_id))
    return None if state is None else _reading(state, version, schemes, today)


def read_practitioners(
    store: Store, practitioner_ids: Sequence[str], schemes: tuple[Scheme, ...], today: date
) -> dict[str, PractitionerReading]:
    """`read_practitioner` for several (a team), their streams read in one query."""
    streams = [practitioner_stream(p) for p in practitioner_ids]
    loaded = load_many(store, PRACTITIONER, streams)
    readings = {}
    for practitioner_id, stream in zip(practitioner_ids, streams, strict=True):
        state, version = loaded[stream]
        if state is None:
            raise NotFound(f"no practitioner {practitioner_id!r}", field="practitioner_id")
        readings[practitioner_id] = _reading(state, version, schemes, today)
    return readings


def _reading(
    state: Practitioner, version: int, schemes: tuple[Scheme, ...], today: date
) -> PractitionerReading:
    due = PRACTITIONER.decide(ReconcileReductions(state.practitioner_id, today), state)
    folded = PRACTITIONER.fold(due, state)
    assert folded is not None  # reconciling never unregisters anyone
    practitioner = folded.on(today)
    scheme = scheme_for_grade(schemes, practitioner.grade)
    return PractitionerReading(
        practitioner=practitioner,
        scheme=scheme,
        today=today,
        available_points=available_points_of(practitioner, scheme),
        version=version,
    )


def read_case(store: Store, case_id: str) -> Case | None:
    """The case as its stream says; None when never opened."""
    state, _ = load(store, CASE, case_stream(case_id))
    return state


# From the caseload read model, on a caught-up connection.


@dataclass(frozen=True)
class CaseRow:
    """One case as the read model holds it."""

    case_id: str
    team_id: str
    practitioner_id: str | None
    case_type: str
    tier: str | None
    stage: str | None
    points: int
    open: bool
    opened_on: date
    closed_on: date | None


@dataclass(frozen=True)
class Member:
    """A practitioner in post, their team, and the points of the open cases they carry."""

    practitioner_id: str
    name: str
    total_points: int
    team_id: str


class RecordedOverride(AllocationOverrideRecorded):
    """An `allocation-override-recorded` as the read model keeps it: the event's fields, its
    id and when it was recorded."""

    event_id: UUID
    recorded_at: datetime


def total_points(conn: Connection, practitioner_id: str) -> int:
    """The points of the open cases the practitioner carries."""
    total = conn.execute(
        text(
            "select coalesce(sum(points), 0) from caseload_cases "
            "where open and practitioner_id = :p"
        ),
        {"p": practitioner_id},
    ).scalar_one()
    return int(total)


def open_cases(conn: Connection, practitioner_id: str) -> list[CaseRow]:
    """The open cases the practitioner carries, oldest first."""
    rows = conn.execute(
        text(
            "select * from caseload_cases where open and practitioner_id = :p "
            "order by opened_on, case_id"
        ),
        {"p": practitioner_id},
    ).mappings()
    return [CaseRow(**row) for row in rows]


def all_open_cases(conn: Connection) -> list[CaseRow]:
    """Every open case (for re-weighing after a scheme change)."""
    rows = conn.execute(text("select * from caseload_cases where open order by case_id"))
    return [CaseRow(**row) for row in rows.mappings()]


def practitioner_ids(conn: Connection) -> list[str]:
    """Everyone ever registered, in order (a reconciliation visits them all)."""
    rows = conn.execute(
        text("select practitioner_id from caseload_practitioners order by practitioner_id")
    )
    return [str(row[0]) for row in rows]


def team_region(conn: Connection, team_id: str) -> str | None:
    """The team's region, as its practitioners are placed; None if nobody is."""
    region = conn.execute(
        text("select region_id from caseload_practitioners where team_id = :team limit 1"),
        {"team": team_id},
    ).scalar_one_or_none()
    return None if region is None else str(region)


def case_region(conn: Connection, case_id: str) -> str | None:
    """The region of the team holding the case; None if not known (or no such case)."""
    region = conn.execute(
        text(
            "select p.region_id from caseload_cases c "
            "join caseload_practitioners p on p.team_id = c.team_id "
            "where c.case_id = :case limit 1"
        ),
        {"case": case_id},
    ).scalar_one_or_none()
    return None if region is None else str(region)


_TEAM: Final = "p.team_id = :place"
_REGION: Final = "p.region_id = :place"


def members_in_post(conn: Connection, where: str, place: str, today: date) -> list[Member]:
    """Those of a team (`_TEAM`) or region (`_REGION`) in post today, and their points."""
    rows = conn.execute(
        text(
            f"""
            select p.practitioner_id, p.name, p.team_id, coalesce(c.total, 0) as total_points
            from caseload_practitioners p
            left join lateral (
                -- One look-up in the open-cases index per member, whatever plan the
                -- prepared statement settles on: never a scan of every case.
                select sum(points) as total from caseload_cases c
                where c.practitioner_id = p.practitioner_id and c.open
            ) c on true
            where {where} and (p.leaving_date is null or p.leaving_date >= :today)
            order by p.team_id, p.practitioner_id
            """  # noqa: S608 - `where` is one of this module's constants
        ),
        {"place": place, "today": today},
    ).mappings()
    return [Member(**row) for row in rows]


_OVERRIDE_COLUMNS: Final = ", ".join(f"o.{name}" for name in RecordedOverride.model_fields)


def overrides(
    conn: Connection, *, since: date | None, team_id: str | None, region_id: str | None
) -> list[tuple[RecordedOverride, str]]:
    """Recorded overrides on or after `since` (a UTC day), in a team and region if given
    (the region the practitioner given the case is in), each with that region; newest
    first."""
    rows = conn.execute(
        text(
            f"""
            select {_OVERRIDE_COLUMNS}, p.region_id as practitioner_region_id
            from caseload_overrides o
            join caseload_practitioners p using (practitioner_id)
            where (cast(:since as date) is null or o.recorded_at >= cast(:since as date))
              and (cast(:team as text) is null or o.team_id = :team)
              and (cast(:region as text) is null or p.region_id = :region)
            order by o.position desc
            """  # noqa: S608 - the columns are the model's own field names
        ),
        {"since": since, "team": team_id, "region": region_id},
    ).mappings()
    found = []
    for row in rows:
        values = dict(row)
        region = str(values.pop("practitioner_region_id"))
        found.append((RecordedOverride.model_validate(values), region))
    return found


# The answers.


@dataclass(frozen=True)
class PractitionerCaseload:
    """The open cases a practitioner carries."""

    practitioner_id: str
    cases: list[CaseRow]
    as_of: date

    @property
    def total_points(self) -> int:
        return sum(case.points for case in self.cases)


@dataclass(frozen=True)
class PractitionerCapacity(Workload):
    """A practitioner's points and available points today."""

    practitioner_id: str
    as_of: date


@dataclass(frozen=True)
class Impact:
    """What giving a case to a practitioner would do to their capacity, and need."""

    practitioner_id: str
    case_id: str
    preview: ImpactPreview
    needs_override_reason: bool
    needs_head_of_service: bool


@dataclass(frozen=True)
class MemberWorkload(Workload):
    """A member of a team or region in post, with their workload."""

    practitioner_id: str
    name: str
    team_id: str


@dataclass(frozen=True)
class Figures:
    """The capacity of those in post somewhere: Σ points / Σ available points (`pooled`)."""

    members: list[MemberWorkload]

    @cached_property
    def _whole(self) -> Workload:
        return pooled(self.members)

    @property
    def total_points(self) -> int:
        return self._whole.total_points

    @property
    def available_points(self) -> int:
        return self._whole.available_points

    @property
    def capacity_percent(self) -> Decimal:
        return self._whole.capacity_percent

    @property
    def practitioner_count(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class TeamFigures(Figures):
    """A team's figures."""

    team_id: str


@dataclass(frozen=True)
class TeamCapacity(TeamFigures):
    """A team's figures and members, and its region (None: nobody is placed in it)."""

    region_id: str | None
    as_of: date

    @property
    def practitioners(self) -> list[MemberWorkload]:
        return self.members


@dataclass(frozen=True)
class RegionCapacity(Figures):
    """A region's figures, and its teams' figures."""

    region_id: str
    as_of: date

    @property
    def teams(self) -> list[TeamFigures]:
        by_team: dict[str, list[MemberWorkload]] = {}
        for member in self.members:
            by_team.setdefault(member.team_id, []).append(member)
        return [TeamFigures(members, team_id) for team_id, members in by_team.items()]


@dataclass(frozen=True)
class Queries:
    """The reads the routes make, each from its source (see the module)."""

    store: Store
    caseload: Caseload
    schemes: SchemeSource
    clock: Clock
    policy: AllocationPolicy = DEFAULT_POLICY

    def practitioner(self, practitioner_id: str) -> PractitionerReading | None:
        return read_practitioner(
            self.store, practitioner_id, self.schemes.current(), self.clock.today()
        )

    def case(self, case_id: str) -> Case | None:
        return read_case(self.store, case_id)

    def team_region(self, team_id: str) -> str | None:
        with self.caseload.reading() as conn:
            return team_region(conn, team_id)

    def practitioner_ids(self) -> list[str]:
        with self.caseload.reading() as conn:
            return practitioner_ids(conn)

    def caseload_of(self, reading: PractitionerReading) -> PractitionerCaseload:
        practitioner_id = reading.practitioner.practitioner_id
        with self.caseload.reading() as conn:
            cases = open_cases(conn, practitioner_id)
        return PractitionerCaseload(practitioner_id, cases, reading.today)

    def capacity_of(self, reading: PractitionerReading) -> PractitionerCapacity:
        practitioner_id = reading.practitioner.practitioner_id
        with self.caseload.reading() as conn:
            total = total_points(conn, practitioner_id)
        return PractitionerCapacity(total, reading.available_points, practitioner_id, reading.today)

    def impact_of(self, reading: PractitionerReading, case: Case) -> Impact:
        """The impact preview of giving the case to the practitioner: what it would bring
        them (its full points, if work on it is suspended: a reallocation ends that)."""
        practitioner = reading.practitioner
        points = case.points
        if case.suspended_by is not None:
            scheme = scheme_for_case_type(self.schemes.current(), case.profile.case_type)
            points = case_points(scheme, case.profile)
        with self.caseload.reading() as conn:
            total = total_points(conn, practitioner.practitioner_id)
        facts = PractitionerFacts.of(practitioner, reading.scheme, total)
        assessment = assess_allocation(facts, points, self.policy)
        return Impact(
            practitioner.practitioner_id,
            case.case_id,
            assessment.preview,
            assessment.needs_reason,
            assessment.needs_head_of_service,
        )

    def team_capacity(self, team_id: str) -> TeamCapacity:
        """The team's region, and each member in post today with their workload."""
        today = self.clock.today()
        with self.caseload.reading() as conn:
            region_id = team_region(conn, team_id)
            members = members_in_post(conn, _TEAM, team_id, today)
        return TeamCapacity(self._workloads(members, today), team_id, region_id, today)

    def region_capacity(self, region_id: str) -> RegionCapacity:
        """Each practitioner of the region in post today, with their team and workload."""
        today = self.clock.today()
        with self.caseload.reading() as conn:
            members = members_in_post(conn, _REGION, region_id, today)
        return RegionCapacity(self._workloads(members, today), region_id, today)

    def overrides(
        self, *, since: date | None, team_id: str | None, region_id: str | None
    ) -> list[tuple[RecordedOverride, str]]:
        """The recorded allocation overrides, newest first, each with its region."""
        with self.caseload.reading() as conn:
            return overrides(conn, since=since, team_id=team_id, region_id=region_id)

    def _workloads(self, members: list[Member], today: date) -> list[MemberWorkload]:
        ids = [m.practitioner_id for m in members]
        readings = read_practitioners(self.store, ids, self.schemes.current(), today)
        return [
            MemberWorkload(
                total_points=m.total_points,
                available_points=readings[m.practitioner_id].available_points,
                practitioner_id=m.practitioner_id,
                name=m.name,
                team_id=m.team_id,
            )
            for m in members
        ]
