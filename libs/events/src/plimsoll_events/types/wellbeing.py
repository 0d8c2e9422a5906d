"""Events of the wellbeing service: supervision, the workload agreed in it, unsafe-workload
declarations, stress risk assessments, union consent, and the jointly agreed policy.

Streams: a practitioner's supervision record (`supervision-record-<practitioner>`: supervisions
and the workload agreements made in them), each declaration (`declaration-<id>`), a
practitioner's stress risk assessments and their union consent, and the one policy stream
(`wellbeing-policy`). Every event about a practitioner carries `practitioner_id` (its
CloudEvents subject and Kafka key); the policy's events concern nobody in particular and are
keyed by their stream.

Days are UK calendar days. Deadlines are in working days of England and Wales.
"""

import hashlib
import json
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import ActorName, Identifier, Text

GradeCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,29}$")]
"""A grade as allocation names it (PO, PSO, PQiP...)."""

Items = Annotated[list[Text], Field(max_length=50)]
"""A short list of things a person wrote (actions, measures, tasks): at most 50."""

Side = Literal["employer", "union"]
"""The two sides that agree the policy: employer representatives and union representatives."""


class _Data(BaseModel):
    """A value inside an event: immutable, strict about unknown fields like the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- supervision --------------------------------------------------------------------------------


@CATALOGUE.register
class SupervisionScheduled(EventData):
    """A supervision was arranged for a day: the practitioner and their supervisor are to meet.

    The supervisor is the practitioner's line manager unless `supervisor_reason` says why not.
    """

    type = "supervision-scheduled"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "supervision_id": "S-0f6a3c2e9b1d",
            "supervisor_id": "P-0100",
            "scheduled_for": "2025-04-01",
            "supervisor_reason": None,
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner to be supervised.")
    supervision_id: Identifier = Field(description="The supervision, unique for the practitioner.")
    supervisor_id: Identifier = Field(description="Who is to supervise them.")
    scheduled_for: date = Field(description="The day it is to take place.")
    supervisor_reason: Text | None = Field(
        description="Why the supervisor is not the line manager; null when they are."
    )


@CATALOGUE.register
class SupervisionCancelled(EventData):
    """A scheduled supervision will not take place; the time since the last one keeps running."""

    type = "supervision-cancelled"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "supervision_id": "S-0f6a3c2e9b1d",
            "reason": "Supervisor on sick leave; rearranged for next week.",
            "cancelled_on": "2025-03-31",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    supervision_id: Identifier = Field(description="The supervision cancelled.")
    reason: Text = Field(description="Why it was cancelled.")
    cancelled_on: date = Field(description="The day it was cancelled.")


@CATALOGUE.register
class SupervisionHeldV1(EventData):
    """Superseded by v2. A supervision took place between a practitioner and their supervisor.

    v1 carried the cases on which work was suspended as a list; suspensions are now events
    of their own (`work-suspended`). Kept so that data written as v1 is still validated
    before it is upcast.
    """

    type = "supervision-held"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "supervisor_id": "P-0100",
            "held_on": "2025-03-04",
            "duration_minutes": 90,
            "agreed_actions": ["Review the risk assessment of X777519 by Friday"],
            "work_suspended_case_ids": ["X123456"],
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner supervised.")
    supervisor_id: Identifier = Field(description="Who supervised them.")
    held_on: date = Field(description="The day the supervision took place.")
    duration_minutes: int = Field(gt=0, le=1440, description="How long it lasted, in minutes.")
    agreed_actions: list[str] = Field(description="What manager and practitioner agreed to do.")
    work_suspended_case_ids: list[Identifier] = Field(
        description="Cases on which work is suspended, by agreement, until further notice."
    )


@CATALOGUE.register
class SupervisionHeld(EventData):
    """A supervision took place: the clock on the time since the last supervision restarts.

    It records who supervised whom, when and for how long, whether the workload was
    reviewed and wellbeing discussed, and the actions agreed. Work suspended or marked
    not to be done in it follows as `work-suspended` / `work-marked-not-to-be-done`, in
    the same append, citing `supervision_id`. The supervisor is the practitioner's line
    manager on that day (`line_manager_id`) unless `supervisor_reason` says why not.
    """

    type = "supervision-held"
    version = 2
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "supervision_id": "S-0f6a3c2e9b1d",
            "supervisor_id": "P-0100",
            "line_manager_id": "P-0100",
            "held_on": "2025-03-04",
            "duration_minutes": 90,
            "workload_reviewed": True,
            "wellbeing_discussed": True,
            "agreed_actions": ["Review the risk assessment of X777519 by Friday"],
            "supervisor_reason": None,
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner supervised.")
    supervision_id: Identifier = Field(description="The supervision, unique for the practitioner.")
    supervisor_id: Identifier = Field(description="Who supervised them.")
    line_manager_id: Identifier | None = Field(
        description="Their line manager that day, as known to wellbeing; null if none was known."
    )
    held_on: date = Field(description="The day the supervision took place.")
    duration_minutes: int = Field(gt=0, le=1440, description="How long it lasted, in minutes.")
    workload_reviewed: bool = Field(description="Whether the workload was reviewed.")
    wellbeing_discussed: bool = Field(description="Whether the practitioner's wellbeing was.")
    agreed_actions: Items = Field(description="What supervisor and practitioner agreed to do.")
    supervisor_reason: Text | None = Field(
        description="Why the supervisor is not the line manager; null when they are."
    )


@CATALOGUE.upcaster("supervision-held", from_version=1)
def supervision_held_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 becomes v2; its suspended cases are kept as agreed actions, not as suspensions.

    * `supervision_id`: v1 had none; `legacy-` and 16 hex digits of the SHA-256 of the
      v1 data, so the same v1 event always gets the same id.
    * `work_suspended_case_ids`: no capacity was ever taken off for them (nothing consumed
      v1's list), and an upcaster turns one event into one event, so they cannot become
      `work-suspended` events. Each case is kept, word for word, as an agreed action
      ("Work suspended on case X123456 (recorded in supervision-held v1)"); a manager who
      wants such a suspension in force records it anew.
    * `workload_reviewed`: true when v1 suspended work on a case (that needs a review of
      the workload), else false: v1 did not record it. `wellbeing_discussed`: false (not
      recorded). `line_manager_id` and `supervisor_reason`: null (v1 checked neither).
    * Blank agreed actions are dropped (v2 refuses blank text).
    """
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    cases = list(data["work_suspended_case_ids"])
    actions = [action for action in data["agreed_actions"] if str(action).strip()]
    actions += [f"Work suspended on case {c} (recorded in supervision-held v1)" for c in cases]
    return {
        "practitioner_id": data["practitioner_id"],
        "supervision_id": f"legacy-{digest}",
        "supervisor_id": data["supervisor_id"],
        "line_manager_id": None,
        "held_on": data["held_on"],
        "duration_minutes": data["duration_minutes"],
        "workload_reviewed": bool(cases),
        "wellbeing_discussed": False,
        "agreed_actions": actions,
        "supervisor_reason": None,
    }


# --- the prioritising framework -----------------------------------------------------------------


class _Agreement(EventData):
    """What every workload agreement carries, so each stands alone on the topic."""

    practitioner_id: Identifier = Field(description="The practitioner whose workload it is.")
    agreement_id: Identifier = Field(description="The agreement, unique for the practitioner.")
    case_id: Identifier = Field(description="The case the work is on.")
    supervision_id: Identifier = Field(description="The supervision it was agreed in.")
    reason: Text = Field(description="Why it was agreed.")
    court_or_partner_must_be_told: bool = Field(
        description="Whether a court or partner agency must be told that the work is not done."
    )
    agreed_on: date = Field(description="The day it took effect (the day it was recorded).")


@CATALOGUE.register
class WorkSuspended(_Agreement):
    """Work on a case is suspended by agreement: while in force the case counts for nothing in
    the practitioner's capacity.

    It stays in force until `work-resumed` (recorded when agreed, or by wellbeing itself the
    day after `until`, or once the case has left the practitioner). The allocation service
    re-weighs the case (`case-weighting-changed` citing `agreement_id`).
    """

    type = "work-suspended"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "agreement_id": "A-7d2c41e0b9aa",
            "case_id": "X123456",
            "supervision_id": "S-0f6a3c2e9b1d",
            "reason": "Person in custody on remand; no contact possible until sentencing.",
            "court_or_partner_must_be_told": True,
            "agreed_on": "2025-03-04",
            "until": "2025-04-30",
        },
    )

    until: date | None = Field(
        description="The last day the work stays suspended (it resumes the day after); "
        "null: until a resumption is recorded."
    )


@CATALOGUE.register
class WorkMarkedNotToBeDone(_Agreement):
    """Work on a case is agreed not to be done at all: the case stays open with the
    practitioner but counts for nothing in their capacity, until `work-resumed` says otherwise.
    """

    type = "work-marked-not-to-be-done"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "agreement_id": "A-1b9e53f07c22",
            "case_id": "X654321",
            "supervision_id": "S-0f6a3c2e9b1d",
            "reason": "Low-risk case in its last month: statutory minimum only, agreed with SPO.",
            "court_or_partner_must_be_told": False,
            "agreed_on": "2025-03-04",
        },
    )


@CATALOGUE.register
class WorkResumed(EventData):
    """Work suspended (or marked not to be done) is to be done again: the case counts in the
    practitioner's capacity again from `resumed_on`."""

    type = "work-resumed"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "agreement_id": "A-7d2c41e0b9aa",
            "case_id": "X123456",
            "resumed_on": "2025-05-01",
            "cause": "until-passed",
            "reason": None,
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    agreement_id: Identifier = Field(description="The agreement that ends.")
    case_id: Identifier = Field(description="The case the work is on.")
    resumed_on: date = Field(description="The first day the work counts again.")
    cause: Literal["agreed", "until-passed", "case-left-practitioner"] = Field(
        description="agreed: recorded by supervisor or practitioner; until-passed: the day "
        "after the agreed last day; case-left-practitioner: the case was reallocated or closed."
    )
    reason: Text | None = Field(description="Why, when agreed.")


# --- unsafe-workload declarations ---------------------------------------------------------------


class _Declaration(EventData):
    practitioner_id: Identifier = Field(description="The practitioner who declared.")
    declaration_id: Identifier = Field(description="The declaration.")


@CATALOGUE.register
class WorkloadDeclared(_Declaration):
    """A practitioner declared in writing that their workload is unsafe (a professional,
    fitness-to-practise declaration). It must be answered by `answer_due_by`.

    The deadline is `answer_within_working_days` working days (England and Wales) after
    `declared_on`, from the policy version in force then (`policy_version`).
    """

    type = "workload-declared"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "declaration_id": "D-5a0c9e1f3b77",
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "line_manager_id": "P-0100",
            "what_is_unsafe": "Three new high-risk cases this week on top of 112% capacity.",
            "case_ids": ["X777519", "X123456"],
            "tasks": ["Pre-sentence report for Thursday's court"],
            "details": None,
            "declared_on": "2025-03-05",
            "answer_due_by": "2025-03-12",
            "answer_within_working_days": 5,
            "policy_version": 1,
        },
    )

    team_id: Identifier = Field(description="Their team when they declared.")
    region_id: Identifier = Field(description="That team's region.")
    line_manager_id: Identifier | None = Field(description="Their line manager, who answers.")
    what_is_unsafe: Text = Field(description="What is unsafe, in their words.")
    case_ids: list[Identifier] = Field(max_length=200, description="The cases it concerns.")
    tasks: Items = Field(description="The tasks it concerns.")
    details: Text | None = Field(description="Anything else they want recorded.")
    declared_on: date = Field(description="The day it was declared.")
    answer_due_by: date = Field(description="The last working day for an answer.")
    answer_within_working_days: int = Field(ge=1, description="The deadline the policy gave.")
    policy_version: int = Field(ge=1, description="The policy version in force that day.")


@CATALOGUE.register
class DeclarationAnswered(_Declaration):
    """The manager answered a declaration: actions agreed, or disagreement with reasons."""

    type = "declaration-answered"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "declaration_id": "D-5a0c9e1f3b77",
            "answered_by": "mo.manager",
            "answered_on": "2025-03-07",
            "response": "actions-agreed",
            "actions": ["X123456 reallocated to another PO", "No new cases for two weeks"],
            "reasons": None,
        },
    )

    answered_by: ActorName = Field(description="Who answered (their username).")
    answered_on: date = Field(description="The day of the answer.")
    response: Literal["actions-agreed", "disagreed"] = Field(description="The answer's gist.")
    actions: Items = Field(description="The actions agreed (empty when disagreed).")
    reasons: Text | None = Field(description="Why the manager disagrees (null when agreed).")


@CATALOGUE.register
class DeclarationEscalated(_Declaration):
    """A declaration went to the head of service of the practitioner's region, with a
    three-way meeting (practitioner, manager, head of service) requested.

    `because`: deadline-missed (no answer by `answer_due_by`: recorded by the system,
    actor `system:declaration-deadlines`), or answer-not-accepted (the practitioner asked).
    """

    type = "declaration-escalated"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "declaration_id": "D-5a0c9e1f3b77",
            "escalated_to": "head-of-service",
            "region_id": "R-NORTH",
            "three_way_meeting_requested": True,
            "because": "deadline-missed",
            "answer_due_by": "2025-03-12",
            "escalated_on": "2025-03-13",
        },
    )

    escalated_to: Literal["head-of-service"] = Field(description="Who must act now.")
    region_id: Identifier = Field(description="The region whose head of service it goes to.")
    three_way_meeting_requested: bool = Field(description="Always true: the meeting is due.")
    because: Literal["deadline-missed", "answer-not-accepted"] = Field(description="Why.")
    answer_due_by: date = Field(description="The deadline the answer had.")
    escalated_on: date = Field(description="The day it was escalated.")


@CATALOGUE.register
class ThreeWayMeetingHeld(_Declaration):
    """The head of service met the practitioner and their manager about an escalated
    declaration; its outcome closes the declaration (`declaration-closed` follows)."""

    type = "three-way-meeting-held"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "declaration_id": "D-5a0c9e1f3b77",
            "held_on": "2025-03-18",
            "head_of_service": "hana.head",
            "outcome": "actions-agreed",
            "notes": "Caseload reduced to 95% by reallocating two cases.",
            "actions": ["Reallocate X123456 and X777519"],
        },
    )

    held_on: date = Field(description="The day of the meeting.")
    head_of_service: ActorName = Field(description="The head of service who chaired it.")
    outcome: Literal["actions-agreed", "no-change-needed"] = Field(description="Its outcome.")
    notes: Text = Field(description="What was decided, in the chair's words.")
    actions: Items = Field(description="The actions agreed.")


@CATALOGUE.register
class DeclarationClosed(_Declaration):
    """A declaration is closed: the practitioner accepted the answer, or a three-way meeting
    decided it. Nothing else closes one."""

    type = "declaration-closed"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "declaration_id": "D-5a0c9e1f3b77",
            "closed_on": "2025-03-18",
            "closed_by": "three-way-meeting",
        },
    )

    closed_on: date = Field(description="The day it closed.")
    closed_by: Literal["practitioner-accepted-answer", "three-way-meeting"] = Field(
        description="What closed it."
    )


# --- stress risk assessments and consent ---------------------------------------------------------


@CATALOGUE.register
class StressRiskAssessmentRecorded(EventData):
    """A stress risk assessment was done with the practitioner; a review is due on `review_on`.

    A review is itself a new assessment, naming the one it reviews (`reviews`).
    """

    type = "stress-risk-assessment-recorded"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "practitioner_id": "P-0001",
            "assessment_id": "RA-3c1e0d9a5f42",
            "assessed_on": "2025-03-10",
            "assessed_by": "mo.manager",
            "risk_level": "medium",
            "outcome": "Workload and travel are the main stressors.",
            "measures": ["Caseload capped at 95% for three months", "Fortnightly supervision"],
            "review_on": "2025-06-10",
            "reviews": None,
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner assessed.")
    assessment_id: Identifier = Field(description="The assessment, unique for the practitioner.")
    assessed_on: date = Field(description="The day it was done.")
    assessed_by: ActorName = Field(description="Who did it with them.")
    risk_level: Literal["low", "medium", "high"] = Field(description="The risk found.")
    outcome: Text = Field(description="What it found.")
    measures: Items = Field(description="The measures agreed.")
    review_on: date = Field(description="The day a review is due.")
    reviews: Identifier | None = Field(description="The assessment this one reviews, if any.")


@CATALOGUE.register
class UnionConsentGiven(EventData):
    """A practitioner let a named union representative read their declarations."""

    type = "union-consent-given"
    version = 1
    service = "wellbeing"
    examples = ({"practitioner_id": "P-0001", "representative": "uma.union"},)

    practitioner_id: Identifier = Field(description="The practitioner (the member).")
    representative: ActorName = Field(description="The representative's username.")


@CATALOGUE.register
class UnionConsentWithdrawn(EventData):
    """A practitioner withdrew a union representative's access to their declarations."""

    type = "union-consent-withdrawn"
    version = 1
    service = "wellbeing"
    examples = ({"practitioner_id": "P-0001", "representative": "uma.union"},)

    practitioner_id: Identifier = Field(description="The practitioner.")
    representative: ActorName = Field(description="The representative's username.")


# --- the policy ---------------------------------------------------------------------------------

Source = Annotated[Text, Field(description="Where the policy document sets this threshold.")]


class PercentThreshold(_Data):
    """A capacity percentage (whole percent)."""

    percent: int = Field(ge=1, le=300, description="Percent of capacity, 1 to 300.")
    source: Source


class ExcessiveWorkload(_Data):
    """Above `percent` capacity for `weeks` consecutive weeks."""

    percent: int = Field(ge=1, le=300, description="Percent of capacity, 1 to 300.")
    weeks: int = Field(ge=1, le=52, description="Consecutive weeks, 1 to 52.")
    source: Source


class AverageHours(_Data):
    """Hours worked a week, averaged over `weeks`, above contracted hours."""

    weeks: int = Field(ge=1, le=52, description="The averaging window, 1 to 52 weeks.")
    source: Source


class WorkingTime(_Data):
    """Hours worked a week, averaged over `weeks`, above `hours` (unless opted out)."""

    hours: int = Field(ge=1, le=168, description="Average weekly hours, 1 to 168.")
    weeks: int = Field(ge=1, le=52, description="The averaging window, 1 to 52 weeks.")
    source: Source


class DailyRest(_Data):
    """Less than `hours` of rest between two working days."""

    hours: int = Field(ge=1, le=24, description="Hours of rest, 1 to 24.")
    source: Source


class SupervisionInterval(_Data):
    """At most `days` between supervisions; `first_year_days` for the grades in their first year."""

    days: int = Field(ge=1, le=366, description="Days between supervisions, 1 to 366.")
    first_year_days: int = Field(
        ge=1, le=366, description="Days between supervisions in the first year, 1 to 366."
    )
    first_year_grades: list[GradeCode] = Field(
        max_length=20, description="Grades supervised more often in their first year in post."
    )
    source: Source


class AnswerDeadline(_Data):
    """A declaration is answered within `working_days` working days (England and Wales)."""

    working_days: int = Field(ge=1, le=60, description="Working days, 1 to 60.")
    source: Source


class SupervisorRatio(_Data):
    """One supervisor to at most `staff` practitioners."""

    staff: int = Field(ge=1, le=100, description="Practitioners per supervisor, 1 to 100.")
    source: Source


class BreachEscalation(_Data):
    """How an open breach nobody acknowledges goes up: to the manager after
    `manager_working_days`, to the head of service after `head_of_service_working_days`,
    both counted in working days (England and Wales) after the UK day it opened.

    A breach about a team is the manager's from the start: it goes to the head of service
    only. Acknowledging a breach stops its escalation; it stays open until it resolves.
    """

    manager_working_days: int = Field(ge=1, le=60, description="Working days, 1 to 60.")
    head_of_service_working_days: int = Field(
        ge=1, le=120, description="Working days, 1 to 120, not fewer than the manager's."
    )
    source: Source


DEFAULT_BREACH_ESCALATION: Final = BreachEscalation(
    manager_working_days=2,
    head_of_service_working_days=5,
    source="Plimsoll's default until the joint committee agrees its own: unacknowledged "
    "after 2 working days to the manager, after 5 to the head of service",
)
"""The escalation deadlines of policy versions that did not set them (every version
proposed before breaches were recorded)."""


class PolicyThresholds(_Data):
    """Every threshold the duty-of-care projection judges by, each with its source."""

    capacity_amber: PercentThreshold = Field(description="Capacity above this is amber.")
    capacity_red: PercentThreshold = Field(description="Capacity above this is red.")
    excessive_workload: ExcessiveWorkload = Field(description="Excessive workload (HMPPS).")
    average_hours: AverageHours = Field(description="Average hours above contracted hours.")
    working_time: WorkingTime = Field(description="The Working Time Regulations' average.")
    daily_rest: DailyRest = Field(description="Rest between working days.")
    supervision_interval: SupervisionInterval = Field(description="How often supervision.")
    declaration_answer: AnswerDeadline = Field(description="When a declaration is answered by.")
    supervisor_ratio: SupervisorRatio = Field(description="Staff per supervisor.")
    team_full: PercentThreshold = Field(description="Team capacity at which a team is full.")
    breach_escalation: BreachEscalation = Field(
        default=DEFAULT_BREACH_ESCALATION,
        description="When an unacknowledged breach goes to the manager, then the head of "
        "service (absent from versions proposed before breaches were recorded: the default).",
    )


_THRESHOLDS_EXAMPLE: dict[str, Any] = {
    "capacity_amber": {"percent": 100, "source": "Joint workload agreement, 2.1"},
    "capacity_red": {"percent": 110, "source": "Joint workload agreement, 2.1"},
    "excessive_workload": {"percent": 110, "weeks": 4, "source": "HMPPS WMT guidance"},
    "average_hours": {"weeks": 4, "source": "Cafcass joint statement (2009)"},
    "working_time": {"hours": 48, "weeks": 17, "source": "Working Time Regulations 1998, reg. 4"},
    "daily_rest": {"hours": 11, "source": "Working Time Regulations 1998, reg. 10"},
    "supervision_interval": {
        "days": 28,
        "first_year_days": 14,
        "first_year_grades": ["PQiP", "NQO"],
        "source": "Joint workload agreement, 4.2",
    },
    "declaration_answer": {"working_days": 5, "source": "Joint workload agreement, 5.3"},
    "supervisor_ratio": {"staff": 8, "source": "Joint workload agreement, 6.1"},
    "team_full": {"percent": 100, "source": "Joint workload agreement, 7.1"},
    "breach_escalation": {
        "manager_working_days": 2,
        "head_of_service_working_days": 5,
        "source": "Joint workload agreement, 8.2",
    },
}


class _PolicyVersion(EventData):
    policy_version: int = Field(
        ge=2, description="The policy version (version 1 is the defaults, never proposed)."
    )


@CATALOGUE.register
class PolicyProposed(_PolicyVersion):
    """A new version of the policy was proposed, whole. It takes effect only once one employer
    and one union representative have approved exactly this version (`policy-adopted`).

    A newer proposal supersedes one not yet adopted: approvals never carry over.
    """

    type = "policy-proposed"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "policy_version": 2,
            "thresholds": _THRESHOLDS_EXAMPLE,
            "proposed_by": "uma.union",
            "side": "union",
            "reason": "Red from 110% to 105%, as agreed at the joint committee.",
        },
    )

    thresholds: PolicyThresholds = Field(description="Every threshold of the proposed version.")
    proposed_by: ActorName = Field(description="Who proposed it.")
    side: Side = Field(description="The side they proposed it for.")
    reason: Text = Field(description="Why.")


@CATALOGUE.register
class PolicyApproved(_PolicyVersion):
    """A representative approved one exact version of the policy for their side."""

    type = "policy-approved"
    version = 1
    service = "wellbeing"
    examples = ({"policy_version": 2, "approved_by": "emil.employer", "side": "employer"},)

    approved_by: ActorName = Field(description="Who approved it (their account).")
    side: Side = Field(description="The side they approved for.")


@CATALOGUE.register
class PolicyRejected(_PolicyVersion):
    """A representative rejected a proposed version: it can no longer be adopted."""

    type = "policy-rejected"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "policy_version": 2,
            "rejected_by": "emil.employer",
            "side": "employer",
            "reason": "Not affordable this year.",
        },
    )

    rejected_by: ActorName = Field(description="Who rejected it.")
    side: Side = Field(description="The side they rejected it for.")
    reason: Text = Field(description="Why.")


@CATALOGUE.register
class PolicyAdopted(_PolicyVersion):
    """A policy version came into force at `adopted_at`: both sides approved it, each with its
    own account. Recorded in the same append as the second approval; carries the version whole,
    so a consumer needs nothing else to judge by it.
    """

    type = "policy-adopted"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "policy_version": 2,
            "thresholds": _THRESHOLDS_EXAMPLE,
            "adopted_at": "2025-04-01T09:30:00Z",
            "employer_approved_by": "emil.employer",
            "union_approved_by": "uma.union",
        },
    )

    thresholds: PolicyThresholds = Field(description="Every threshold now in force.")
    adopted_at: datetime = Field(description="The instant it came into force.")
    employer_approved_by: ActorName = Field(description="The employer side's approver.")
    union_approved_by: ActorName = Field(description="The union side's approver.")


# --- duty of care: breaches, and teams declared full ---------------------------------------------

BreachRule = Literal[
    "capacity-amber",
    "capacity-red",
    "excessive-workload",
    "average-hours",
    "working-time",
    "daily-rest",
    "supervision-overdue",
    "declaration-unanswered",
    "review-overdue",
    "supervisor-ratio",
    "team-full",
]
"""The duty-of-care rules, one per threshold of the policy (and the review date of a stress risk
assessment): what a breach is a breach of.

capacity-amber, capacity-red: capacity above the policy's percent; excessive-workload: above
its percent for its weeks without a break; average-hours: hours worked averaged over its weeks
above contracted hours; working-time: averaged over its weeks above its hours, unless opted
out; daily-rest: less than its hours' rest between two working days in the last 7 days;
supervision-overdue: no supervision within its interval; declaration-unanswered: a declaration
unanswered after its deadline; review-overdue: a stress risk assessment not reviewed by its
review day; supervisor-ratio (a team): a supervisor with more than its staff in post;
team-full (a team): team capacity at or above its percent."""

SubjectKind = Literal["practitioner", "team"]
"""What a breach is about: a practitioner, or a whole team."""

EscalationLevel = Literal["manager", "head-of-service"]
"""Who an unacknowledged breach has gone up to."""

FactValue = Any
"""A JSON value (numbers with a fraction as strings, so that no figure depends on how a float
prints)."""


class BreachCause(_Data):
    """What a judgement was made on: an event as it arrived, or a deadline passing."""

    kind: Literal["event", "deadline"] = Field(
        description="event: a fact from a topic (allocation, timesheet, wellbeing); deadline: "
        "the time the rule gives passed with nothing else happening."
    )
    event_id: UUID | None = Field(description="The event's id (kind event).")
    event_type: Identifier | None = Field(description="Its type, e.g. capacity-changed.")
    source: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        description="Its CloudEvents source, e.g. /plimsoll/allocation."
    )
    at: datetime = Field(description="When it was recorded, or the deadline passed.")


class _Breach(EventData):
    """What every breach event carries, so each stands alone on the topic."""

    breach_id: Identifier = Field(description="The breach.")
    rule: BreachRule = Field(description="The rule breached.")
    subject_kind: SubjectKind = Field(description="Whether it is about a practitioner or a team.")
    subject_id: Identifier = Field(description="The practitioner's or the team's id.")
    practitioner_id: Identifier | None = Field(
        description="The practitioner, when the subject is one (the event's key and "
        "CloudEvents subject); null for a team's breach."
    )
    team_id: Identifier = Field(description="The team (the practitioner's when it opened).")
    region_id: Identifier = Field(description="That team's region.")


_BREACH_EXAMPLE: dict[str, Any] = {
    "breach_id": "BR-5f1c0e2a9b3d-1",
    "rule": "capacity-red",
    "subject_kind": "practitioner",
    "subject_id": "P-0001",
    "practitioner_id": "P-0001",
    "team_id": "T-NORTH-1",
    "region_id": "R-NORTH",
}


@CATALOGUE.register
class BreachOpened(_Breach):
    """A duty-of-care rule is breached: judged on `facts` under policy `policy_version`, whose
    thresholds are quoted. One breach per rule and subject is open at a time.

    Recorded by the wellbeing service itself (actor `system:duty-of-care`) when it judges the
    condition to hold: after the event `cause` names, or when a deadline passed. The condition
    has held since `breached_since`. Nobody acknowledging it by `acknowledge_by` sends it to
    the manager (a practitioner's breach), by `escalate_by` to the head of service.
    """

    type = "breach-opened"
    version = 1
    service = "wellbeing"
    examples = (
        {
            **_BREACH_EXAMPLE,
            "facts": {
                "capacity_percent": "112.4",
                "total_points": 2446,
                "available_points": 2176,
                "above_since": "2025-03-04T10:12:00Z",
            },
            "thresholds": {
                "capacity_red": {
                    "percent": 110,
                    "source": "HMPPS Workload Measurement Tool (WMT): capacity above 110% "
                    "of available points",
                }
            },
            "policy_version": 1,
            "breached_since": "2025-03-04T10:12:00Z",
            "cause": {
                "kind": "event",
                "event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
                "event_type": "capacity-changed",
                "source": "/plimsoll/allocation",
                "at": "2025-03-04T10:12:00Z",
            },
            "judged_at": "2025-03-04T10:12:01Z",
            "acknowledge_by": "2025-03-06",
            "escalate_by": "2025-03-11",
        },
    )

    facts: dict[str, FactValue] = Field(description="The facts it was judged on.")
    thresholds: dict[str, FactValue] = Field(
        description="The policy's thresholds it was judged by, as the policy states them."
    )
    policy_version: int = Field(ge=1, description="The policy version in force.")
    breached_since: datetime = Field(description="When the condition began to hold.")
    cause: BreachCause = Field(description="What the judgement was made on.")
    judged_at: datetime = Field(description="When it was judged.")
    acknowledge_by: date = Field(
        description="The last working day to acknowledge it before it goes up one level."
    )
    escalate_by: date = Field(
        description="The last working day to acknowledge it before it goes to the head of service."
    )


@CATALOGUE.register
class BreachAcknowledged(_Breach):
    """Someone responsible (a manager, a head of service, an admin) acknowledged the breach:
    it escalates no further. It stays open until it resolves."""

    type = "breach-acknowledged"
    version = 1
    service = "wellbeing"
    examples = ({**_BREACH_EXAMPLE, "acknowledged_by": "mo.manager", "note": "Reviewing Friday"},)

    acknowledged_by: ActorName = Field(description="Who acknowledged it (their username).")
    note: Text | None = Field(description="What they said, if anything.")


@CATALOGUE.register
class BreachEscalated(_Breach):
    """Nobody acknowledged the breach by its deadline: it went up to `level`.

    Recorded by the wellbeing service (actor `system:duty-of-care`) from the UK day after the
    deadline missed, once; when both deadlines have passed it goes straight to the head of
    service.
    """

    type = "breach-escalated"
    version = 1
    service = "wellbeing"
    examples = (
        {
            **_BREACH_EXAMPLE,
            "level": "manager",
            "deadline_missed": "2025-03-06",
            "escalated_on": "2025-03-07",
            "next_deadline": "2025-03-11",
        },
    )

    level: EscalationLevel = Field(description="Who it has gone to.")
    deadline_missed: date = Field(description="The acknowledgement deadline that passed.")
    escalated_on: date = Field(description="The UK day it went up.")
    next_deadline: date | None = Field(
        description="The deadline before it goes up again; null at the head of service."
    )


@CATALOGUE.register
class BreachRejudged(_Breach):
    """A new policy version came into force and the open breach was judged again under it:
    it still holds, by these thresholds and facts (`policy_version` is the new version)."""

    type = "breach-rejudged"
    version = 1
    service = "wellbeing"
    examples = (
        {
            **_BREACH_EXAMPLE,
            "facts": {"capacity_percent": "112.4"},
            "thresholds": {"capacity_red": {"percent": 105, "source": "Joint committee, 2025"}},
            "policy_version": 2,
            "previous_policy_version": 1,
            "cause": {
                "kind": "event",
                "event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c",
                "event_type": "policy-adopted",
                "source": "/plimsoll/wellbeing",
                "at": "2025-04-01T09:30:00Z",
            },
            "judged_at": "2025-04-01T09:30:01Z",
        },
    )

    facts: dict[str, FactValue] = Field(description="The facts judged.")
    thresholds: dict[str, FactValue] = Field(description="The new version's thresholds.")
    policy_version: int = Field(ge=1, description="The version now in force.")
    previous_policy_version: int = Field(ge=1, description="The version it was judged by before.")
    cause: BreachCause = Field(description="The policy-adopted event, usually.")
    judged_at: datetime = Field(description="When it was judged again.")


@CATALOGUE.register
class BreachResolved(_Breach):
    """The breach is over: its condition cleared (`condition-cleared`, citing the event that
    cleared it, or the deadline or policy version under which it no longer holds), or someone
    decided it is resolved (`decision`, with who and why: it does not open again until its
    condition has cleared and holds anew)."""

    type = "breach-resolved"
    version = 1
    service = "wellbeing"
    examples = (
        {
            **_BREACH_EXAMPLE,
            "how": "condition-cleared",
            "cause": {
                "kind": "event",
                "event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5d",
                "event_type": "capacity-changed",
                "source": "/plimsoll/allocation",
                "at": "2025-03-12T15:02:00Z",
            },
            "facts": {"capacity_percent": "98.1"},
            "policy_version": 1,
            "decided_by": None,
            "reason": None,
            "judged_at": "2025-03-12T15:02:01Z",
        },
    )

    how: Literal["condition-cleared", "decision"] = Field(description="Why it is over.")
    cause: BreachCause | None = Field(description="What cleared it (condition-cleared).")
    facts: dict[str, FactValue] | None = Field(
        description="The facts it was judged on when it cleared (condition-cleared)."
    )
    policy_version: int = Field(ge=1, description="The policy version it was judged under.")
    decided_by: ActorName | None = Field(description="Who decided (decision).")
    reason: Text | None = Field(description="Why they decided so (decision).")
    judged_at: datetime = Field(description="When it was judged or decided.")


class _TeamFull(EventData):
    team_id: Identifier = Field(description="The team.")
    region_id: Identifier = Field(description="Its region.")


@CATALOGUE.register
class TeamFullDeclared(_TeamFull):
    """A head of service (or an admin) declared the team full: courts and partners are told
    normal service cannot be given until resources arrive (the probation equivalent of
    Operation Safeguard). Published also as the HMPPS domain event `probation-team.full.declared`
    on `plimsoll.wellbeing.hmpps`. It stays full until `team-full-lifted`."""

    type = "team-full-declared"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "declared_by": "hana.head",
            "reason": "Team capacity at 104% with two vacancies unfilled.",
            "declared_on": "2025-03-12",
            "expected_duration_days": 42,
            "expected_until": "2025-04-23",
            "breach_id": "BR-0c9e1f3b77a4-1",
        },
    )

    declared_by: ActorName = Field(description="Who declared it.")
    reason: Text = Field(description="Why.")
    declared_on: date = Field(description="The UK day it was declared.")
    expected_duration_days: int = Field(
        ge=1, le=366, description="How long it is expected to last, in days."
    )
    expected_until: date = Field(description="The day it is expected to be lifted by.")
    breach_id: Identifier | None = Field(
        description="The team-full breach open when it was declared, if any."
    )


@CATALOGUE.register
class TeamFullLifted(_TeamFull):
    """The team is no longer declared full: normal service again. Published also as the HMPPS
    domain event `probation-team.full.lifted`."""

    type = "team-full-lifted"
    version = 1
    service = "wellbeing"
    examples = (
        {
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "lifted_by": "hana.head",
            "reason": "Two officers started; capacity back to 93%.",
            "lifted_on": "2025-04-14",
        },
    )

    lifted_by: ActorName = Field(description="Who lifted it.")
    reason: Text = Field(description="Why.")
    lifted_on: date = Field(description="The UK day it was lifted.")
