"""The shape every aggregate of the domain has, so one handler can run them all.

A decider is three pure functions: `initial_state`, `decide(command, state) ->
list[EventData]` (raising an `AllocationRefused` instead when the command is
refused) and `evolve(state, event) -> state`. A handler loads a stream, folds
it with `fold`, decides, and appends the events with the stream version it
folded (so a concurrent write fails cleanly).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from plimsoll_events.catalogue import EventData

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
