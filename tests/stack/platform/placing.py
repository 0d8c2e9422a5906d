"""Helpers for the placements stack tests: allocation's events, recorded and published."""

import uuid
from datetime import date
from decimal import Decimal

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.records import Metadata
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.store import EventStore
from plimsoll_events.types.allocation import PractitionerRegistered

MANAGER = Metadata(actor="mo.manager", correlation_id=uuid.uuid4())
SOURCE = "/plimsoll/allocation"


def record(store: EventStore, stream: str, *facts: EventData) -> None:
    """Append `facts` to `stream` as the allocation service would: catalogue-built events."""
    version = len(store.read_stream(stream))
    store.append(stream, version, [CATALOGUE.new_event(fact, MANAGER) for fact in facts])


def register(
    store: EventStore,
    practitioner_id: str,
    *,
    team: str,
    region: str,
    manager: str | None,
    start: date = date(2024, 9, 2),
    hours: Decimal = Decimal(37),
) -> None:
    record(
        store,
        f"practitioner-{practitioner_id}",
        PractitionerRegistered(
            practitioner_id=practitioner_id,
            name=f"Tester {practitioner_id}",
            grade="PO",
            team_id=team,
            region_id=region,
            contracted_hours=hours,
            line_manager_id=manager,
            start_date=start,
        ),
    )


def publish(relay: OutboxRelay) -> None:
    while relay.publish_pending():
        pass
