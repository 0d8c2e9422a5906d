"""Process managers are woken by appends of what they apply, and by nothing else (a read's
access-log event must not set every manager catching up)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import uuid4

from plimsoll_allocation.processors import Processors
from plimsoll_events.records import Metadata, RecordedEvent


class Manager:
    """Counts its catch-ups; its checkpoint never moves (nothing to apply)."""

    batch_size = 5000

    def __init__(self, name: str, types: frozenset[str] | None) -> None:
        self.name, self.types = name, types
        self.catch_ups = 0
        self.caught_up = threading.Event()

    def create_schema(self) -> None:
        pass

    def step(self, conn: object) -> bool:
        self.catch_ups += 1
        self.caught_up.set()
        return False


class Engine:
    @contextmanager
    def connect(self):  # type: ignore[no-untyped-def]
        class Connection:
            def commit(self) -> None:
                pass

        yield Connection()


def recorded(kind: str) -> RecordedEvent:
    return RecordedEvent(
        position=1,
        stream_id="s",
        stream_version=1,
        event_id=uuid4(),
        type=kind,
        version=1,
        subject=None,
        data={},
        metadata=Metadata(actor="test", correlation_id=uuid4()),
        recorded_at=datetime.now(UTC),
    )


def settled(processors: Processors, managers: list[Manager]) -> dict[str, int]:
    """Each manager's catch-ups once every woken one has looked."""
    for manager in managers:
        manager.caught_up.wait(0.3)
        manager.caught_up.clear()
    return {m.name: m.catch_ups for m in managers}


def test_an_append_wakes_the_managers_that_apply_it_and_no_other():
    capacity = Manager("capacity", frozenset({"case-allocated", "case-closed"}))
    reweighing = Manager("reweighing", frozenset({"weighting-scheme-changed"}))
    everything = Manager("everything", None)
    managers = [capacity, reweighing, everything]
    processors = Processors(Engine(), managers, poll_seconds=3600)  # type: ignore[arg-type]
    processors.start()
    try:
        assert settled(processors, managers) == {"capacity": 1, "reweighing": 1, "everything": 1}
        processors.wake([recorded("personal-data-read")])
        assert settled(processors, managers) == {"capacity": 1, "reweighing": 1, "everything": 2}
        processors.wake([recorded("personal-data-read"), recorded("case-allocated")])
        assert settled(processors, managers) == {"capacity": 2, "reweighing": 1, "everything": 3}
        processors.wake()  # not told what: everyone looks
        assert settled(processors, managers) == {"capacity": 3, "reweighing": 2, "everything": 4}
    finally:
        processors.stop()
