"""The HMPPS domain events Plimsoll publishes: topic, event types and payloads, as data.

Besides its CloudEvents, the allocation service publishes two of its facts as
HMPPS domain events, so that HMPPS consumers read them unchanged: plain JSON
(`content-type: application/json`) in the HMPPS envelope (eventType, version,
description, detailUrl, occurredAt, additionalInformation, personReference;
docs/reference/hmpps-domain-event.schema.json), on a topic of their own. The
contract lives here, not in the service, so that `schema` can publish it in the
AsyncAPI document without importing the service; the service's translator
(`plimsoll_allocation.hmpps`) takes its names from here, and a unit test holds
what it writes equal to the examples below.

The payload schemas are open (no `additionalProperties: false`), as HMPPS
envelopes are: a consumer ignores fields it does not know, so that fields can be
added to a version without breaking it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.fields import ComputedFieldInfo, FieldInfo

from plimsoll_events.types.fields import Identifier

HMPPS_TOPIC: Final = "plimsoll.allocation.hmpps"
"""The topic of the HMPPS domain events; kept forever, like every event topic."""

CONTENT_TYPE: Final = "application/json"
"""The `content-type` header of every HMPPS domain event: the value is the envelope itself."""

PERSON_ALLOCATED: Final = "person.community.manager.allocated"
STAFF_HOURS_CHANGED: Final = "staff.available.hours.changed"

Url = Annotated[str, WithJsonSchema({"type": "string", "format": "uri"})]


def _camel_title(name: str, _: FieldInfo | ComputedFieldInfo) -> str:
    return to_camel(name)


class _Wire(BaseModel):
    """Python names in snake case, JSON names in camel case as HMPPS writes them."""

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, field_title_generator=_camel_title
    )


class HmppsCrn(_Wire):
    """The person, by their CRN."""

    type: Literal["CRN"]
    value: Identifier = Field(description="The person's CRN: the Plimsoll case id.")


class HmppsStaffCode(_Wire):
    """The member of staff, by their staff code."""

    type: Literal["staffCode"]
    value: Identifier = Field(description="The staff code: the Plimsoll practitioner id.")


class HmppsTeamCode(_Wire):
    """The member of staff's team, by its team code."""

    type: Literal["teamCode"]
    value: Identifier = Field(description="The team code: the practitioner's Plimsoll team id.")


class HmppsPersonReference(_Wire):
    """The person a person.community.manager.allocated is about: their CRN alone."""

    identifiers: tuple[HmppsCrn]


class HmppsStaffReference(_Wire):
    """The member of staff a staff.available.hours.changed is about: staff code, then team code."""

    identifiers: tuple[HmppsStaffCode, HmppsTeamCode]


class HmppsAllocationInformation(_Wire):
    """What a person.community.manager.allocated adds: who now holds the case, and where."""

    allocation_id: UUID = Field(
        description="The id of the Plimsoll event (case-allocated or case-reallocated): "
        "unique per allocation, the same when a message is sent again."
    )
    staff_code: Identifier = Field(
        description="The practitioner now responsible (`practitioner_id`)."
    )
    team_code: Identifier = Field(description="The team the case is held in (`team_id`).")


class HmppsAvailableHoursInformation(_Wire):
    """What a staff.available.hours.changed adds: the hours the member of staff now has."""

    available_hours: float = Field(
        ge=0,
        description="Contracted hours less the reductions in force, never below 0; "
        "0 from the practitioner's leaving on (they are given no new work).",
    )


class HmppsDomainEvent(_Wire):
    """An HMPPS domain event envelope, as each subclass narrows it for one type and version.

    Subclasses set the ClassVars `key_description` (what the Kafka key is) and
    `examples` (whole envelopes, exactly as published), narrow every field but
    `occurred_at` and say what each holds.
    """

    key_description: ClassVar[str]
    examples: ClassVar[tuple[Mapping[str, Any], ...]]

    event_type: str
    version: int
    description: str
    detail_url: Url
    occurred_at: AwareDatetime = Field(
        description="When Plimsoll recorded the event, in UK time with its offset "
        "(RFC 3339), as HMPPS services write it."
    )
    additional_information: BaseModel
    person_reference: BaseModel

    def kafka_key(self) -> str:
        """The Kafka key the event is published with."""
        raise NotImplementedError


class PersonAllocated(HmppsDomainEvent):
    """A person's case was allocated to a practitioner: `case-allocated` or `case-reallocated`.

    One for each allocation and each reallocation, naming the practitioner and
    team now responsible. The person is the case: its CRN is the Plimsoll case id.
    """

    key_description = (
        "The person's CRN (the case id), so that one person's allocations stay in order."
    )
    examples = (
        {
            "eventType": PERSON_ALLOCATED,
            "version": 1,
            "description": "Person allocated event",
            "detailUrl": "https://plimsoll.example.org/allocation/cases/X777519",
            "occurredAt": "2025-06-11T16:41:03.930816+01:00",
            "additionalInformation": {
                "allocationId": "00000000-0000-4000-8000-000000000001",
                "staffCode": "P-0001",
                "teamCode": "T-NORTH-1",
            },
            "personReference": {"identifiers": [{"type": "CRN", "value": "X777519"}]},
        },
    )

    event_type: Literal["person.community.manager.allocated"]
    version: Literal[1]
    description: str = Field(description="`Person allocated event`.")
    detail_url: Url = Field(
        description="The allocation service's `GET /cases/{case_id}`: the case as it is now."
    )
    additional_information: HmppsAllocationInformation
    person_reference: HmppsPersonReference

    def kafka_key(self) -> str:
        return self.person_reference.identifiers[0].value


class StaffAvailableHoursChanged(HmppsDomainEvent):
    """A practitioner's available hours changed.

    Sent for `practitioner-registered`, `contracted-hours-changed`,
    `reduction-started`, `reduction-ended` and `practitioner-left`, with the hours
    as the practitioner's stream stood at that event (a later event never
    rewrites an earlier message).
    """

    key_description = (
        "The staff code (the practitioner id), so that one practitioner's changes stay in order."
    )
    examples = (
        {
            "eventType": STAFF_HOURS_CHANGED,
            "version": 1,
            "description": "Staff Available hours changed",
            "detailUrl": "https://plimsoll.example.org/allocation/practitioners/P-0001",
            "occurredAt": "2025-06-11T16:41:03.930816+01:00",
            "additionalInformation": {"availableHours": 29.6},
            "personReference": {
                "identifiers": [
                    {"type": "staffCode", "value": "P-0001"},
                    {"type": "teamCode", "value": "T-NORTH-1"},
                ]
            },
        },
    )

    event_type: Literal["staff.available.hours.changed"]
    version: Literal[1]
    description: str = Field(description="`Staff Available hours changed`.")
    detail_url: Url = Field(
        description="The allocation service's `GET /practitioners/{practitioner_id}`: "
        "the practitioner as they are now."
    )
    additional_information: HmppsAvailableHoursInformation
    person_reference: HmppsStaffReference

    def kafka_key(self) -> str:
        return self.person_reference.identifiers[0].value


HMPPS_EVENTS: Final[tuple[type[HmppsDomainEvent], ...]] = (
    PersonAllocated,
    StaffAvailableHoursChanged,
)
"""Every HMPPS domain event type and version published on `HMPPS_TOPIC`, in the docs' order."""


# --- the wellbeing service's: teams declared full, for courts and partners ---------------------

WELLBEING_HMPPS_TOPIC: Final = "plimsoll.wellbeing.hmpps"
"""The topic of the wellbeing service's HMPPS domain events; kept forever."""

TEAM_FULL_DECLARED: Final = "probation-team.full.declared"
TEAM_FULL_LIFTED: Final = "probation-team.full.lifted"


class HmppsTeamReference(_Wire):
    """The team a team-full event is about: its team code alone."""

    identifiers: tuple[HmppsTeamCode]


class HmppsTeamFullInformation(_Wire):
    """What a probation-team.full.declared adds: why, and until when it is expected to last."""

    team_code: Identifier = Field(description="The team declared full (`team_id`).")
    region_code: Identifier = Field(description="Its region (`region_id`).")
    reason: str = Field(description="Why, in the words of the head of service who declared it.")
    declared_on: str = Field(description="The UK day it was declared (YYYY-MM-DD).")
    expected_until: str = Field(description="The day it is expected to be lifted by (YYYY-MM-DD).")


class HmppsTeamFullLiftedInformation(_Wire):
    """What a probation-team.full.lifted adds: why, and since when normal service is back."""

    team_code: Identifier = Field(description="The team (`team_id`).")
    region_code: Identifier = Field(description="Its region (`region_id`).")
    reason: str = Field(description="Why it was lifted.")
    lifted_on: str = Field(description="The UK day it was lifted (YYYY-MM-DD).")


class TeamFullDeclaredEvent(HmppsDomainEvent):
    """A probation team was declared full (`team-full-declared`): courts and partners are told
    that normal service cannot be given until resources arrive."""

    key_description = "The team code, so that one team's declarations and liftings stay in order."
    examples = (
        {
            "eventType": TEAM_FULL_DECLARED,
            "version": 1,
            "description": "Probation team declared full",
            "detailUrl": "https://plimsoll.example.org/wellbeing/teams/T-NORTH-1/full",
            "occurredAt": "2025-03-12T10:02:41.201233+00:00",
            "additionalInformation": {
                "teamCode": "T-NORTH-1",
                "regionCode": "R-NORTH",
                "reason": "Team capacity at 104% with two vacancies unfilled.",
                "declaredOn": "2025-03-12",
                "expectedUntil": "2025-04-23",
            },
            "personReference": {"identifiers": [{"type": "teamCode", "value": "T-NORTH-1"}]},
        },
    )

    event_type: Literal["probation-team.full.declared"]
    version: Literal[1]
    description: str = Field(description="`Probation team declared full`.")
    detail_url: Url = Field(
        description="The wellbeing service's `GET /teams/{team_id}/full`: whether it is full now."
    )
    additional_information: HmppsTeamFullInformation
    person_reference: HmppsTeamReference

    def kafka_key(self) -> str:
        return self.person_reference.identifiers[0].value


class TeamFullLiftedEvent(HmppsDomainEvent):
    """A probation team declared full is no longer (`team-full-lifted`): normal service again."""

    key_description = "The team code, so that one team's declarations and liftings stay in order."
    examples = (
        {
            "eventType": TEAM_FULL_LIFTED,
            "version": 1,
            "description": "Probation team no longer full",
            "detailUrl": "https://plimsoll.example.org/wellbeing/teams/T-NORTH-1/full",
            "occurredAt": "2025-04-14T09:00:12.004411+01:00",
            "additionalInformation": {
                "teamCode": "T-NORTH-1",
                "regionCode": "R-NORTH",
                "reason": "Two officers started; capacity back to 93%.",
                "liftedOn": "2025-04-14",
            },
            "personReference": {"identifiers": [{"type": "teamCode", "value": "T-NORTH-1"}]},
        },
    )

    event_type: Literal["probation-team.full.lifted"]
    version: Literal[1]
    description: str = Field(description="`Probation team no longer full`.")
    detail_url: Url = Field(
        description="The wellbeing service's `GET /teams/{team_id}/full`: whether it is full now."
    )
    additional_information: HmppsTeamFullLiftedInformation
    person_reference: HmppsTeamReference

    def kafka_key(self) -> str:
        return self.person_reference.identifiers[0].value


WELLBEING_HMPPS_EVENTS: Final[tuple[type[HmppsDomainEvent], ...]] = (
    TeamFullDeclaredEvent,
    TeamFullLiftedEvent,
)
"""Every HMPPS domain event type and version published on `WELLBEING_HMPPS_TOPIC`. (The
documents `schema` writes list `HMPPS_EVENTS`, allocation's channel, only, for now.)"""
