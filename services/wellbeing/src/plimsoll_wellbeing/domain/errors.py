"""The wellbeing domain's refusals: the shared ones (`plimsoll_events.refusals`), specialised.

Each names the field at fault and says why; the edge answers them as problem details
with their status and kind. A refused command records nothing.
"""

from plimsoll_events.refusals import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    NotFound,
    NotPermitted,
    OutsideScope,
    Refused,
)

__all__ = [
    "AgreementInForce",
    "AgreementNotInForce",
    "AlreadyAnswered",
    "AlreadyApproved",
    "AlreadyEscalated",
    "AlreadyExists",
    "CaseNotCarried",
    "Conflict",
    "DeclarationIsClosed",
    "InvalidValue",
    "NoConsent",
    "NotAnswered",
    "NotEscalated",
    "NotFound",
    "NotPermitted",
    "OutsideScope",
    "PolicyNotPending",
    "Refused",
    "SideAlreadyApproved",
    "StalePolicyVersion",
    "SupervisionNotScheduled",
    "SupervisorNotLineManager",
]


class SupervisorNotLineManager(InvalidValue):
    """The supervisor is not the practitioner's line manager, and no reason was given."""

    kind = "supervisor-not-line-manager"
    title = "The supervisor is not the line manager"


class SupervisionNotScheduled(Conflict):
    """The supervision is held or cancelled already: it cannot be cancelled or held again."""

    kind = "supervision-not-scheduled"
    title = "The supervision is not (or no longer) scheduled"


class CaseNotCarried(Conflict):
    """Work can be suspended only on a case the practitioner carries."""

    kind = "case-not-carried"
    title = "The practitioner does not carry this case"


class AgreementInForce(Conflict):
    """An agreement about this case is in force already."""

    kind = "agreement-in-force"
    title = "An agreement about this case is already in force"


class AgreementNotInForce(Conflict):
    """The agreement has ended already."""

    kind = "agreement-not-in-force"
    title = "The agreement is not in force"


class DeclarationIsClosed(Conflict):
    kind = "declaration-closed"
    title = "The declaration is closed"


class AlreadyAnswered(Conflict):
    kind = "already-answered"
    title = "The declaration has been answered already"


class NotAnswered(Conflict):
    kind = "not-answered"
    title = "The declaration has not been answered yet"


class AlreadyEscalated(Conflict):
    kind = "already-escalated"
    title = "The declaration has been escalated already"


class NotEscalated(Conflict):
    kind = "not-escalated"
    title = "The declaration has not been escalated"


class StalePolicyVersion(Conflict):
    """A proposal must be the next version after the latest proposed."""

    kind = "stale-policy-version"
    title = "Not the next policy version"


class PolicyNotPending(Conflict):
    """The version was adopted, rejected or superseded: it takes no more approvals."""

    kind = "policy-not-pending"
    title = "The policy version is not awaiting approval"


class AlreadyApproved(Conflict):
    """This account approved this version already: the other side needs another account."""

    kind = "already-approved"
    title = "Already approved by this account"


class SideAlreadyApproved(Conflict):
    """Another account approved this version for the same side already."""

    kind = "side-already-approved"
    title = "This side has approved already"


class NoConsent(OutsideScope):
    """A union representative reads a member's declarations only with their consent."""

    kind = "no-consent"
    title = "The member has not consented"
