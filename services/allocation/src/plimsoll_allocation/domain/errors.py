"""Why the allocation domain refuses a command: one hierarchy, ready for RFC 9457.

Every refusal is an `AllocationRefused`. It names the input at fault (`field`,
as the command spells it, or None when no single input is) and says why
(`reason`, a sentence for a person), and its class carries what the HTTP layer
needs: the `status` to answer with and the `kind` that ends the problem type
URI. A refused command records no event.

    AllocationRefused
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
"""

from typing import ClassVar


class AllocationRefused(Exception):
    """The allocation service refuses a command; nothing is recorded."""

    status: ClassVar[int] = 422
    kind: ClassVar[str] = "refused"
    title: ClassVar[str] = "The command was refused"

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class InvalidValue(AllocationRefused):
    """A value the command carries is not acceptable (unknown grade or tier, hours out of range)."""

    status = 422
    kind = "invalid-value"
    title = "A value is not valid"


class OverrideReasonRequired(InvalidValue):
    """The allocation goes above the override threshold and no written reason was given."""

    kind = "override-reason-required"
    title = "A written reason is needed to allocate above capacity"


class NotFound(AllocationRefused):
    """The practitioner, case or reduction the command is about was never recorded."""

    status = 404
    kind = "not-found"
    title = "Not found"


class Conflict(AllocationRefused):
    """The command clashes with what is already recorded."""

    status = 409
    kind = "conflict"
    title = "The command conflicts with the current state"


class AlreadyExists(Conflict):
    """A practitioner, case or reduction with this id is already recorded."""

    kind = "already-exists"
    title = "Already recorded"


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


class NotPermitted(AllocationRefused):
    """The actor's role or scope does not allow the command."""

    status = 403
    kind = "not-permitted"
    title = "Not permitted"


class OutsideScope(NotPermitted):
    """A manager acting outside their own team, or a head of service outside their region."""

    kind = "outside-scope"
    title = "Outside the actor's team or region"


class HeadOfServiceRequired(NotPermitted):
    """The allocation goes above the hard ceiling: only a head of service may decide it."""

    kind = "head-of-service-required"
    title = "Only a head of service may allocate above the hard ceiling"
