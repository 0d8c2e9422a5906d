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

    def position(self, conn: object) -> int:
        return 0

    def catch_up(self, conn: object, *, batches: int | None = None) -> int:
        self.catch_ups += 1
        self.caught_up.set()
        return 0


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


class Moving(Manager):
    """Moves its checkpoint by the next of `moves` at each catch-up."""

    def __init__(self, moves: list[int]) -> None:
        super().__init__("moving", None)
        self.at, self.moves = 0, moves

    def position(self, conn: object) -> int:
        return self.at

    def catch_up(self, conn: object, *, batches: int | None = None) -> int:
        self.at += self.moves.pop(0)
        return self.at


def test_a_manager_goes_straight_on_only_after_a_full_batch():
    """A busy log of reads moves the checkpoint at every look; only a full batch means more
    is waiting (else the manager would spin, one access-log event at a time)."""
    manager = Moving([1, 5000, 4999, 0])
    processors = Processors(Engine(), [manager])  # type: ignore[arg-type, list-item]
    assert [processors.step(manager) for _ in range(4)] == [False, True, False, False]  # type: ignore[arg-type]
