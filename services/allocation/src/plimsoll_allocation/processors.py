"""The allocation service's process managers, running for the app's lifetime.

A process manager here is a store-fed consumer of the service's own log
(`plimsoll_events.readmodel.StoreFedReadModel`) whose `apply` records events
(the capacity figures) or runs commands (re-weighing after a scheme change).
`Processors` runs each on a daemon thread of its own:

* every `poll_seconds`, or at once when woken (`wake`, called after this
  process appends what the manager applies: a command's figures need not wait
  for the next poll, and a read's access-log event wakes nobody), it
  catches up by one batch, in one transaction on its own connection, and
  commits; when the batch was full it goes straight on to the next, so a long
  log is worked through batch by batch, each committed (a batch that reached
  the head waits: a busy log of reads must not keep a manager spinning);
* a failure is logged and retried after `retry_seconds` (the transaction rolls
  back and the checkpoint stays: what a batch appended before failing is found
  again by its idempotency keys, or decided again to nothing); it never ends
  the thread;
* `start()` creates their tables (the database must answer), then starts the
  threads; `stop()` asks them to stop and waits at most `stop_seconds`.

The kit's catch-up lock serialises replicas: each batch is applied by one of
them, and the others find the checkpoint moved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Final

from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import RecordedEvent
from sqlalchemy import Engine

log = logging.getLogger(__name__)

POLL_SECONDS: Final = 0.25
RETRY_SECONDS: Final = 1.0
STOP_SECONDS: Final = 10.0


class Processors:
    """Store-fed process managers, each caught up on a thread of its own (see the module)."""

    def __init__(
        self,
        engine: Engine,
        managers: Sequence[StoreFedReadModel],
        *,
        poll_seconds: float = POLL_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        stop_seconds: float = STOP_SECONDS,
    ) -> None:
        self.engine = engine
        self.managers = tuple(managers)
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.stop_seconds = stop_seconds
        self._stop = threading.Event()
        self._wakes = {m.name: threading.Event() for m in self.managers}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for manager in self.managers:
            manager.create_schema()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, args=(m,), name=f"process-{m.name}", daemon=True)
            for m in self.managers
        ]
        for thread in self._threads:
            thread.start()

    def wake(self, recorded: Sequence[RecordedEvent] | None = None) -> None:
        """Something was appended: each manager that applies any of it (all, when not told
        what) looks now rather than at its next poll."""
        kinds = None if recorded is None else {event.type for event in recorded}
        for manager in self.managers:
            if kinds is None or manager.types is None or not kinds.isdisjoint(manager.types):
                self._wakes[manager.name].set()

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + self.stop_seconds
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %ss", thread.name, self.stop_seconds)

    def step(self, manager: StoreFedReadModel) -> bool:
        """One batch, committed; whether it was full (more to read at once). One that
        reached the head waits for a wake or the next poll, however busy the log."""
        with self.engine.connect() as conn:
            full = manager.step(conn)
            conn.commit()
        return full

    def _run(self, manager: StoreFedReadModel) -> None:
        woken = self._wakes[manager.name]
        while not self._stop.is_set():
            woken.clear()
            try:
                more = self.step(manager)
            except Exception:
                log.exception(
                    "process manager %s failed; retrying in %ss", manager.name, self.retry_seconds
                )
                self._stop.wait(self.retry_seconds)
                continue
            if not more:
                woken.wait(self.poll_seconds)
