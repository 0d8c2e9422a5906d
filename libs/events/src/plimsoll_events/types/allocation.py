"""Events of the allocation service: who carries which case, and at what weight."""

from typing import Annotated

from pydantic import Field, StringConstraints

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import Identifier

WmtTier = Annotated[str, StringConstraints(pattern=r"^[A-D][0-3]S?$")]
"""A WMT tier, A3 (highest risk and need) to D0, with S for the unsupervised variant."""


@CATALOGUE.register
class CaseAllocated(EventData):
    """A case was allocated to a practitioner: from now on it counts in their workload.

    `points` is the case's weighting at the moment of allocation (for probation,
    the WMT points of its tier and case type), so a later change to the
    weighting scheme never rewrites what a practitioner was judged to carry.
    """

    type = "case-allocated"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "case_id": "X777519",
            "team_id": "T-NORTH-1",
            "tier": "C1",
            "case_type": "community",
            "points": 50,
            "allocated_by": "P-0100",
            "reason": "INITIAL_ALLOCATION",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner now responsible.")
    case_id: Identifier = Field(description="The case (for probation, the person's CRN).")
    team_id: Identifier = Field(description="The team the case is held in.")
    tier: WmtTier | None = Field(
        description="The WMT tier (A3..D0, S for unsupervised) for probation cases; "
        "null for Cafcass cases, which are not tiered."
    )
    case_type: str = Field(
        min_length=1,
        max_length=50,
        description="community, custody or licence for probation; "
        "the Cafcass case type (e.g. public-law, private-law) otherwise.",
    )
    points: int = Field(ge=0, description="The case's weighting at allocation, in points.")
    allocated_by: Identifier = Field(description="Who made the allocation decision.")
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why, e.g. INITIAL_ALLOCATION, TRANSFER_IN or CASELOAD_ADJUSTMENT.",
    )
