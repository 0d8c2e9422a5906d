"""Capacity figures followed through the allocation log: the one place they are worked out.

Pure: given the allocation events in log order, `Figures.apply` moves the few
facts capacity rests on and says which figures to publish. Nothing here reads
a clock or a table; the process manager (`plimsoll_allocation.capacity`) loads
the state a batch touches, applies the batch, appends what is published and
saves the state. So the figures depend on the log alone, and replaying it
publishes the same sequence.

What each practitioner's figure rests on:

* total points: the points of the open cases they hold (`case-allocated`,
  `case-reallocated` to and from them, `case-weighting-changed` of a case they
  hold, which is how suspended work and re-tiers arrive, `case-closed`);
* available points: WMT's arithmetic (`capacity.available_points`) on their
  grade's allowance in the scheme in force (`weighting-scheme-changed`), their
  contracted hours (`practitioner-registered`, `contracted-hours-changed`)
  and the reductions in force (`reduction-started`, `reduction-ended`: as
  recorded, by a manager or by the daily reconciliation). A grade no scheme in
  force knows has no available points.

A team's figure is Σ total / Σ available of those in post in it, and how many
they are. A practitioner joins a team when registered; a transfer moves them
when it takes effect, and a leaving takes them out of post the day after their
last day. Both take effect at once when recorded on or after their day (the UK
day the event was recorded), else at the `calendar-day-began` of their day, as
the cause of the figures they move.

After each event (or each transfer or leaving a day brings in), every figure it
touched is published if it differs from the one published last: a
practitioner's as `capacity-changed` when their total or available points
moved, a team's as `team-capacity-changed` when its totals or its headcount
moved; each names the thresholds it is above (`rules.thresholds_above`) and the
event that caused it. Practitioners come first, in the order the event touched
them, then teams.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from uuid import UUID

from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    CalendarDayBegan,
    CapacityChanged,
    CaseAllocated,
    CaseClosed,
    CaseOpened,
    CaseReallocated,
    CaseWeightingChanged,
    ContractedHoursChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
    ReductionEnded,
    ReductionStarted,
    TeamCapacityChanged,
    WeightingSchemeChanged,
)

from plimsoll_allocation.domain.capacity import Workload, available_points, capacity_percent
from plimsoll_allocation.domain.rules import AllocationPolicy, thresholds_above
from plimsoll_allocation.domain.weighting import DEFAULT_SCHEMES, Scheme

MOVES_FIGURES: frozenset[str] = frozenset(
    {
        PractitionerRegistered.type,
        ContractedHoursChanged.type,
        ReductionStarted.type,
        ReductionEnded.type,
        PractitionerTransferred.type,
        PractitionerLeft.type,
        CalendarDayBegan.type,
        CaseOpened.type,
        CaseAllocated.type,
        CaseReallocated.type,
        CaseWeightingChanged.type,
        CaseClosed.type,
        WeightingSchemeChanged.type,
    }
)
"""The event types that can move a figure; every other type changes none."""

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Cause:
    """The event that moved a figure: its id, type and position in the log."""

    event_id: UUID
    type: str
    position: int


@dataclass
class Pending:
    """A transfer or a leaving recorded ahead of its day: it takes effect on `day`."""

    kind: Literal["transfer", "leaving"]
    day: date
    team_id: str | None
    region_id: str | None
    cause: Cause


@dataclass
class Member:
    """What a practitioner's figure rests on, and the figure published last."""

    practitioner_id: str
    grade: str
    contracted_hours: Decimal
    team_id: str
    region_id: str
    reductions: dict[str, Decimal] = field(default_factory=dict)
    in_post: bool = True
    total_points: int = 0
    pending: list[Pending] = field(default_factory=list)
    published: tuple[int, int] | None = None
    """(total, available) as last published; None before the first."""
    stream_version: int = 0


@dataclass
class Team:
    """A team's sums over those in post, and the figure published last."""

    team_id: str
    region_id: str
    total_points: int = 0
    available_points: int = 0
    members: int = 0
    published: tuple[int, int, int] | None = None
    """(total, available, members) as last published; None before the first."""
    stream_version: int = 0

    @property
    def figure(self) -> tuple[int, int, int]:
        return (self.total_points, self.available_points, self.members)


@dataclass
class CaseWeight:
    """A case as figures need it: who holds it while open, and what it weighs."""

    case_id: str
    practitioner_id: str | None
    points: int
    open: bool = True


@dataclass(frozen=True)
class Published:
    """A figure to publish, on the stream of whose figure it is."""

    stream_id: str
    data: CapacityChanged | TeamCapacityChanged
    cause: Cause
    owner: Member | Team


@lru_cache(maxsize=4096)
def _available(nominal: int, contracted: Decimal, reduced: Decimal, default: Decimal) -> int:
    # Exact rational arithmetic is slow and asked for again and again with the same few
    # grades and hours (a team's sums follow every change of a member).
    return available_points(
        nominal_target_points=nominal,
        contracted_hours=contracted,
        reduction_hours=reduced,
        default_contracted_hours=default,
    )


def capacity_stream(practitioner_id: str) -> str:
    """The stream of a practitioner's `capacity-changed`."""
    return f"capacity-{practitioner_id}"


def team_capacity_stream(team_id: str) -> str:
    """The stream of a team's `team-capacity-changed` (its Kafka key)."""
    return f"team-capacity-{team_id}"


_Share = tuple[str, str, int, int] | None
"""What a member adds to a team: (team, region, total, available), or None out of post."""


@dataclass
class Figures:
    """The state a batch of events touches, moved in memory (see the module)."""

    members: dict[str, Member]
    teams: dict[str, Team]
    cases: dict[str, CaseWeight]
    schemes: dict[str, Scheme]
    policy: AllocationPolicy
    _touched_members: dict[str, Member] = field(default_factory=dict)
    _touched_teams: dict[str, Team] = field(default_factory=dict)

    # --- available points --------------------------------------------------------------------

    def available(self, member: Member) -> int:
        """Their available points under the scheme in force that knows their grade."""
        for default in DEFAULT_SCHEMES:
            scheme = self.schemes.get(default.kind, default)
            allowance = scheme.grades.get(member.grade)
            if allowance is not None:
                return _available(
                    allowance.nominal_target_points,
                    member.contracted_hours,
                    sum(member.reductions.values(), Decimal(0)),
                    allowance.default_contracted_hours,
                )
        return 0

    # --- applying ----------------------------------------------------------------------------

    def apply(self, event: EventData, cause: Cause, recorded_on: date) -> list[Published]:
        """Apply one event (recorded on the UK day `recorded_on`); the figures to publish."""
        if isinstance(event, CalendarDayBegan):
            return self._day_began(event.day)
        self._apply(event, cause, recorded_on)
        return self._publish(cause)

    def _apply(self, event: EventData, cause: Cause, recorded_on: date) -> None:
        if isinstance(event, PractitionerRegistered):
            if event.practitioner_id not in self.members:
                joining = Member(
                    practitioner_id=event.practitioner_id,
                    grade=event.grade,
                    contracted_hours=event.contracted_hours,
                    team_id=event.team_id,
                    region_id=event.region_id,
                    in_post=False,
                )
                self.members[joining.practitioner_id] = joining
                with self._changing(joining):
                    joining.in_post = True
        elif isinstance(event, ContractedHoursChanged):
            self._change(event.practitioner_id, contracted_hours=event.contracted_hours)
        elif isinstance(event, ReductionStarted):
            reduced = self.members.get(event.practitioner_id)
            if reduced is not None:
                with self._changing(reduced):
                    reduced.reductions[event.reduction_id] = event.hours
        elif isinstance(event, ReductionEnded):
            restored = self.members.get(event.practitioner_id)
            if restored is not None:
                with self._changing(restored):
                    restored.reductions.pop(event.reduction_id, None)
        elif isinstance(event, PractitionerTransferred):
            self._transfer(event, cause, recorded_on)
        elif isinstance(event, PractitionerLeft):
            self._leave(event, cause, recorded_on)
        elif isinstance(event, WeightingSchemeChanged):
            self._scheme(event.scheme)
        else:
            self._case(event)

    def _case(self, event: EventData) -> None:
        if isinstance(event, CaseOpened):
            self.cases.setdefault(event.case_id, CaseWeight(event.case_id, None, event.points))
            return
        if not isinstance(
            event, CaseAllocated | CaseReallocated | CaseWeightingChanged | CaseClosed
        ):
            return
        case = self.cases.get(event.case_id)
        if case is None or not case.open:
            return
        if isinstance(event, CaseAllocated | CaseReallocated):
            self._carry(case.practitioner_id, -case.points)
            case.practitioner_id, case.points = event.practitioner_id, event.points
            self._carry(case.practitioner_id, case.points)
        elif isinstance(event, CaseWeightingChanged):
            self._carry(case.practitioner_id, event.points - case.points)
            case.points = event.points
        else:
            self._carry(case.practitioner_id, -case.points)
            case.practitioner_id, case.open = None, False

    def _carry(self, practitioner_id: str | None, points: int) -> None:
        member = None if practitioner_id is None else self.members.get(practitioner_id)
        if member is not None and points:
            with self._changing(member):
                member.total_points += points

    def _change(self, practitioner_id: str, *, contracted_hours: Decimal) -> None:
        member = self.members.get(practitioner_id)
        if member is not None:
            with self._changing(member):
                member.contracted_hours = contracted_hours

    def _transfer(self, event: PractitionerTransferred, cause: Cause, recorded_on: date) -> None:
        member = self.members.get(event.practitioner_id)
        if member is None:
            return
        # A later record wins from its day on: transfers pending for that day or later go.
        member.pending = [
            p for p in member.pending if p.kind != "transfer" or p.day < event.effective_on
        ]
        if event.effective_on <= recorded_on:
            with self._changing(member):
                member.team_id, member.region_id = event.team_id, event.region_id
        else:
            member.pending.append(
                Pending("transfer", event.effective_on, event.team_id, event.region_id, cause)
            )

    def _leave(self, event: PractitionerLeft, cause: Cause, recorded_on: date) -> None:
        member = self.members.get(event.practitioner_id)
        if member is None:
            return
        out_from = event.leaving_date + _ONE_DAY
        member.pending = [p for p in member.pending if p.kind != "leaving"]
        if out_from <= recorded_on:
            with self._changing(member):
                member.in_post = False
        else:
            member.pending.append(Pending("leaving", out_from, None, None, cause))

    def _day_began(self, day: date) -> list[Published]:
        """Bring in what was recorded for `day` or before, each as the cause of its figures."""
        due = sorted(
            ((p, m) for m in self.members.values() for p in m.pending if p.day <= day),
            key=lambda item: (item[0].day, item[0].cause.position, item[1].practitioner_id),
        )
        published: list[Published] = []
        for pending, member in due:
            member.pending.remove(pending)
            with self._changing(member):
                if pending.kind == "leaving":
                    member.in_post = False
                elif pending.team_id is not None and pending.region_id is not None:
                    member.team_id, member.region_id = pending.team_id, pending.region_id
            published += self._publish(pending.cause)
        return published

    def _scheme(self, scheme: Scheme) -> None:
        """A new scheme version: every member's available points may move."""
        shares = {p: self._share(m) for p, m in self.members.items()}
        self.schemes[scheme.kind] = scheme
        for practitioner_id, member in sorted(self.members.items()):
            self._move(shares[practitioner_id], self._share(member))
            self._touched_members.setdefault(practitioner_id, member)

    # --- team sums ---------------------------------------------------------------------------

    def _share(self, member: Member) -> _Share:
        if not member.in_post:
            return None
        return (member.team_id, member.region_id, member.total_points, self.available(member))

    @contextmanager
    def _changing(self, member: Member) -> Iterator[None]:
        """A block that changes a member: the team sums follow what they add before and
        after it, and the member is touched."""
        before = self._share(member)
        yield
        self._move(before, self._share(member))
        self._touched_members.setdefault(member.practitioner_id, member)

    def _move(self, before: _Share, after: _Share) -> None:
        if before == after:
            return
        if before is not None:
            team = self._team(before[0], before[1])
            team.total_points -= before[2]
            team.available_points -= before[3]
            team.members -= 1
        if after is not None:
            team = self._team(after[0], after[1])
            team.region_id = after[1]
            team.total_points += after[2]
            team.available_points += after[3]
            team.members += 1

    def _team(self, team_id: str, region_id: str) -> Team:
        team = self.teams.get(team_id)
        if team is None:
            team = self.teams[team_id] = Team(team_id, region_id)
        self._touched_teams.setdefault(team_id, team)
        return team

    # --- publishing --------------------------------------------------------------------------

    def _publish(self, cause: Cause) -> list[Published]:
        published = [*self._members_published(cause), *self._teams_published(cause)]
        self._touched_members.clear()
        self._touched_teams.clear()
        return published

    def _members_published(self, cause: Cause) -> Iterator[Published]:
        for member in self._touched_members.values():
            figure = (member.total_points, self.available(member))
            if figure == member.published:
                continue
            previous = member.published
            member.published = figure
            yield Published(
                capacity_stream(member.practitioner_id),
                CapacityChanged(
                    practitioner_id=member.practitioner_id,
                    team_id=member.team_id,
                    region_id=member.region_id,
                    **self._figure(figure[0], figure[1], previous, cause),
                ),
                cause,
                member,
            )

    def _teams_published(self, cause: Cause) -> Iterator[Published]:
        for team in self._touched_teams.values():
            figure = team.figure
            if figure == team.published:
                continue
            previous = team.published
            team.published = figure
            yield Published(
                team_capacity_stream(team.team_id),
                TeamCapacityChanged(
                    team_id=team.team_id,
                    region_id=team.region_id,
                    practitioner_count=team.members,
                    **self._figure(
                        team.total_points,
                        team.available_points,
                        None if previous is None else previous[:2],
                        cause,
                    ),
                ),
                cause,
                team,
            )

    def _figure(
        self, total: int, available: int, previous: tuple[int, int] | None, cause: Cause
    ) -> dict[str, object]:
        return {
            "total_points": total,
            "available_points": available,
            "capacity_percent": capacity_percent(total, available),
            "above": list(thresholds_above(Workload(total, available), self.policy)),
            "override_threshold_percent": self.policy.override_threshold_percent,
            "hard_ceiling_percent": self.policy.hard_ceiling_percent,
            "previous_total_points": None if previous is None else previous[0],
            "previous_available_points": None if previous is None else previous[1],
            "previous_capacity_percent": None if previous is None else capacity_percent(*previous),
            "cause_event_id": cause.event_id,
            "cause_type": cause.type,
            "cause_position": cause.position,
        }
