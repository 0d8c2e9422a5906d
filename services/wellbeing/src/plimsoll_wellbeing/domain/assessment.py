"""A practitioner's stress risk assessments.

One stream per practitioner (`assessments_stream`). A decider: `initial_state`, `decide`,
`evolve`.

Rules: an assessment is done on a day the practitioner was in post, not in the future; it
records the risk found, the outcome, the measures agreed and the day a review is due (after
the assessment). A review is a new assessment naming the one it reviews, which must be one
of theirs; ids are unique per practitioner.
"""

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.wellbeing import StressRiskAssessmentRecorded

from plimsoll_wellbeing.domain.errors import AlreadyExists, InvalidValue, NotFound
from plimsoll_wellbeing.domain.facts import PractitionerFacts, in_post_on, texts


@dataclass(frozen=True)
class RecordAssessment:
    """Record a stress risk assessment (or a review of an earlier one, `reviews`)."""

    practitioner: PractitionerFacts
    assessment_id: str
    assessed_on: date
    assessed_by: str
    risk_level: Literal["low", "medium", "high"]
    outcome: str
    review_on: date
    today: date
    measures: tuple[str, ...] = ()
    reviews: str | None = None


AssessmentState = frozenset[str]
"""The ids of the practitioner's assessments so far."""

initial_state: Final[AssessmentState] = frozenset()


def assessments_stream(practitioner_id: str) -> str:
    """The stream of a practitioner's stress risk assessments."""
    return f"stress-risk-assessments-{practitioner_id}"


def decide(command: RecordAssessment, state: AssessmentState) -> list[EventData]:
    refusals.identifier(command.assessment_id, "assessment_id")
    if command.assessment_id in state:
        raise AlreadyExists(f"assessment {command.assessment_id} exists", field="assessment_id")
    practitioner = command.practitioner
    in_post_on(command.assessed_on, practitioner, "assessed_on", today=command.today)
    refusals.day(command.review_on, "review_on")
    if command.review_on <= command.assessed_on:
        raise InvalidValue(
            f"a review is due after the assessment ({command.assessed_on})", field="review_on"
        )
    if command.reviews is not None and command.reviews not in state:
        raise NotFound(
            f"{practitioner.practitioner_id} has no assessment {command.reviews!r}",
            field="reviews",
        )
    return [
        StressRiskAssessmentRecorded(
            practitioner_id=practitioner.practitioner_id,
            assessment_id=command.assessment_id,
            assessed_on=command.assessed_on,
            assessed_by=command.assessed_by,
            risk_level=command.risk_level,
            outcome=refusals.text(command.outcome, "outcome"),
            measures=texts(command.measures, "measures"),
            review_on=command.review_on,
            reviews=command.reviews,
        )
    ]


def evolve(state: AssessmentState, event: EventData) -> AssessmentState:
    if isinstance(event, StressRiskAssessmentRecorded):
        return state | {event.assessment_id}
    raise TypeError(f"{event.type} is not an event of stress risk assessments")


ASSESSMENTS: Final = Decider[RecordAssessment, AssessmentState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A practitioner's stress risk assessments as a `Decider`."""
