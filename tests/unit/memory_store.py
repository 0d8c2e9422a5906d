"""The in-memory event store now lives in the library: `plimsoll_events.memory`."""

from plimsoll_events.memory import MemoryStore as MemoryStore
