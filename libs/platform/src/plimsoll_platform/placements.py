"""Placements: every service's one answer to "whose team, region and manager, on which day".

`PlacementsProjection` is a Kafka-fed read model (run by `ProjectionRunner`,
see `projections.KafkaProjections`) of the allocation service's topic. It folds
`practitioner-registered`, `practitioner-transferred`, `line-manager-changed`,
`contracted-hours-changed` and `practitioner-left` (see `placement_history` for
what each one does) into two tables in the consuming service's database:

* `placements`: one row per practitioner (name, grade, start and leaving date);
* `placement_periods`: their placement from `valid_from` to `valid_to` (the
  last day, null while open): team, region, line manager, contracted hours.

`Placements` answers from them: now (`of`), on a past or future day (`on`), and
who was in post in a team, region or under a manager on a day.

Guarantees:

* Every other event type is ignored; a placement event for a practitioner never
  registered is refused (the runner dead-letters it, with the reason).
* Exactly-once effect comes from the runner (applied and checkpointed in one
  transaction). On top of that every fold step is idempotent and a function of
  the event alone (dates from the event, never from the wall clock), and one
  practitioner's events arrive in order (one key, one partition), so a
  redelivery or a rebuild gives the same rows.
* A practitioner not yet seen is answered as unknown (None, or not in a list):
  no query raises for them.
* The projection's `name` is its Kafka consumer group: give each service its own
  (`PlacementsProjection("timesheet")`), or services would share out the
  topic's partitions between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from plimsoll_events.catalogue import topic_for
from plimsoll_events.projection import Delivered
from sqlalchemy import Connection, Engine, text

from plimsoll_platform.clock import Clock, SystemClock
from plimsoll_platform.placement_history import (
    PLACEMENT_EVENTS,
    Period,
    Placement,
    PlacementHistory,
    UnknownPractitioner,
    evolve,
)

__all__ = ["Placement", "Placements", "PlacementsProjection", "UnknownPractitioner"]

SCHEMA = """
create table if not exists placements (
    practitioner_id text primary key,
    name            text not null,
    grade           text not null,
    start_date      date not null,
    leaving_date    date
);
create table if not exists placement_periods (
    practitioner_id  text not null,
    valid_from       date not null,
    valid_to         date,
    team_id          text not null,
    region_id        text not null,
    line_manager_id  text,
    contracted_hours numeric(5, 2) not null,
    primary key (practitioner_id, valid_from)
);
create index if not exists placement_periods_team on placement_periods (team_id, valid_from);
create index if not exists placement_periods_region on placement_periods (region_id, valid_from);
create index if not exists placement_periods_manager
    on placement_periods (line_manager_id, valid_from);
"""
# Replicas of a service start together; `create ... if not exists` alone can race.
_DDL_LOCK = "select pg_advisory_xact_lock(hashtext('plimsoll-placements-ddl'))"

# A placement on :day, for those in post that day; `where` adds the place.
_IN_POST_ON = """
select p.practitioner_id, p.name, p.grade, pp.team_id, pp.region_id, pp.line_manager_id,
       pp.contracted_hours, p.start_date, p.leaving_date,
       pp.valid_from as placed_from, pp.valid_to as placed_to
from placement_periods pp
join placements p using (practitioner_id)
where {where}
  and pp.valid_from <= :day and (pp.valid_to is null or pp.valid_to >= :day)
  and p.start_date <= :day and (p.leaving_date is null or p.leaving_date >= :day)
order by p.practitioner_id
"""


class PlacementsProjection:
    """The read model of placements, fed from the allocation service's topic."""

    def __init__(self, service: str, *, topic: str | None = None) -> None:
        self.name = f"{service}-placements"
        self.topics = [topic or topic_for("allocation")]

    def create(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql("drop table if exists placement_periods, placements")

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        """Fold the batch's placement events per practitioner, then write those touched once."""
        relevant = [event for event in events if event.type in PLACEMENT_EVENTS]
        if not relevant:
            return
        touched = sorted({_practitioner_of(event) for event in relevant})
        histories: dict[str, PlacementHistory | None] = dict.fromkeys(touched)
        histories.update(load_histories(conn, touched))
        for event in relevant:
            practitioner = _practitioner_of(event)
            histories[practitioner] = evolve(histories[practitioner], event.data, event.time)
        _save(conn, [h for h in histories.values() if h is not None])


def _practitioner_of(event: Delivered) -> str:
    return str(event.data.practitioner_id)  # type: ignore[attr-defined]


def load_histories(
    conn: Connection, practitioner_ids: Sequence[str]
) -> dict[str, PlacementHistory]:
    """The stored histories of these practitioners (those known)."""
    people = conn.execute(
        text("select * from placements where practitioner_id = any(:ids)"),
        {"ids": list(practitioner_ids)},
    ).mappings()
    periods: dict[str, list[Period]] = {}
    for row in conn.execute(
        text(
            "select practitioner_id, valid_from, team_id, region_id, line_manager_id, "
            "contracted_hours from placement_periods where practitioner_id = any(:ids) "
            "order by practitioner_id, valid_from"
        ),
        {"ids": list(practitioner_ids)},
    ).mappings():
        periods.setdefault(row["practitioner_id"], []).append(
            Period(
                valid_from=row["valid_from"],
                team_id=row["team_id"],
                region_id=row["region_id"],
                line_manager_id=row["line_manager_id"],
                contracted_hours=row["contracted_hours"],
            )
        )
    return {
        row["practitioner_id"]: PlacementHistory(
            practitioner_id=row["practitioner_id"],
            name=row["name"],
            grade=row["grade"],
            start_date=row["start_date"],
            leaving_date=row["leaving_date"],
            periods=tuple(periods.get(row["practitioner_id"], ())),
        )
        for row in people
    }


def _save(conn: Connection, histories: Sequence[PlacementHistory]) -> None:
    """Replace these practitioners' rows: one statement per table, whatever the batch size."""
    if not histories:
        return
    ids = [h.practitioner_id for h in histories]
    conn.execute(
        text(
            "insert into placements "
            "select * from unnest(cast(:ids as text[]), cast(:names as text[]), "
            "cast(:grades as text[]), cast(:starts as date[]), cast(:leavings as date[])) "
            "on conflict (practitioner_id) do update set name = excluded.name, "
            "grade = excluded.grade, start_date = excluded.start_date, "
            "leaving_date = excluded.leaving_date"
        ),
        {
            "ids": ids,
            "names": [h.name for h in histories],
            "grades": [h.grade for h in histories],
            "starts": [h.start_date for h in histories],
            "leavings": [h.leaving_date for h in histories],
        },
    )
    conn.execute(
        text("delete from placement_periods where practitioner_id = any(:ids)"), {"ids": ids}
    )
    rows: list[tuple[Any, ...]] = []
    for history in histories:
        for i, period in enumerate(history.periods):
            following = history.periods[i + 1] if i + 1 < len(history.periods) else None
            valid_to = None if following is None else following.valid_from - timedelta(days=1)
            rows.append(
                (
                    history.practitioner_id,
                    period.valid_from,
                    valid_to,
                    period.team_id,
                    period.region_id,
                    period.line_manager_id,
                    period.contracted_hours,
                )
            )
    columns = list(zip(*rows, strict=True))
    conn.execute(
        text(
            "insert into placement_periods "
            "select * from unnest(cast(:ids as text[]), cast(:froms as date[]), "
            "cast(:tos as date[]), cast(:teams as text[]), cast(:regions as text[]), "
            "cast(:managers as text[]), cast(:hours as numeric[]))"
        ),
        dict(
            zip(
                ("ids", "froms", "tos", "teams", "regions", "managers", "hours"),
                (list(c) for c in columns),
                strict=True,
            )
        ),
    )


class Placements:
    """Queries of the placements read model. "Today" is the clock's UK day."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()

    def of(self, practitioner_id: str) -> Placement | None:
        """Their placement today: before they start, their first; after they leave, their
        last (`in_post` tells). None for a practitioner not known (yet)."""
        history = self.history(practitioner_id)
        return None if history is None else history.current(self.clock.today())

    def on(self, practitioner_id: str, day: date) -> Placement | None:
        """Their placement on `day`; None if they were not in post that day, or are not known."""
        history = self.history(practitioner_id)
        return None if history is None else history.on(day)

    def team_members(self, team_id: str, day: date) -> list[Placement]:
        """Those in post in the team on `day`, by practitioner id."""
        return self._in_post("pp.team_id = :place", team_id, day)

    def region_members(self, region_id: str, day: date) -> list[Placement]:
        """Those in post in the region on `day`, by practitioner id."""
        return self._in_post("pp.region_id = :place", region_id, day)

    def managed_by(self, manager_id: str, day: date) -> list[Placement]:
        """Those in post whose line manager on `day` is `manager_id`, by practitioner id."""
        return self._in_post("pp.line_manager_id = :place", manager_id, day)

    def team_region(self, team_id: str) -> str | None:
        """The team's region (a team stays in one region); None if nobody was ever placed in it."""
        with self.engine.connect() as conn:
            region = conn.execute(
                text(
                    "select region_id from placement_periods where team_id = :team "
                    "order by valid_from desc limit 1"
                ),
                {"team": team_id},
            ).scalar_one_or_none()
        return None if region is None else str(region)

    def history(self, practitioner_id: str) -> PlacementHistory | None:
        """Their placements, day by day; None for someone placements has not seen."""
        with self.engine.connect() as conn:
            return load_histories(conn, [practitioner_id]).get(practitioner_id)

    def _in_post(self, where: str, place: str, day: date) -> list[Placement]:
        with self.engine.connect() as conn:
            # Fetched at once and built from tuples (selected in the fields' order): a region's
            # two thousand rows one by one, as mappings, took a fifth of its view's time.
            query = text(_IN_POST_ON.format(where=where))
            rows = conn.execute(query, {"place": place, "day": day}).all()
            return [Placement(*row) for row in rows]
