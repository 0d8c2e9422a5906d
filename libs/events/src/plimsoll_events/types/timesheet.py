"""Events of the timesheet service: the hours practitioners actually work."""

from datetime import date
from typing import Any, Literal

from pydantic import Field

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import Identifier

WorkCategory = Literal["casework", "travel", "supervision", "training", "admin", "other"]
"""What the time was spent on; the categories the working-time projections split by."""


@CATALOGUE.register
class HoursLoggedV1(EventData):
    """Superseded by v2. A practitioner logged the hours they worked on a day.

    Kept so that data written as v1 is still validated before it is upcast.
    """

    type = "hours-logged"
    version = 1
    service = "timesheet"
    examples = ({"practitioner_id": "P-0001", "day": "2025-03-03", "hours": 7.5},)

    practitioner_id: Identifier = Field(description="Who worked.")
    day: date = Field(description="The day worked, in the practitioner's local calendar.")
    hours: float = Field(ge=0, le=24, description="Hours worked that day.")


@CATALOGUE.register
class HoursLogged(EventData):
    """A practitioner logged time they worked on a day, and what it was spent on.

    Each event adds to that day's total: several events for one day are several
    stretches of work. Time is counted in whole minutes so that weekly totals and
    rolling averages add up exactly.
    """

    type = "hours-logged"
    version = 2
    service = "timesheet"
    examples = (
        {"practitioner_id": "P-0001", "day": "2025-03-03", "minutes": 450, "category": "casework"},
    )

    practitioner_id: Identifier = Field(description="Who worked.")
    day: date = Field(description="The day worked, in the practitioner's local calendar.")
    minutes: int = Field(ge=0, le=1440, description="Minutes worked, at most a whole day.")
    category: WorkCategory = Field(description="What the time was spent on.")


@CATALOGUE.upcaster("hours-logged", from_version=1)
def hours_logged_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 hours become whole minutes, all counted as casework.

    v1 recorded no category. "casework" is the choice made for legacy data: it
    is what nearly all logged time was, and it keeps the time in the
    practitioner's working hours, which is what the duty-of-care averages need;
    a practitioner who disagrees records a correction, never an edit.
    Minutes are `round(hours * 60)` (Python's rounding: exact halves go to even).
    """
    return {
        "practitioner_id": data["practitioner_id"],
        "day": data["day"],
        "minutes": round(float(data["hours"]) * 60),
        "category": "casework",
    }
