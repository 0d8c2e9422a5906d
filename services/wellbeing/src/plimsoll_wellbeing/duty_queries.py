"""The duty-of-care views: a practitioner's, a team's, a region's, and breaches; now, or as of
any past instant.

Now: a practitioner is judged afresh from their facts; a team or region is read from the
judgements the recorder keeps (one row per subject, judged whenever a fact or a deadline moved
it), with what depends on the day (overdue, ages) worked out again for today. As of an instant:
every subject is judged from the events known by then (`duty_reader`), under the policy in
force then, and breaches are read from their history up to then.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_platform.clock import Clock, uk_day
from sqlalchemy import Connection, Engine, text

from plimsoll_wellbeing import duty_reader as reader
from plimsoll_wellbeing.breaches import view_as_of
from plimsoll_wellbeing.domain.errors import InvalidValue
from plimsoll_wellbeing.domain.judging import (
    Judgement,
    Member,
    hours_window_start,
    judge_practitioner,
    judge_team,
)

Row = dict[str, Any]


class DutyQueries:
    def __init__(self, engine: Engine, breaches: StoreFedReadModel, clock: Clock) -> None:
        self.engine = engine
        self.breaches = breaches
        self.clock = clock

    # --- as of ----------------------------------------------------------------------------------

    def check_as_of(
        self,
        as_of: datetime | None,
        *,
        subjects: list[str] | None = None,
        team_id: str | None = None,
        region_id: str | None = None,
    ) -> None:
        """Refuse an instant in the future, or before anything was known (about the subjects,
        the team or the region named; else at all)."""
        if as_of is None:
            return
        now = self.clock.now()
        if as_of > now:
            raise InvalidValue(
                f"{as_of.isoformat()} is in the future (now is {now.isoformat()})", field="as_of"
            )
        with self.engine.connect() as conn:
            if team_id is not None or region_id is not None:
                first = reader.first_placed(conn, team_id=team_id, region_id=region_id)
            elif subjects:
                first = reader.first_known(conn, subjects)
            else:
                first = reader.earliest_event(conn)
        if first is None or as_of < first:
            known = "nothing is known" if first is None else f"the first was at {first.isoformat()}"
            raise InvalidValue(f"no event was known at {as_of.isoformat()}: {known}", field="as_of")

    # --- a practitioner -------------------------------------------------------------------------

    def practitioner(self, practitioner_id: str, as_of: datetime | None) -> Row | None:
        at = as_of or self.clock.now()
        with self.engine.connect() as conn:
            judgement = _judge_people(conn, [practitioner_id], at, as_of).get(practitioner_id)
        if judgement is None:
            return None
        breaches = self.breaches_where("subject_id = :s", {"s": practitioner_id}, as_of)
        breaches = [b for b in breaches if b["subject_kind"] == "practitioner"]
        opened = {b["rule"]: b["breached_since"] for b in breaches if b["status"] == "open"}
        return {
            "practitioner_id": practitioner_id,
            "team_id": judgement.team_id,
            "region_id": judgement.region_id,
            "as_of": at,
            "policy_version": judgement.policy_version,
            **judgement.figures,
            "conditions": [
                {
                    "rule": c.rule,
                    "holds": c.holds,
                    "since": c.since.isoformat() if c.since else opened.get(c.rule),
                    "facts": c.facts,
                }
                for c in judgement.conditions
            ],
            "breaches": [_summary(b, at) for b in breaches],
        }

    # --- a team and a region ----------------------------------------------------------------------

    def team(self, team_id: str, members: list[str], as_of: datetime | None) -> Row:
        """The team's figures, and a row per member (`members`: in post now; as of an instant,
        those placed in it then)."""
        at = as_of or self.clock.now()
        with self.engine.connect() as conn:
            if as_of is None:
                rows, team = self._judged_now(conn, members, team_id)
            else:
                rows, team = self._judged_then(conn, team_id, None, as_of)
        open_breaches = self._open_breach_counts("team_id = :t", {"t": team_id}, as_of)
        people = [
            _member(pid, *rows[pid], open_breaches.get(pid, 0), uk_day(at)) for pid in sorted(rows)
        ]
        return {
            "team_id": team_id,
            "as_of": at,
            "team": _team_figures(team),
            "figures": _figures(people, open_breaches.get(f"team/{team_id}", 0)),
            "practitioners": people,
        }

    def region(self, region_id: str, members: list[tuple[str, str]], as_of: datetime | None) -> Row:
        """The region's figures and a row per team (`members`: (practitioner, team) in post)."""
        at = as_of or self.clock.now()
        today = uk_day(at)
        open_breaches = self._open_breach_counts("region_id = :r", {"r": region_id}, as_of)
        with self.engine.connect() as conn:
            if as_of is None:
                team_of = dict(members)
                people = _summaries_now(conn, list(team_of), today, open_breaches)
            else:
                rows, _ = self._judged_then(conn, None, region_id, as_of)
                team_of = {pid: figures["team_id"] for pid, (figures, _) in rows.items()}
                people = [
                    _member(pid, *rows[pid], open_breaches.get(pid, 0), today) for pid in rows
                ]
            teams = sorted(set(team_of.values()))
            if as_of is None:
                team_rows = self._team_judgements(conn, teams)
            else:
                team_rows = {t: self._team_judgement(conn, t, as_of) for t in teams}
        by_team: dict[str, list[Row]] = {team: [] for team in teams}
        for person in people:
            by_team[team_of[person["practitioner_id"]]].append(person)
        per_team = [
            {
                "team_id": team,
                "team": _team_figures(team_rows[team]),
                "figures": _figures(by_team[team], open_breaches.get(f"team/{team}", 0)),
            }
            for team in teams
        ]
        team_breaches = sum(open_breaches.get(f"team/{t}", 0) for t in teams)
        return {
            "region_id": region_id,
            "as_of": at,
            "figures": {
                **_figures(people, team_breaches),
                "teams": len(teams),
                "teams_full": sum(bool((r or {}).get("full")) for r in team_rows.values()),
            },
            "teams": per_team,
        }

    def _judged_now(
        self, conn: Connection, people: list[str], team_id: str
    ) -> tuple[dict[str, tuple[Row, Row]], Row | None]:
        rows = conn.execute(
            text(
                # The weeks are the practitioner's own view: a team reads the rest.
                "select subject_id, figures - 'weeks', holding from duty_judgements "
                "where subject_kind = 'practitioner' and subject_id = any(:ids)"
            ),
            {"ids": people},
        ).all()
        found = {pid: ({**figures, "team_id": None}, holding) for pid, figures, holding in rows}
        return found, self._team_judgement(conn, team_id, None)

    def _judged_then(
        self, conn: Connection, team_id: str | None, region_id: str | None, at: datetime
    ) -> tuple[dict[str, tuple[Row, Row]], Row | None]:
        ids = reader.candidates(conn, team_id=team_id, region_id=region_id, at=at)
        judged = _judge_people(conn, ids, at, at)
        found: dict[str, tuple[Row, Row]] = {}
        for pid, j in judged.items():
            placed = (j.team_id == team_id) if team_id is not None else (j.region_id == region_id)
            if placed and _in_post(j):
                holding: Row = {
                    c.rule: (c.since.isoformat() if c.since else None)
                    for c in j.conditions
                    if c.holds
                }
                found[pid] = ({**j.figures, "team_id": j.team_id}, holding)
        team = None if team_id is None else self._team_judgement(conn, team_id, at)
        return found, team

    def _team_judgements(self, conn: Connection, teams: list[str]) -> dict[str, Row | None]:
        rows = conn.execute(
            text(
                "select subject_id, figures, holding from duty_judgements "
                "where subject_kind = 'team' and subject_id = any(:t)"
            ),
            {"t": teams},
        )
        found: dict[str, Row | None] = dict.fromkeys(teams)
        for team, figures, holding in rows:
            found[team] = {**figures, "holding": sorted(holding)}
        return found

    def _team_judgement(self, conn: Connection, team_id: str, as_of: datetime | None) -> Row | None:
        if as_of is None:
            row = conn.execute(
                text(
                    "select figures, holding from duty_judgements "
                    "where subject_kind = 'team' and subject_id = :t"
                ),
                {"t": team_id},
            ).first()
            return None if row is None else {**row[0], "holding": sorted(row[1])}
        facts = reader.team_as_of(conn, team_id, as_of)
        people = _judge_people(
            conn, reader.candidates(conn, team_id=team_id, at=as_of), as_of, as_of
        )
        members = [
            Member(p, j.figures.get("line_manager_id"))
            for p, j in people.items()
            if j.team_id == team_id and _in_post(j)
        ]
        judged = judge_team(facts, members, None, reader.policy_at(conn, as_of), as_of)
        if judged is None:
            return None
        return {**judged.figures, "holding": sorted(c.rule for c in judged.conditions if c.holds)}

    # --- breaches ---------------------------------------------------------------------------------

    def breaches_where(
        self, where: str, values: dict[str, Any], as_of: datetime | None
    ) -> list[Row]:
        """Breaches matching `where` (this module's own SQL), as they stood at `as_of`."""
        clause = where + ("" if as_of is None else " and opened_at <= :as_of")
        with self.breaches.reading() as conn:
            rows = conn.execute(
                text(f"select * from duty_breaches where {clause} order by opened_at, breach_id"),  # noqa: S608
                {**values, "as_of": as_of},
            ).mappings()
            found = [view_as_of(dict(row), as_of) for row in rows]
        return [view for view in found if view is not None]

    def breach(self, breach_id: str, as_of: datetime | None) -> Row | None:
        found = self.breaches_where("breach_id = :b", {"b": breach_id}, as_of)
        return found[0] if found else None

    def _open_breach_counts(
        self, where: str, values: dict[str, Any], as_of: datetime | None
    ) -> Counter[str]:
        """Open breaches per practitioner and per `team/<id>`, now (counted in SQL) or then."""
        counts: Counter[str] = Counter()
        if as_of is None:
            with self.breaches.reading() as conn:
                rows = conn.execute(
                    text(
                        "select subject_kind, subject_id, count(*) from duty_breaches "  # noqa: S608
                        f"where {where} and status = 'open' group by 1, 2"
                    ),
                    values,
                )
                for kind, subject, n in rows:
                    counts[subject if kind == "practitioner" else f"team/{subject}"] += n
            return counts
        for b in self.breaches_where(where, values, as_of):
            if b["status"] == "open":
                key = (
                    b["subject_id"]
                    if b["subject_kind"] == "practitioner"
                    else f"team/{b['subject_id']}"
                )
                counts[key] += 1
        return counts


def age(breach: Row, at: datetime) -> dict[str, Any]:
    opened = datetime.fromisoformat(breach["opened_at"])
    days = (at - opened).total_seconds() / 86400
    return {"age_days": round(days, 2)}


def _summary(breach: Row, at: datetime) -> Row:
    keys = ("breach_id", "rule", "status", "opened_at", "breached_since", "level", "policy_version")
    return {
        **{k: breach[k] for k in keys},
        "acknowledged": breach["acknowledged"] is not None,
        **age(breach, at),
    }


def _judge_people(
    conn: Connection, ids: list[str], at: datetime, as_of: datetime | None
) -> dict[str, Judgement]:
    if not ids:
        return {}
    policy = reader.policy_at(conn, at)
    facts = (
        reader.practitioners_as_of(conn, ids, at) if as_of else reader.practitioners_now(conn, ids)
    )
    days = reader.hours(
        conn, list(facts), hours_window_start(policy, uk_day(at)), uk_day(at), as_of
    )
    judged = {}
    for pid, known in facts.items():
        found = judge_practitioner(known, days[pid], policy, at)
        if found is not None:
            judged[pid] = found
    return judged


def _summaries_now(
    conn: Connection, people: list[str], today: date, open_breaches: Counter[str]
) -> list[Row]:
    """What a region's figures take from each practitioner's judgement (`_figures`), from the
    columns the recorder keeps beside each document (ISO dates compare as text)."""
    rows = conn.execute(
        text(
            "select subject_id, holding, judged_supervision_due_by < :today, "
            "judged_open_declarations, (select count(*) from "
            "jsonb_array_elements_text(judged_review_dates) d where d < :today) "
            "from duty_judgements where subject_kind = 'practitioner' and subject_id = any(:ids)"
        ),
        {"ids": people, "today": today.isoformat()},
    ).all()
    return [
        {
            "practitioner_id": pid,
            "rules_holding": sorted(holding),
            "supervision_overdue": overdue,
            "open_declarations": declarations,
            "reviews_due": reviews,
            "open_breaches": open_breaches.get(pid, 0),
        }
        for pid, holding, overdue, declarations, reviews in rows
    ]


def _in_post(judgement: Judgement) -> bool:
    return bool(judgement.figures["in_post"])


def _member(pid: str, figures: Row, holding: Row, open_breaches: int, today: date) -> Row:
    capacity, average, working, rest = (
        figures.get(k) or {} for k in ("capacity", "average_hours", "working_time", "rest")
    )
    supervision = figures["supervision"]
    declared = [date.fromisoformat(d["declared_on"]) for d in figures["declarations"]]
    return {
        "practitioner_id": pid,
        "name": figures["name"],
        "grade": figures["grade"],
        "capacity_percent": capacity.get("capacity_percent"),
        "capacity_status": capacity.get("status"),
        "average_hours": (average.get("complete_weeks") or {}).get("average_hours"),
        "contracted_average_hours": (average.get("complete_weeks") or {}).get(
            "contracted_average_hours"
        ),
        "working_time_average_hours": (working.get("complete_weeks") or {}).get("average_hours"),
        "shortest_rest_minutes": rest.get("shortest_rest_minutes"),
        "last_supervision_on": supervision["last_held_on"],
        "supervision_due_by": supervision["due_by"],
        "supervision_overdue": date.fromisoformat(supervision["due_by"]) < today,
        "open_declarations": len(declared),
        "oldest_declaration_days": max(((today - d).days for d in declared), default=None),
        "reviews_due": sum(date.fromisoformat(r["review_on"]) < today for r in figures["reviews"]),
        "rules_holding": sorted(holding),
        "open_breaches": open_breaches,
    }


def _figures(people: list[Row], team_breaches: int) -> Row:
    holding: Counter[str] = Counter(r for p in people for r in p["rules_holding"])
    return {
        "practitioners": len(people),
        "rules_holding": dict(sorted(holding.items())),
        "supervision_overdue": sum(p["supervision_overdue"] for p in people),
        "open_declarations": sum(p["open_declarations"] for p in people),
        "reviews_due": sum(p["reviews_due"] for p in people),
        "open_breaches": sum(p["open_breaches"] for p in people) + team_breaches,
    }


def _team_figures(team: Row | None) -> Row | None:
    if team is None:
        return None
    return {
        "capacity": team.get("capacity"),
        "full": team.get("full"),
        "supervisors": team.get("supervisors", []),
        "staff_in_post": team.get("staff_in_post"),
        "rules_holding": team.get("holding", []),
    }
