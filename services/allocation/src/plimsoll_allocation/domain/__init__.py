"""The pure domain of the allocation service: no I/O, no framework, no clock.

Three aggregates, each a `Decider` (`initial_state`, `decide`, `evolve`):

* `workforce.PRACTITIONER`: one stream per practitioner (`practitioner_stream`);
  commands `RegisterPractitioner`, `ChangeContractedHours`, `StartReduction`,
  `EndReduction`, `ReconcileReductions`, `TransferPractitioner`,
  `ChangeLineManager`, `RecordLeaving`.
* `caseload.CASE`: one stream per case (`case_stream`); commands `OpenCase`,
  `AllocateCase`, `ReallocateCase`, `ChangeTier`, `ChangeStage`, `ReweighCase`,
  `CloseCase`, and `SuspendCaseWork` / `ResumeCaseWork` (wellbeing's workload
  agreements).
* `weighting.WEIGHTING_SCHEME`: one stream per kind of scheme (`scheme_stream`);
  command `ChangeWeightingScheme`.

Beside them, `capacity` (WMT's arithmetic, exact), `weighting` (the schemes
as data, and what a case weighs) and `rules` (who may be given a case, by
whom, and what going above capacity needs; `assess_allocation` is the impact
preview). Time comes in on commands (`today`,
`opened_on`...), filled in by the application layer where the sender cannot
know it; every refusal is a `plimsoll_events.refusals.Refused` (see `errors`).

`Decider` itself lives in `plimsoll_events.handling`, beside `execute`, which
does a handler's whole job for any aggregate:

    state = decider.fold(events_of_the_stream)
    new_events = decider.decide(command, state)     # or a Refused
    store.append(stream, new_events, expected_version=len(events_of_the_stream))
"""

from plimsoll_events.handling import Decider

from plimsoll_allocation.domain import (
    capacity,
    caseload,
    errors,
    placement,
    reductions,
    rules,
    weighting,
    workforce,
)
from plimsoll_allocation.domain.capacity import (
    MAX_CONTRACTED_HOURS,
    ImpactPreview,
    Workload,
    available_points,
    capacity_percent,
    impact_preview,
    pooled,
    reduction_hours_from_percent,
)
from plimsoll_allocation.domain.caseload import (
    CASE,
    AllocateCase,
    Case,
    CaseCommand,
    CaseState,
    ChangeStage,
    ChangeTier,
    CloseCase,
    OpenCase,
    ReallocateCase,
    ResumeCaseWork,
    ReweighCase,
    SuspendCaseWork,
    Suspension,
    SuspensionKind,
    case_stream,
)
from plimsoll_allocation.domain.errors import (
    AlreadyAllocated,
    AlreadyExists,
    CaseIsClosed,
    Conflict,
    HeadOfServiceRequired,
    InvalidValue,
    NotAllocated,
    NotFound,
    NotPermitted,
    OutsideScope,
    OverrideReasonRequired,
    PractitionerFullyReduced,
    PractitionerHasLeft,
    Refused,
    StaleSchemeVersion,
)
from plimsoll_allocation.domain.placement import (
    ChangeLineManager,
    KnownRegion,
    Transfer,
    TransferPractitioner,
)
from plimsoll_allocation.domain.reductions import (
    EndReduction,
    ReconcileReductions,
    Reduction,
    StartReduction,
)
from plimsoll_allocation.domain.rules import (
    ALLOCATION_REASONS,
    DEFAULT_POLICY,
    REALLOCATION_REASONS,
    Actor,
    AllocationAssessment,
    AllocationPolicy,
    PractitionerFacts,
    assess_allocation,
    thresholds_above,
)
from plimsoll_allocation.domain.weighting import (
    DEFAULT_CAFCASS_SCHEME,
    DEFAULT_PROBATION_SCHEME,
    DEFAULT_SCHEMES,
    WEIGHTING_SCHEME,
    CaseProfile,
    ChangeWeightingScheme,
    Scheme,
    SchemeState,
    case_points,
    grade_allowance,
    hours_to_points,
    reduction_reason,
    scheme_for_case_type,
    scheme_for_grade,
    scheme_stream,
)
from plimsoll_allocation.domain.workforce import (
    PRACTITIONER,
    ChangeContractedHours,
    Practitioner,
    PractitionerCommand,
    PractitionerState,
    RecordLeaving,
    RegisterPractitioner,
    available_points_of,
    practitioner_stream,
)

__all__ = [
    "ALLOCATION_REASONS",
    "CASE",
    "DEFAULT_CAFCASS_SCHEME",
    "DEFAULT_POLICY",
    "DEFAULT_PROBATION_SCHEME",
    "DEFAULT_SCHEMES",
    "MAX_CONTRACTED_HOURS",
    "PRACTITIONER",
    "REALLOCATION_REASONS",
    "WEIGHTING_SCHEME",
    "Actor",
    "AllocateCase",
    "AllocationAssessment",
    "AllocationPolicy",
    "AlreadyAllocated",
    "AlreadyExists",
    "Case",
    "CaseCommand",
    "CaseIsClosed",
    "CaseProfile",
    "CaseState",
    "ChangeContractedHours",
    "ChangeLineManager",
    "ChangeStage",
    "ChangeTier",
    "ChangeWeightingScheme",
    "CloseCase",
    "Conflict",
    "Decider",
    "EndReduction",
    "HeadOfServiceRequired",
    "ImpactPreview",
    "InvalidValue",
    "KnownRegion",
    "NotAllocated",
    "NotFound",
    "NotPermitted",
    "OpenCase",
    "OutsideScope",
    "OverrideReasonRequired",
    "Practitioner",
    "PractitionerCommand",
    "PractitionerFacts",
    "PractitionerFullyReduced",
    "PractitionerHasLeft",
    "PractitionerState",
    "ReallocateCase",
    "ReconcileReductions",
    "RecordLeaving",
    "Reduction",
    "Refused",
    "RegisterPractitioner",
    "ResumeCaseWork",
    "ReweighCase",
    "Scheme",
    "SchemeState",
    "StaleSchemeVersion",
    "StartReduction",
    "SuspendCaseWork",
    "Suspension",
    "SuspensionKind",
    "Transfer",
    "TransferPractitioner",
    "Workload",
    "assess_allocation",
    "available_points",
    "available_points_of",
    "capacity",
    "capacity_percent",
    "case_points",
    "case_stream",
    "caseload",
    "errors",
    "grade_allowance",
    "hours_to_points",
    "impact_preview",
    "placement",
    "pooled",
    "practitioner_stream",
    "reduction_hours_from_percent",
    "reduction_reason",
    "reductions",
    "rules",
    "scheme_for_case_type",
    "scheme_for_grade",
    "scheme_stream",
    "thresholds_above",
    "weighting",
    "workforce",
]
