"""Teams declared full as HMPPS domain events: what the translator writes is the published
contract's example, valid in the HMPPS envelope (docs/reference/hmpps-domain-event.schema.json)
and in its own payload model; every other event publishes nothing."""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import jsonschema
import pytest
from plimsoll_events import hmpps
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.types.wellbeing import TeamFullDeclared, TeamFullLifted
from plimsoll_wellbeing.hmpps import WELLBEING_HMPPS_TOPIC, TeamFullTranslator

from .given import held

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs/reference/hmpps-domain-event.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
BASE = "https://plimsoll.example.org/wellbeing"
DECLARED = TeamFullDeclared(
    team_id="T-NORTH-1",
    region_id="R-NORTH",
    declared_by="hana.head",
    reason="Team capacity at 104% with two vacancies unfilled.",
    declared_on=date(2025, 3, 12),
    expected_duration_days=42,
    expected_until=date(2025, 4, 23),
    breach_id="BR-0c9e1f3b77a4-1",
)
LIFTED = TeamFullLifted(
    team_id="T-NORTH-1",
    region_id="R-NORTH",
    lifted_by="hana.head",
    reason="Two officers started; capacity back to 93%.",
    lifted_on=date(2025, 4, 14),
)


def recorded(data, at: datetime) -> RecordedEvent:
    new = CATALOGUE.new_event(data, Metadata(actor="hana.head", correlation_id=uuid4()))
    return RecordedEvent(
        position=7,
        stream_id="team-full-T-NORTH-1",
        stream_version=1,
        event_id=new.event_id,
        type=new.type,
        version=new.version,
        subject=None,
        data=new.data,
        metadata=new.metadata,
        recorded_at=at,
    )


@pytest.mark.parametrize(
    ("data", "at", "contract"),
    [
        (
            DECLARED,
            datetime(2025, 3, 12, 10, 2, 41, 201233, tzinfo=UTC),
            hmpps.TeamFullDeclaredEvent,
        ),
        (LIFTED, datetime(2025, 4, 14, 8, 0, 12, 4411, tzinfo=UTC), hmpps.TeamFullLiftedEvent),
    ],
)
def test_team_full_steps_are_the_published_examples(data, at, contract):
    [(key, message)] = TeamFullTranslator(BASE).translate(recorded(data, at))

    assert message == contract.examples[0]
    VALIDATOR.validate(message)
    assert contract.model_validate(message).kafka_key() == key == "T-NORTH-1"
    assert WELLBEING_HMPPS_TOPIC == "plimsoll.wellbeing.hmpps"
    [(raw_key, raw)] = TeamFullTranslator(BASE).encode(recorded(data, at))
    assert (raw_key, json.loads(raw)) == (b"T-NORTH-1", message)


def test_other_events_publish_nothing():
    assert TeamFullTranslator(BASE).translate(recorded(held(), datetime.now(UTC))) == []
