"""The duty-of-care facts as stored: plain JSON (dates ISO, decimals as strings), so that a row
is a function of the facts alone and a rebuild writes the same bytes."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from plimsoll_platform.placement_history import Period, PlacementHistory
from plimsoll_platform.working_time import LeaveSpan

from plimsoll_wellbeing.domain.duty import (
    Capacity,
    DutyFacts,
    FullDeclaration,
    Low,
    OpenDeclaration,
    TeamFacts,
)

Json = dict[str, Any]


def _d(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _t(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: date | time | None) -> str | None:
    return None if value is None else value.isoformat()


def capacity_json(capacity: Capacity | None) -> Json | None:
    if capacity is None:
        return None
    return {
        "percent": str(capacity.percent),
        "total_points": capacity.total_points,
        "available_points": capacity.available_points,
        "at": capacity.at.isoformat(),
        "event_id": capacity.event_id,
        "cause_type": capacity.cause_type,
        "first_at": capacity.first_at.isoformat(),
        "lows": [
            [str(low.percent), low.at.isoformat(), _iso(low.raised_at)] for low in capacity.lows
        ],
        "practitioner_count": capacity.practitioner_count,
    }


def capacity_from(raw: Json | None) -> Capacity | None:
    if raw is None:
        return None
    return Capacity(
        percent=Decimal(raw["percent"]),
        total_points=raw["total_points"],
        available_points=raw["available_points"],
        at=datetime.fromisoformat(raw["at"]),
        event_id=raw["event_id"],
        cause_type=raw["cause_type"],
        first_at=datetime.fromisoformat(raw["first_at"]),
        lows=tuple(
            Low(Decimal(p), datetime.fromisoformat(at), _t(raised)) for p, at, raised in raw["lows"]
        ),
        practitioner_count=raw.get("practitioner_count"),
    )


def _placement_json(history: PlacementHistory | None) -> Json | None:
    if history is None:
        return None
    return {
        "name": history.name,
        "grade": history.grade,
        "start_date": history.start_date.isoformat(),
        "leaving_date": _iso(history.leaving_date),
        "periods": [
            [
                p.valid_from.isoformat(),
                p.team_id,
                p.region_id,
                p.line_manager_id,
                str(p.contracted_hours),
            ]
            for p in history.periods
        ],
    }


def _placement_from(practitioner_id: str, raw: Json | None) -> PlacementHistory | None:
    if raw is None:
        return None
    return PlacementHistory(
        practitioner_id=practitioner_id,
        name=raw["name"],
        grade=raw["grade"],
        start_date=date.fromisoformat(raw["start_date"]),
        leaving_date=_d(raw["leaving_date"]),
        periods=tuple(
            Period(date.fromisoformat(valid_from), team, region, manager, Decimal(hours))
            for valid_from, team, region, manager, hours in raw["periods"]
        ),
    )


def facts_json(facts: DutyFacts) -> Json:
    return {
        "placement": _placement_json(facts.placement),
        "capacity": capacity_json(facts.capacity),
        "last_supervision_on": _iso(facts.last_supervision_on),
        "scheduled": {k: v.isoformat() for k, v in sorted(facts.scheduled.items())},
        "declarations": {
            k: [d.declared_on.isoformat(), d.answer_due_by.isoformat(), d.answered, d.status]
            for k, d in sorted(facts.declarations.items())
        },
        "reviews": {k: v.isoformat() for k, v in sorted(facts.reviews.items())},
        "leave": {
            k: [s.kind, s.first_day.isoformat(), s.last_day.isoformat(), s.minutes_per_day]
            for k, s in sorted(facts.leave.items())
        },
        "opt_outs": [[d.isoformat(), out] for d, out in facts.opt_outs],
    }


def facts_from(practitioner_id: str, raw: Json) -> DutyFacts:
    return DutyFacts(
        practitioner_id=practitioner_id,
        placement=_placement_from(practitioner_id, raw["placement"]),
        capacity=capacity_from(raw["capacity"]),
        last_supervision_on=_d(raw["last_supervision_on"]),
        scheduled={k: date.fromisoformat(v) for k, v in raw["scheduled"].items()},
        declarations={
            k: OpenDeclaration(date.fromisoformat(a), date.fromisoformat(b), answered, status)
            for k, (a, b, answered, status) in raw["declarations"].items()
        },
        reviews={k: date.fromisoformat(v) for k, v in raw["reviews"].items()},
        leave={
            k: LeaveSpan(k, kind, date.fromisoformat(a), date.fromisoformat(b), minutes)
            for k, (kind, a, b, minutes) in raw["leave"].items()
        },
        opt_outs=tuple((date.fromisoformat(d), out) for d, out in raw["opt_outs"]),
    )


def team_json(facts: TeamFacts) -> Json:
    full = facts.full
    return {
        "capacity": capacity_json(facts.capacity),
        "full": None
        if full is None
        else [
            full.declared_by,
            full.reason,
            full.declared_on.isoformat(),
            full.expected_until.isoformat(),
        ],
    }


def team_from(team_id: str, region_id: str | None, raw: Json) -> TeamFacts:
    full = raw["full"]
    return TeamFacts(
        team_id=team_id,
        region_id=region_id,
        capacity=capacity_from(raw["capacity"]),
        full=None
        if full is None
        else FullDeclaration(
            full[0], full[1], date.fromisoformat(full[2]), date.fromisoformat(full[3])
        ),
    )
