"""Events of the wellbeing service: supervision and the workload agreed in it."""

from datetime import date

from pydantic import Field

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import Identifier


@CATALOGUE.register
class SupervisionHeld(EventData):
    """A supervision took place between a practitioner and their supervisor.

    It records what they agreed: the actions, and the cases on which work is
    suspended (the prioritising framework), which no longer count towards the
    practitioner's workload. It also restarts the clock on the time since the
    last supervision.
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
