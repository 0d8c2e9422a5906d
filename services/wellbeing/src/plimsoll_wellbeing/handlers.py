"""The wellbeing commands: one method per command, each taking the command object and ending in
`plimsoll_events.handling.execute` on the command's stream.

The command arrives whole, facts included (the practitioner as placements know them, the
cases they carry, the policy in force, the UK day): the route gathers them, once, for the
scope check and the command. A refusal records nothing; a retried command with the same
idempotency key returns what the first attempt recorded.
"""

from typing import TypeVar

from plimsoll_events.handling import Decider, Idempotency, Store, execute
from plimsoll_events.records import Metadata, RecordedEvent

from plimsoll_wellbeing.domain.assessment import ASSESSMENTS, RecordAssessment, assessments_stream
from plimsoll_wellbeing.domain.breach import BREACH, Acknowledge, ResolveByDecision
from plimsoll_wellbeing.domain.consent import (
    CONSENT,
    ConsentCommand,
    GiveConsent,
    WithdrawConsent,
    consent_stream,
)
from plimsoll_wellbeing.domain.declaration import (
    DECLARATION,
    AcceptAnswer,
    Answer,
    DeclarationCommand,
    Declare,
    EscalateOverdue,
    EscalateUnaccepted,
    HoldThreeWayMeeting,
    declaration_stream,
)
from plimsoll_wellbeing.domain.policy import (
    POLICY,
    POLICY_STREAM,
    ApprovePolicy,
    PolicyCommand,
    ProposePolicy,
    RejectPolicy,
)
from plimsoll_wellbeing.domain.supervision import (
    SUPERVISION_RECORD,
    CancelSupervision,
    HoldSupervision,
    ResumeDueWork,
    ResumeWork,
    ScheduleSupervision,
    SupervisionCommand,
    supervision_record_stream,
)
from plimsoll_wellbeing.domain.team_full import (
    TEAM_FULL,
    DeclareFull,
    LiftFull,
    team_full_stream,
)

Command = TypeVar("Command")
State = TypeVar("State")
Key = Idempotency | None
Recorded = list[RecordedEvent]


class WellbeingHandlers:
    """Every wellbeing command, against the service's event store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # Supervision record.

    def schedule_supervision(
        self, command: ScheduleSupervision, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._supervision(command.practitioner.practitioner_id, command, metadata, key)

    def cancel_supervision(
        self, command: CancelSupervision, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._supervision(command.practitioner_id, command, metadata, key)

    def hold_supervision(
        self, command: HoldSupervision, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._supervision(command.practitioner.practitioner_id, command, metadata, key)

    def resume_work(self, command: ResumeWork, metadata: Metadata, key: Key = None) -> Recorded:
        return self._supervision(command.practitioner_id, command, metadata, key)

    def resume_due_work(self, command: ResumeDueWork, metadata: Metadata) -> Recorded:
        return self._supervision(command.practitioner_id, command, metadata, None)

    # Declarations.

    def declare(self, command: Declare, metadata: Metadata, key: Key = None) -> Recorded:
        return self._declaration(command, metadata, key)

    def answer(self, command: Answer, metadata: Metadata, key: Key = None) -> Recorded:
        return self._declaration(command, metadata, key)

    def escalate_overdue(self, command: EscalateOverdue, metadata: Metadata) -> Recorded:
        return self._declaration(command, metadata, None)

    def escalate_unaccepted(
        self, command: EscalateUnaccepted, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._declaration(command, metadata, key)

    def accept_answer(self, command: AcceptAnswer, metadata: Metadata, key: Key = None) -> Recorded:
        return self._declaration(command, metadata, key)

    def hold_three_way_meeting(
        self, command: HoldThreeWayMeeting, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._declaration(command, metadata, key)

    # Assessments and consent.

    def record_assessment(
        self, command: RecordAssessment, metadata: Metadata, key: Key = None
    ) -> Recorded:
        stream = assessments_stream(command.practitioner.practitioner_id)
        return self._run(ASSESSMENTS, stream, command, metadata, key)

    def give_consent(self, command: GiveConsent, metadata: Metadata, key: Key = None) -> Recorded:
        return self._consent(command, metadata, key)

    def withdraw_consent(
        self, command: WithdrawConsent, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._consent(command, metadata, key)

    # The policy.

    def propose_policy(
        self, command: ProposePolicy, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._policy(command, metadata, key)

    def approve_policy(
        self, command: ApprovePolicy, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._policy(command, metadata, key)

    def reject_policy(self, command: RejectPolicy, metadata: Metadata, key: Key = None) -> Recorded:
        return self._policy(command, metadata, key)

    # Breaches (their stream is the breach's, as the read model names it) and teams full.

    def acknowledge_breach(
        self, stream: str, command: Acknowledge, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._run(BREACH, stream, command, metadata, key)

    def resolve_breach(
        self, stream: str, command: ResolveByDecision, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._run(BREACH, stream, command, metadata, key)

    def declare_team_full(
        self, command: DeclareFull, metadata: Metadata, key: Key = None
    ) -> Recorded:
        return self._run(TEAM_FULL, team_full_stream(command.team_id), command, metadata, key)

    def lift_team_full(self, command: LiftFull, metadata: Metadata, key: Key = None) -> Recorded:
        return self._run(TEAM_FULL, team_full_stream(command.team_id), command, metadata, key)

    # One stream each.

    def _supervision(
        self, practitioner_id: str, command: SupervisionCommand, metadata: Metadata, key: Key
    ) -> Recorded:
        stream = supervision_record_stream(practitioner_id)
        return self._run(SUPERVISION_RECORD, stream, command, metadata, key)

    def _declaration(self, command: DeclarationCommand, metadata: Metadata, key: Key) -> Recorded:
        stream = declaration_stream(command.declaration_id)
        return self._run(DECLARATION, stream, command, metadata, key)

    def _consent(self, command: ConsentCommand, metadata: Metadata, key: Key) -> Recorded:
        stream = consent_stream(command.practitioner_id)
        return self._run(CONSENT, stream, command, metadata, key)

    def _policy(self, command: PolicyCommand, metadata: Metadata, key: Key) -> Recorded:
        return self._run(POLICY, POLICY_STREAM, command, metadata, key)

    def _run(
        self,
        decider: Decider[Command, State],
        stream: str,
        command: Command,
        metadata: Metadata,
        key: Key,
    ) -> Recorded:
        return execute(self.store, decider, stream, command, metadata, idempotency=key)
