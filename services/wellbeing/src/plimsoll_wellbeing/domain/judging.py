"""Judging the duty-of-care rules: on these facts, under this policy, at this instant, does each
condition hold, since when, and when could time alone change that? (pure)

One function per subject (`judge_practitioner`, `judge_team`), one small function per rule. A
rule's facts are what a breach quotes, JSON-safe (fractions as decimal strings). The windows:

* capacity: above the percent since the figure that went above it (`Capacity.since`); excessive
  workload holds from `since + weeks`, without a break below the percent;
* average hours and working time: a window of the policy's weeks, counted and averaged by the
  kit's `plimsoll_platform.working_time` (the rule timesheet shows its figures by, stated
  there), judged twice, ending with the last complete ISO week and ending with this week as
  recorded so far (which can only add): the condition holds if either is above, so Monday's
  empty week never clears it, and a window leaves it only when its weeks have passed. The 48
  hours do not apply while opted out on the window's last day;
* rest: two worked days in a row, both saying when they were worked, with less than the policy's
  hours from the end of one to the start of the next, the later of them in the last 7 days;
* supervision, declarations, reviews: overdue from the UK midnight after the day they were due.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from plimsoll_events.types.wellbeing import BreachRule, PolicyThresholds, SupervisionInterval
from plimsoll_platform.clock import UK, is_working_day, uk_day  # calendar arithmetic only
from plimsoll_platform.working_time import (
    IsoWeek,
    RollingAverage,
    Week,
    contracted_day_minutes,
    opted_out_on,
    rolling_average,
    week_of,
    window,
)

from plimsoll_wellbeing.domain.duty import Capacity, DayHours, DutyFacts, TeamFacts
from plimsoll_wellbeing.domain.policy import PolicyInForce

Facts = dict[str, Any]
REST_DAYS: Final = 7
SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "capacity-amber": ("capacity_amber",),
    "capacity-red": ("capacity_red",),
    "excessive-workload": ("excessive_workload",),
    "average-hours": ("average_hours",),
    "working-time": ("working_time",),
    "daily-rest": ("daily_rest",),
    "supervision-overdue": ("supervision_interval",),
    "declaration-unanswered": ("declaration_answer",),
    "review-overdue": (),  # the date agreed in the assessment itself
    "supervisor-ratio": ("supervisor_ratio",),
    "team-full": ("team_full",),
}
"""The sections of the policy each rule is judged by."""


@dataclass(frozen=True)
class Condition:
    rule: BreachRule
    holds: bool
    facts: Facts
    since: datetime | None = None
    """Holding: when it began, where the facts say (else the recorder's own continuity)."""
    due_at: datetime | None = None
    """The next instant at which time alone changes this judgement."""


@dataclass(frozen=True)
class Judgement:
    """Every rule of one subject judged at `judged_at`, and the figures a view shows."""

    subject_kind: str
    subject_id: str
    practitioner_id: str | None
    team_id: str
    region_id: str
    policy_version: int
    judged_at: datetime
    conditions: tuple[Condition, ...]
    figures: Facts
    next_due_at: datetime


def thresholds_for(rule: str, thresholds: PolicyThresholds) -> Facts:
    """The policy's words for a rule, as a breach quotes them."""
    dumped = thresholds.model_dump(mode="json")
    return {name: dumped[name] for name in SECTIONS[rule]}


def midnight_after(day: date) -> datetime:
    """The instant (UTC) the UK day after `day` begins."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UK).astimezone(UTC)


def at_uk(day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=UK).astimezone(UTC)


def supervision_due_by(
    grade: str, start_date: date, last_held: date | None, interval: SupervisionInterval
) -> date:
    """The day the next supervision is due by: the interval after the last one (or their
    start), shorter for the first-year grades in their first year."""
    since = last_held or start_date
    first_year = grade in interval.first_year_grades and since < start_date + timedelta(days=365)
    return since + timedelta(days=interval.first_year_days if first_year else interval.days)


def hours_window_start(policy: PolicyInForce, today: date) -> date:
    """The first day whose hours a judgement on `today` reads."""
    weeks = max(policy.thresholds.average_hours.weeks, policy.thresholds.working_time.weeks)
    return IsoWeek.of(today).back(weeks).first_day - timedelta(days=1)


# --- a practitioner ------------------------------------------------------------------------------


def judge_practitioner(
    facts: DutyFacts, days: Mapping[date, DayHours], policy: PolicyInForce, now: datetime
) -> Judgement | None:
    """Every practitioner rule; None while their placement is unknown (nothing to judge by)."""
    history = facts.placement
    if history is None:
        return None
    today = uk_day(now)
    placement = history.current(today)
    th = policy.thresholds

    def contracted_day(day: date) -> int | None:
        on = history.on(day)
        return (
            None if on is None else contracted_day_minutes(on.contracted_hours, is_working_day(day))
        )

    this_week = IsoWeek.of(today)
    widest = max(th.average_hours.weeks, th.working_time.weeks)
    leave = list(facts.leave.values())
    weeks = {w: week_of(w, days, leave, contracted_day) for w in window(this_week, widest + 1)}
    figures: Facts = {
        "name": history.name,
        "grade": history.grade,
        "in_post": placement.in_post(today),
        "line_manager_id": placement.line_manager_id,
        "weeks": [_week(weeks[w]) for w in window(this_week, widest)],
        "supervision": _supervision_figures(
            facts, placement.grade, placement.start_date, th, today
        ),
        "declarations": _declarations(facts, today),
        "reviews": [
            {"assessment_id": a, "review_on": d.isoformat(), "overdue": d < today}
            for a, d in sorted(facts.reviews.items(), key=lambda item: (item[1], item[0]))
        ],
    }
    if not placement.in_post(today):
        conditions = [Condition(rule, False, {"in_post": False}) for rule in PRACTITIONER_RULES]
    else:
        conditions = [
            *_capacity(facts.capacity, th, now),
            _average_hours(weeks, this_week, th),
            _working_time(weeks, this_week, th, facts.opt_outs, today),
            _rest(days, th, today),
            _supervision(figures["supervision"], now),
            _declaration(facts, today),
            _review(facts, today),
        ]
    figures["capacity"] = _capacity_figures(facts.capacity, th)
    judged = {c.rule: c.facts for c in conditions}
    for rule, name in (
        ("average-hours", "average_hours"),
        ("working-time", "working_time"),
        ("daily-rest", "rest"),
    ):
        figures[name] = judged[rule] if placement.in_post(today) else None  # type: ignore[index]
    next_monday = midnight_after(this_week.first_day + timedelta(days=6))
    dues = [c.due_at for c in conditions if c.due_at is not None]
    return Judgement(
        subject_kind="practitioner",
        subject_id=facts.practitioner_id,
        practitioner_id=facts.practitioner_id,
        team_id=placement.team_id,
        region_id=placement.region_id,
        policy_version=policy.policy_version,
        judged_at=now,
        conditions=tuple(conditions),
        figures=figures,
        next_due_at=min([next_monday, *dues]),
    )


PRACTITIONER_RULES: Final[tuple[BreachRule, ...]] = (
    "capacity-amber",
    "capacity-red",
    "excessive-workload",
    "average-hours",
    "working-time",
    "daily-rest",
    "supervision-overdue",
    "declaration-unanswered",
    "review-overdue",
)
TEAM_RULES: Final[tuple[BreachRule, ...]] = ("team-full", "supervisor-ratio")


def _capacity_facts(capacity: Capacity) -> Facts:
    return {
        "capacity_percent": str(capacity.percent),
        "total_points": capacity.total_points,
        "available_points": capacity.available_points,
        "capacity_event_id": capacity.event_id,
        "figure_recorded_at": capacity.at.isoformat(),
        "allocation_cause_type": capacity.cause_type,
    }


def _capacity(capacity: Capacity | None, th: PolicyThresholds, now: datetime) -> list[Condition]:
    if capacity is None:
        unknown = {"capacity": None}
        return [Condition(r, False, unknown) for r in PRACTITIONER_RULES[:3]]
    figure = _capacity_facts(capacity)
    conditions = []
    for rule, percent in (
        ("capacity-amber", th.capacity_amber.percent),
        ("capacity-red", th.capacity_red.percent),
    ):
        since = capacity.since(percent)
        facts = {**figure, "above_since": _iso(since)}
        conditions.append(Condition(rule, since is not None, facts, since))  # type: ignore[arg-type]
    excessive = th.excessive_workload
    above = capacity.since(excessive.percent)
    reached = None if above is None else above + timedelta(weeks=excessive.weeks)
    weeks = None if above is None else _decimal((now - above) / timedelta(weeks=1), "0.1")
    facts = {**figure, "above_since": _iso(above), "weeks_above": weeks}
    holds = reached is not None and now >= reached
    conditions.append(
        Condition(
            "excessive-workload",
            holds,
            facts,
            reached if holds else None,
            None if holds else reached,
        )
    )
    return conditions


def _capacity_figures(capacity: Capacity | None, th: PolicyThresholds) -> Facts | None:
    if capacity is None:
        return None
    amber, red = capacity.since(th.capacity_amber.percent), capacity.since(th.capacity_red.percent)
    status = "red" if red else "amber" if amber else "green"
    return {
        **_capacity_facts(capacity),
        "status": status,
        "amber_since": _iso(amber),
        "red_since": _iso(red),
    }


def _week(week: Week) -> Facts:
    return {
        "week": str(week.week),
        "worked_minutes": week.worked_minutes,
        "overtime_minutes": week.overtime_minutes,
        "leave_minutes": week.leave_minutes,
        "counted_minutes": week.counted_minutes,
        "contracted_minutes": week.contracted_minutes,
        "days_in_post": week.days_in_post,
    }


def _average(average: RollingAverage) -> Facts:
    """A window's average as a breach quotes it (hours as exact decimal strings)."""
    return {
        "first_week": str(average.first_week),
        "last_week": str(average.last_week),
        "weeks_counted": average.weeks_counted,
        "counted_minutes": average.counted_minutes,
        "contracted_minutes": average.contracted_minutes,
        "average_hours": _text(average.average_hours),
        "contracted_average_hours": _text(average.contracted_average_hours),
    }


def _windows(
    weeks: Mapping[IsoWeek, Week], this_week: IsoWeek, n: int
) -> tuple[RollingAverage, RollingAverage]:
    complete = rolling_average([weeks[w] for w in window(this_week.back(1), n)])
    return complete, rolling_average([weeks[w] for w in window(this_week, n)])


def _average_hours(
    weeks: Mapping[IsoWeek, Week], this_week: IsoWeek, th: PolicyThresholds
) -> Condition:
    complete, current = _windows(weeks, this_week, th.average_hours.weeks)
    above = [
        name
        for name, a in (("complete-weeks", complete), ("including-this-week", current))
        if a.above_contract
    ]
    facts = {
        "weeks": th.average_hours.weeks,
        "complete_weeks": _average(complete),
        "including_this_week": _average(current),
        "above": above,
    }
    return Condition("average-hours", bool(above), facts)


def _working_time(
    weeks: Mapping[IsoWeek, Week],
    this_week: IsoWeek,
    th: PolicyThresholds,
    opt_outs: Sequence[tuple[date, bool]],
    today: date,
) -> Condition:
    limit = th.working_time.hours
    complete, current = _windows(weeks, this_week, th.working_time.weeks)
    out_complete = opted_out_on(opt_outs, this_week.first_day - timedelta(days=1))
    out_now = opted_out_on(opt_outs, today)
    above = [
        name
        for name, a, out in (
            ("complete-weeks", complete, out_complete),
            ("including-this-week", current, out_now),
        )
        if a.above_hours(limit) and not out
    ]
    facts = {
        "weeks": th.working_time.weeks,
        "limit_hours": limit,
        "opted_out": out_now,
        "complete_weeks": _average(complete),
        "including_this_week": _average(current),
        "above": above,
    }
    return Condition("working-time", bool(above), facts)


def _rest(days: Mapping[date, DayHours], th: PolicyThresholds, today: date) -> Condition:
    limit = th.daily_rest.hours * 60
    rests = []
    for back in range(REST_DAYS):
        day = today - timedelta(days=back)
        before, after = days.get(day - timedelta(days=1)), days.get(day)
        if before is None or after is None or before.last_end is None or after.first_start is None:
            continue
        ended = at_uk(day - timedelta(days=1), before.last_end)
        started = at_uk(day, after.first_start)
        rests.append((day, int((started - ended) / timedelta(minutes=1)), ended, started))
    short = sorted(r for r in rests if r[1] < limit)
    facts = {
        "threshold_hours": th.daily_rest.hours,
        "days": REST_DAYS,
        "shortest_rest_minutes": min((r[1] for r in rests), default=None),
        "short_rests": [
            {
                "day": d.isoformat(),
                "rest_minutes": m,
                "ended_at": e.isoformat(),
                "started_at": s.isoformat(),
            }
            for d, m, e, s in short
        ],
    }
    if not short:
        return Condition("daily-rest", False, facts)
    return Condition(
        "daily-rest",
        True,
        facts,
        short[0][3],
        midnight_after(short[-1][0] + timedelta(days=REST_DAYS - 1)),
    )


def _supervision_figures(
    facts: DutyFacts, grade: str, start: date, th: PolicyThresholds, today: date
) -> Facts:
    due = supervision_due_by(grade, start, facts.last_supervision_on, th.supervision_interval)
    last = facts.last_supervision_on
    upcoming = sorted(d for d in facts.scheduled.values() if d >= today)
    return {
        "last_held_on": _iso(last),
        "days_since_last": None if last is None else (today - last).days,
        "due_by": due.isoformat(),
        "overdue": due < today,
        "next_scheduled_on": upcoming[0].isoformat() if upcoming else None,
        "interval_days": (due - (last or start)).days,
    }


def _supervision(figures: Facts, now: datetime) -> Condition:
    due = date.fromisoformat(figures["due_by"])
    since = midnight_after(due)
    holds = now >= since
    return Condition(
        "supervision-overdue",
        holds,
        dict(figures),
        since if holds else None,
        None if holds else since,
    )


def _declarations(facts: DutyFacts, today: date) -> list[Facts]:
    return [
        {
            "declaration_id": did,
            "declared_on": d.declared_on.isoformat(),
            "answer_due_by": d.answer_due_by.isoformat(),
            "status": d.status,
            "answered": d.answered,
            "age_days": (today - d.declared_on).days,
            "overdue": not d.answered and d.answer_due_by < today,
        }
        for did, d in sorted(facts.declarations.items(), key=lambda i: (i[1].declared_on, i[0]))
    ]


def _overdue(
    rule: BreachRule, due_days: Mapping[str, date], today: date, describe: Callable[[str], Facts]
) -> Condition:
    late = sorted((d, k) for k, d in due_days.items() if d < today)
    pending = sorted(d for d in due_days.values() if d >= today)
    facts = {"overdue": [describe(k) for _, k in late]}
    since = midnight_after(late[0][0]) if late else None
    due_at = midnight_after(pending[0]) if pending else None
    return Condition(rule, bool(late), facts, since, due_at)


def _declaration(facts: DutyFacts, today: date) -> Condition:
    waiting = {k: d.answer_due_by for k, d in facts.declarations.items() if not d.answered}

    def describe(k: str) -> Facts:
        d = facts.declarations[k]
        return {
            "declaration_id": k,
            "declared_on": d.declared_on.isoformat(),
            "answer_due_by": d.answer_due_by.isoformat(),
            "status": d.status,
        }

    return _overdue("declaration-unanswered", waiting, today, describe)


def _review(facts: DutyFacts, today: date) -> Condition:
    def describe(k: str) -> Facts:
        return {"assessment_id": k, "review_on": facts.reviews[k].isoformat()}

    return _overdue("review-overdue", facts.reviews, today, describe)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: float, places: str) -> str:
    return str(Decimal(str(value)).quantize(Decimal(places), ROUND_HALF_UP))


# --- a team --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """Someone in post in the team today, and their line manager."""

    practitioner_id: str
    line_manager_id: str | None


def judge_team(
    team: TeamFacts,
    members: Sequence[Member],
    region_id: str | None,
    policy: PolicyInForce,
    now: datetime,
) -> Judgement | None:
    """Team full and the supervisor ratio; None while the team's region is unknown."""
    region = team.region_id or region_id
    if region is None:
        return None
    th = policy.thresholds
    capacity = team.capacity
    reached = None if capacity is None else capacity.since(th.team_full.percent, reaching=True)
    figure = (
        None
        if capacity is None
        else {**_capacity_facts(capacity), "practitioner_count": capacity.practitioner_count}
    )
    full = (
        None
        if team.full is None
        else {
            "declared_by": team.full.declared_by,
            "reason": team.full.reason,
            "declared_on": team.full.declared_on.isoformat(),
            "expected_until": team.full.expected_until.isoformat(),
        }
    )
    counts = Counter(m.line_manager_id for m in members if m.line_manager_id is not None)
    supervisors = [{"line_manager_id": k, "staff": n} for k, n in sorted(counts.items())]
    over = [s for s in supervisors if int(s["staff"]) > th.supervisor_ratio.staff]  # type: ignore[call-overload]
    team_full_facts = {
        "capacity": figure,
        "reached_since": _iso(reached),
        "declared_full": full is not None,
    }
    ratio_facts = {"staff_in_post": len(members), "supervisors_over": over}
    conditions = (
        Condition("team-full", reached is not None, team_full_facts, reached),
        Condition("supervisor-ratio", bool(over), ratio_facts),
    )
    return Judgement(
        subject_kind="team",
        subject_id=team.team_id,
        practitioner_id=None,
        team_id=team.team_id,
        region_id=region,
        policy_version=policy.policy_version,
        judged_at=now,
        conditions=conditions,
        figures={
            "capacity": figure,
            "full": full,
            "supervisors": supervisors,
            "staff_in_post": len(members),
        },
        next_due_at=midnight_after(uk_day(now)),
    )
