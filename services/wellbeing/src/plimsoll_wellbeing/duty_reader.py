"""Reading the duty-of-care read model: a subject's facts now, or as they were known at an
instant (replayed from `duty_log` with the same fold as the live model), the hours of the days a
judgement needs, and the policy in force.

"Known at an instant" is the events recorded by then (their CloudEvents time): a late entry
about last month is not known before it was logged. The live facts are the fold of every event
applied; the as-of facts the fold of those recorded by the instant, in each producer's order
(producers never touch the same facts, so how the topics interleaved does not matter).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.wellbeing import PolicyAdopted
from sqlalchemy import Connection, text

from plimsoll_wellbeing.domain.duty import (
    DayHours,
    DutyFacts,
    HoursFact,
    TeamFacts,
    evolve,
    evolve_team,
    hours_by_day,
)
from plimsoll_wellbeing.domain.judging import Member
from plimsoll_wellbeing.domain.policy import PolicyInForce, in_force
from plimsoll_wellbeing.duty_codec import facts_from, team_from


def decoded(kind: str, data: Any) -> EventData:
    """A logged event's data as its model (stored upcast: the latest version)."""
    return CATALOGUE.latest(kind).model_validate(data)


def policy_at(conn: Connection, at: datetime) -> PolicyInForce:
    """The policy version in force at `at`: the latest adopted by then, else version 1."""
    rows = conn.execute(
        text("select data from duty_policies where adopted_at <= :at order by policy_version"),
        {"at": at},
    )
    return in_force([PolicyAdopted.model_validate(data) for (data,) in rows], at)


def first_known(conn: Connection, subjects: Sequence[str]) -> datetime | None:
    """When the first event about any of `subjects` was recorded (None: nothing known)."""
    found: datetime | None = conn.execute(
        text("select min(known_at) from duty_log where subject = any(:s)"), {"s": list(subjects)}
    ).scalar_one()
    return found


def first_placed(
    conn: Connection, *, team_id: str | None = None, region_id: str | None = None
) -> datetime | None:
    """When someone was first known to be placed in the team (or region), or the team's first
    event."""
    column, value = ("team_id", team_id) if team_id is not None else ("region_id", region_id)
    found: datetime | None = conn.execute(
        text(
            f"select least((select min(known_at) from duty_memberships where {column} = :v), "  # noqa: S608
            "(select min(known_at) from duty_log where subject = :team))"
        ),
        {"v": value, "team": f"team/{team_id}"},
    ).scalar_one()
    return found


def earliest_event(conn: Connection) -> datetime | None:
    found: datetime | None = conn.execute(text("select min(known_at) from duty_log")).scalar_one()
    return found


# --- practitioners -------------------------------------------------------------------------------


def practitioners_now(conn: Connection, ids: Sequence[str]) -> dict[str, DutyFacts]:
    rows = conn.execute(
        text(
            "select practitioner_id, facts from duty_practitioners where practitioner_id = any(:i)"
        ),
        {"i": list(ids)},
    )
    return {pid: facts_from(pid, raw) for pid, raw in rows}


def practitioners_as_of(conn: Connection, ids: Sequence[str], at: datetime) -> dict[str, DutyFacts]:
    """Their facts as known at `at` (only those of whom something was known by then)."""
    rows = conn.execute(
        text(
            "select subject, event_id, known_at, type, data from duty_log "
            "where subject = any(:i) and day is null and known_at <= :at "
            "order by subject, source, position"
        ),
        {"i": list(ids), "at": at},
    )
    facts: dict[str, DutyFacts] = {}
    for subject, event_id, known_at, kind, data in rows:
        before = facts.get(subject) or DutyFacts(subject)
        facts[subject] = evolve(before, decoded(kind, data), event_id, known_at)
    return facts


def hours(
    conn: Connection, ids: Sequence[str], first: date, last: date, known_by: datetime | None = None
) -> dict[str, dict[date, DayHours]]:
    """Each practitioner's hours per day from `first` to `last`, as known by `known_by` (None:
    everything applied)."""
    rows = conn.execute(
        text(
            "select subject, type, entry_id, day, minutes, started_at, ended_at from duty_log "
            "where subject = any(:i) and day between :first and :last "
            "and (cast(:at as timestamptz) is null or known_at <= :at) "
            "order by subject, source, position"
        ),
        {"i": list(ids), "first": first, "last": last, "at": known_by},
    )
    by_subject: dict[str, list[HoursFact]] = {pid: [] for pid in ids}
    for subject, kind, entry, day, minutes, started, ended in rows:
        by_subject[subject].append(HoursFact(kind, entry, day, minutes, started, ended))
    return {pid: hours_by_day(facts) for pid, facts in by_subject.items()}


def members_now(conn: Connection, team_id: str, today: date) -> list[Member]:
    """Those in post in the team today, by their latest known placement."""
    rows = conn.execute(
        text(
            "select practitioner_id, line_manager_id from duty_practitioners where team_id = :t "
            "and start_date <= :d and (leaving_date is null or leaving_date >= :d) "
            "order by practitioner_id"
        ),
        {"t": team_id, "d": today},
    )
    return [Member(pid, manager) for pid, manager in rows]


def candidates(
    conn: Connection, *, team_id: str | None = None, region_id: str | None = None, at: datetime
) -> list[str]:
    """Practitioners known by `at` to have been placed in the team (or region) at some time."""
    column, value = ("team_id", team_id) if team_id is not None else ("region_id", region_id)
    rows = conn.execute(
        text(
            f"select distinct practitioner_id from duty_memberships where {column} = :v "  # noqa: S608
            "and known_at <= :at order by practitioner_id"
        ),
        {"v": value, "at": at},
    )
    return [pid for (pid,) in rows]


# --- teams ---------------------------------------------------------------------------------------


def team_now(conn: Connection, team_id: str) -> TeamFacts:
    row = conn.execute(
        text("select region_id, facts from duty_teams where team_id = :t"), {"t": team_id}
    ).first()
    return TeamFacts(team_id) if row is None else team_from(team_id, row[0], row[1])


def team_as_of(conn: Connection, team_id: str, at: datetime) -> TeamFacts:
    rows = conn.execute(
        text(
            "select event_id, known_at, type, data from duty_log where subject = :s "
            "and known_at <= :at order by source, position"
        ),
        {"s": f"team/{team_id}", "at": at},
    )
    return fold_team(team_id, ((e, t, decoded(k, d)) for e, t, k, d in rows))


def fold_team(team_id: str, events: Iterable[tuple[Any, datetime, EventData]]) -> TeamFacts:
    facts = TeamFacts(team_id)
    for event_id, at, data in events:
        facts = evolve_team(facts, data, event_id, at)
    return facts
