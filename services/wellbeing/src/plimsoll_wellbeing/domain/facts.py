"""What the wellbeing domain is told about the world: facts a command carries, gathered by the
edge (placements, case holders, the policy in force, the UK day) so the deciders stay pure."""

from dataclasses import dataclass
from datetime import date

from plimsoll_events import refusals
from plimsoll_events.refusals import InvalidValue


@dataclass(frozen=True)
class PractitionerFacts:
    """A practitioner as placements know them: where, under whom, since and until when.

    `line_manager_id` is their line manager on the day the command is about (the day a
    supervision was held, say), which is not always today.
    """

    practitioner_id: str
    team_id: str
    region_id: str
    line_manager_id: str | None
    start_date: date
    leaving_date: date | None = None


def texts(values: tuple[str, ...], field: str) -> list[str]:
    """A list of things a person wrote (actions, measures): each `refusals.text`, at most 50."""
    if len(values) > 50:
        raise InvalidValue("at most 50 entries", field=field)
    return [refusals.text(value, f"{field}[{i}]") for i, value in enumerate(values)]


def in_post_on(day: date, practitioner: PractitionerFacts, field: str, *, today: date) -> date:
    """A day something happened with the practitioner: not before they started, not after
    they left, not in the future."""
    refusals.day(day, field)
    if day > today:
        raise InvalidValue(f"{day} is in the future (today is {today})", field=field)
    if day < practitioner.start_date:
        raise InvalidValue(
            f"{day} is before {practitioner.practitioner_id} started ({practitioner.start_date})",
            field=field,
        )
    if practitioner.leaving_date is not None and day > practitioner.leaving_date:
        raise InvalidValue(
            f"{day} is after {practitioner.practitioner_id} left ({practitioner.leaving_date})",
            field=field,
        )
    return day
