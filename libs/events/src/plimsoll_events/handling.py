"""Running a command against one stream: load, decide, append.

Every event-sourced aggregate is a `Decider`: three pure functions,
`initial_state`, `decide(command, state) -> list[EventData]` (raising instead
when the command is refused) and `evolve(state, event) -> state`. A service's
handler for any command is then always the same few steps, which `execute`
does once for all of them:

1. read the stream and decode each stored event through the catalogue (so an
   old version is upcast and the decider only ever sees the latest models);
2. fold them into the state, and note the stream's version;
3. decide; a refusal propagates and nothing is written;
4. turn the decided data into `NewEvent`s (`catalogue.new_event`) and append
   them at the version folded: if another writer got there first the store
   raises `ConcurrencyError` (HTTP 409) rather than record a decision taken
   on a stale state.

Idempotency keys. A command retried with the key of an earlier one (and the
same request fingerprint) gets the events that one recorded and writes
nothing, without deciding again: deciding again would see its own first
attempt (a second registration, say) and refuse. The same key for another
stream or another request is refused (`IdempotencyKeyReused`).

`execute_many` runs several commands on one stream as one decision: each is
decided on the state the ones before it leave, and all their events are
appended together, or none (onboarding a row; a declaration and its escalation).

Free of SQLAlchemy and Kafka on purpose: a pure domain may import `Decider`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from plimsoll_events.catalogue import CATALOGUE, Catalogue, EventData
from plimsoll_events.committer import Idempotency, IdempotencyKeyReused
from plimsoll_events.records import Metadata, NewEvent, RecordedEvent

__all__ = [
    "Decider",
    "Idempotency",
    "IdempotencyKeyReused",
    "Store",
    "execute",
    "execute_many",
    "load",
    "load_many",
]

Command = TypeVar("Command")
State = TypeVar("State")


@dataclass(frozen=True)
class Decider(Generic[Command, State]):
    """An aggregate's `initial_state`, `decide` and `evolve`."""

    initial_state: State
    decide: Callable[[Command, State], list[EventData]]
    evolve: Callable[[State, EventData], State]

    def fold(self, events: Iterable[EventData], state: State | None = None) -> State:
        """The state after `events`, from `state` or, by default, from the initial state."""
        current = self.initial_state if state is None else state
        for event in events:
            current = self.evolve(current, event)
        return current

    def run(self, command: Command, history: Iterable[EventData] = ()) -> list[EventData]:
        """Given the stream's events so far, when `command`, then these events (or a refusal)."""
        return self.decide(command, self.fold(history))


class Store(Protocol):
    """What `execute` needs of an event store (`plimsoll_events.store.EventStore`)."""

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]: ...

    def read_streams(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]: ...

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]: ...

    def recorded_for(
        self, stream_id: str, idempotency: Idempotency
    ) -> list[RecordedEvent] | None: ...


def load(
    store: Store,
    decider: Decider[Command, State],
    stream_id: str,
    *,
    catalogue: Catalogue = CATALOGUE,
) -> tuple[State, int]:
    """The stream's state, folded from its events (upcast), and its version (0 when empty)."""
    return _fold(decider, store.read_stream(stream_id), catalogue)


def load_many(
    store: Store,
    decider: Decider[Command, State],
    stream_ids: Sequence[str],
    *,
    catalogue: Catalogue = CATALOGUE,
) -> dict[str, tuple[State, int]]:
    """`load` for several streams, read in one query."""
    streams = store.read_streams(stream_ids)
    return {
        stream_id: _fold(decider, recorded, catalogue) for stream_id, recorded in streams.items()
    }


def _fold(
    decider: Decider[Command, State], recorded: Sequence[RecordedEvent], catalogue: Catalogue
) -> tuple[State, int]:
    state = decider.fold(catalogue.decode(e.type, e.version, e.data) for e in recorded)
    return state, recorded[-1].stream_version if recorded else 0


def execute(
    store: Store,
    decider: Decider[Command, State],
    stream_id: str,
    command: Command,
    metadata: Metadata,
    *,
    idempotency: Idempotency | None = None,
    catalogue: Catalogue = CATALOGUE,
) -> list[RecordedEvent]:
    """Decide `command` on the stream's current state and record what it decided.

    Returns the recorded events: none when the decision was to record nothing,
    the first attempt's when `idempotency` was seen before. Raises what
    `decide` raises (nothing written) and `ConcurrencyError` on a lost race.
    """
    return execute_many(
        store, decider, stream_id, [command], metadata, idempotency=idempotency, catalogue=catalogue
    )


def execute_many(
    store: Store,
    decider: Decider[Command, State],
    stream_id: str,
    commands: Sequence[Command],
    metadata: Metadata,
    *,
    idempotency: Idempotency | None = None,
    catalogue: Catalogue = CATALOGUE,
) -> list[RecordedEvent]:
    """`execute` for several commands on one stream, decided in turn and recorded together.

    Each command is decided on the state the events decided before it leave; a
    refusal of any records nothing of any. One append, at the version folded.
    """
    if idempotency is not None:
        earlier = store.recorded_for(stream_id, idempotency)
        if earlier is not None:
            return earlier
    state, version = load(store, decider, stream_id, catalogue=catalogue)
    decided: list[EventData] = []
    try:
        for command in commands:
            now = decider.decide(command, state)
            state = decider.fold(now, state)
            decided.extend(now)
    except Exception:
        # A retry that raced its own first attempt sees that attempt's events and is
        # refused; it should get the first attempt's answer instead.
        if idempotency is not None:
            earlier = store.recorded_for(stream_id, idempotency)
            if earlier is not None:
                return earlier
        raise
    if not decided:
        return []
    events = [catalogue.new_event(data, metadata) for data in decided]
    return store.append(stream_id, version, events, idempotency=idempotency)
