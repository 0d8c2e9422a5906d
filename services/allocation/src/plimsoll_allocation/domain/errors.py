"""Why the allocation domain refuses a command: the shared refusals, and allocation's own.

Every refusal is a `plimsoll_events.refusals.Refused`: it names the input at
fault (`field`) and says why (`reason`), and its class carries the HTTP
`status` and the problem `kind`. The generic ones are the shared classes,
re-exported here; allocation adds only what is its own:

    Refused
    ├── InvalidValue (422)            a value the command carries is not acceptable
    │   └── OverrideReasonRequired    above the override threshold without a written reason
    ├── NotFound (404)                the practitioner, case or reduction does not exist
    ├── Conflict (409)                the command clashes with what is already recorded
    │   ├── AlreadyExists             a second registration, case or reduction with one id
    │   ├── PractitionerHasLeft       changes to, or work for, someone who has left
    │   ├── PractitionerFullyReduced  work for someone on a 100% reduction
    │   ├── AlreadyAllocated          a case allocated twice (use reallocate)
    │   ├── NotAllocated              reallocating a case nobody holds (use allocate)
    │   ├── CaseIsClosed              changes to a closed case
    │   └── StaleSchemeVersion        a scheme version not above the one in force
    └── NotPermitted (403)            the actor's role or scope does not allow it
        ├── OutsideScope              a manager outside their team, a head outside their region
        └── HeadOfServiceRequired     above the hard ceiling, only a head of service decides

`supplied` (the shared check) is how a decider refuses a command whose context (the scheme in
force, today, a team's region) the application layer should have filled in.
"""

from plimsoll_events.refusals import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    NotFound,
    NotPermitted,
    OutsideScope,
    Refused,
    supplied,
)

__all__ = [
    "AlreadyAllocated",
    "AlreadyExists",
    "CaseIsClosed",
    "Conflict",
    "HeadOfServiceRequired",
    "InvalidValue",
    "NotAllocated",
    "NotFound",
    "NotPermitted",
    "OutsideScope",
    "OverrideReasonRequired",
    "PractitionerFullyReduced",
    "PractitionerHasLeft",
    "Refused",
    "StaleSchemeVersion",
    "supplied",
]


class OverrideReasonRequired(InvalidValue):
    """The allocation goes above the override threshold and no written reason was given."""

    kind = "override-reason-required"
    title = "A written reason is needed to allocate above capacity"


class PractitionerHasLeft(Conflict):
    """The practitioner has left (or their leaving is recorded): no changes, no new work."""

    kind = "practitioner-left"
    title = "The practitioner has left"


class PractitionerFullyReduced(Conflict):
    """The practitioner is on a 100% reduction (sickness, maternity...): no new work."""

    kind = "practitioner-fully-reduced"
    title = "The practitioner is on a full reduction"


class AlreadyAllocated(Conflict):
    """The case is already held by a practitioner: reallocate it instead."""

    kind = "case-already-allocated"
    title = "The case is already allocated"


class NotAllocated(Conflict):
    """The case is held by nobody: allocate it instead."""

    kind = "case-not-allocated"
    title = "The case is not allocated"


class CaseIsClosed(Conflict):
    """The case is closed: it can no longer change."""

    kind = "case-closed"
    title = "The case is closed"


class StaleSchemeVersion(Conflict):
    """A weighting scheme version must be above the version in force."""

    kind = "stale-scheme-version"
    title = "The scheme version is not newer than the one in force"


class HeadOfServiceRequired(NotPermitted):
    """The allocation goes above the hard ceiling: only a head of service may decide it."""

    kind = "head-of-service-required"
    title = "Only a head of service may allocate above the hard ceiling"
