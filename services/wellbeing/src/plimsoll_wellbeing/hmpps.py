"""Teams declared full, as HMPPS domain events for courts and partners.

`team-full-declared` becomes `probation-team.full.declared` v1 and `team-full-lifted`
`probation-team.full.lifted` v1, on `plimsoll.wellbeing.hmpps`, in the HMPPS envelope
(docs/reference/hmpps-domain-event.schema.json), keyed by the team code; their contract
(names, payloads, examples) is `plimsoll_events.hmpps`, and a unit test holds what this writes
to it. Published by the kit's `ExtraRelay` from the service's own store, like allocation's.
Every other event publishes nothing. occurredAt is when the event was recorded, in UK time.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.hmpps import TEAM_FULL_DECLARED, TEAM_FULL_LIFTED
from plimsoll_events.hmpps import WELLBEING_HMPPS_TOPIC as WELLBEING_HMPPS_TOPIC
from plimsoll_events.records import RecordedEvent
from plimsoll_events.types.wellbeing import TeamFullDeclared, TeamFullLifted
from plimsoll_platform.clock import UK


class TeamFullTranslator:
    """Turns recorded wellbeing events into HMPPS domain events (see the module)."""

    def __init__(self, public_base_url: str) -> None:
        self.base_url = public_base_url.rstrip("/")

    def translate(self, event: RecordedEvent) -> list[tuple[str, dict[str, Any]]]:
        if event.type not in (TeamFullDeclared.type, TeamFullLifted.type):
            return []
        data = CATALOGUE.decode(event.type, event.version, event.data)
        assert isinstance(data, TeamFullDeclared | TeamFullLifted)
        if event.recorded_at.tzinfo is None:
            raise ValueError("recorded_at must carry its offset")
        information: dict[str, Any] = {
            "teamCode": data.team_id,
            "regionCode": data.region_id,
            "reason": data.reason,
        }
        if isinstance(data, TeamFullDeclared):
            kind, description = TEAM_FULL_DECLARED, "Probation team declared full"
            information["declaredOn"] = data.declared_on.isoformat()
            information["expectedUntil"] = data.expected_until.isoformat()
        else:
            kind, description = TEAM_FULL_LIFTED, "Probation team no longer full"
            information["liftedOn"] = data.lifted_on.isoformat()
        return [
            (
                data.team_id,
                {
                    "eventType": kind,
                    "version": 1,
                    "description": description,
                    "detailUrl": f"{self.base_url}/teams/{quote(data.team_id, safe='')}/full",
                    "occurredAt": event.recorded_at.astimezone(UK).isoformat(),
                    "additionalInformation": information,
                    "personReference": {
                        "identifiers": [{"type": "teamCode", "value": data.team_id}]
                    },
                },
            )
        ]

    def encode(self, event: RecordedEvent) -> list[tuple[bytes | None, bytes]]:
        """`translate`, as the relay sends it: UTF-8 key and compact JSON value."""
        return [
            (key.encode(), json.dumps(message, separators=(",", ":")).encode())
            for key, message in self.translate(event)
        ]
