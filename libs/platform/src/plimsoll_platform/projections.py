"""Kafka-fed read models of a service, kept up to date for the app's lifetime.

`KafkaProjections(engine, kafka, projections)` runs one `ProjectionRunner` per
projection, each on a daemon thread of its own:

* `start()` creates each projection's tables (PostgreSQL must answer: a query
  of a read model must find its tables even before any event arrives; a failure
  here fails the start), then starts the threads and returns. It never waits
  for Kafka.
* Each thread waits until Kafka answers and the projection's topics exist
  (asked with a short timeout, so that a stop request is noticed within
  seconds), then runs the runner until stopped. Kafka being down, a topic not
  created yet, or the runner failing is logged and retried every
  `retry_seconds`; it never ends the thread.
* `stop()` asks every thread to stop and joins them all within one deadline
  (`stop_seconds`), logging any that did not finish.

The runner gives each projection its guarantees (one transaction per batch for
the rows and the checkpoint, dead letters); see `plimsoll_events.projection`.
A projection's `name` is its Kafka consumer group, so it must differ between
services reading the same topic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.projection import Projection, ProjectionRunner
from sqlalchemy import Engine

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
STOP_SECONDS = 10.0
# Short, so that while Kafka is down a thread notices a stop request quickly.
PROBE_TIMEOUT_MS = 2000


class KafkaProjections:
    """A service's Kafka-fed read models, each fed by its own runner thread until stopped."""

    def __init__(
        self,
        engine: Engine,
        kafka: KafkaAccess,
        projections: Sequence[Projection],
        *,
        retry_seconds: float = RETRY_SECONDS,
        stop_seconds: float = STOP_SECONDS,
    ) -> None:
        names = [projection.name for projection in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self.engine = engine
        self.kafka = kafka
        self.projections = tuple(projections)
        self.retry_seconds = retry_seconds
        self.stop_seconds = stop_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, bool] = dict.fromkeys(names, False)

    def start(self) -> None:
        """Create the read models' tables, then start feeding them; returns at once."""
        if self._threads:
            raise RuntimeError("these projections are already started")
        with self.engine.begin() as conn:
            for projection in self.projections:
                projection.create(conn)
        self._stop.clear()
        self._threads = [
            threading.Thread(
                target=self._feed,
                args=(projection,),
                name=f"projection-{projection.name}",
                daemon=True,
            )
            for projection in self.projections
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop every runner; waits at most `stop_seconds` for them all."""
        self._stop.set()
        deadline = time.monotonic() + self.stop_seconds
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %ss", thread.name, self.stop_seconds)

    def running(self) -> dict[str, bool]:
        """Per projection, whether its runner is consuming now (not waiting for Kafka)."""
        return dict(self._running)

    def _feed(self, projection: Projection) -> None:
        """Run the projection until stopped; any failure is logged and retried."""
        waiting_logged = False
        while not self._stop.is_set():
            runner: ProjectionRunner | None = None
            try:
                missing = self._missing_topics(projection)
                if missing:
                    if not waiting_logged:
                        log.warning(
                            "projection %s waits for topics %s", projection.name, sorted(missing)
                        )
                        waiting_logged = True
                    self._stop.wait(self.retry_seconds)
                    continue
                runner = ProjectionRunner(self.engine, projection, kafka=self.kafka)
                runner.create_schema()
                log.info("projection %s is running", projection.name)
                waiting_logged = False
                self._running[projection.name] = True
                runner.run(self._stop)  # retries failed batches itself until stopped
            except Exception:
                log.exception(
                    "projection %s failed; retrying in %ss", projection.name, self.retry_seconds
                )
                self._stop.wait(self.retry_seconds)
            finally:
                self._running[projection.name] = False
                if runner is not None:
                    _close_quietly(runner)

    def _missing_topics(self, projection: Projection) -> set[str]:
        """The projection's topics Kafka does not have; raises if Kafka does not answer.

        Asked before a runner is built: its clients wait 30 s for a broker that is
        down, and a consumer subscribed to a missing topic would notice it appear
        only at its next metadata refresh (minutes).
        """
        with self.kafka.admin(
            client_id=f"projection-{projection.name}-probe",
            bootstrap_timeout_ms=PROBE_TIMEOUT_MS,
            request_timeout_ms=PROBE_TIMEOUT_MS,
        ) as admin:
            return set(projection.topics) - set(admin.list_topics())


def _close_quietly(runner: ProjectionRunner) -> None:
    try:
        runner.close()
    except Exception:
        log.debug("closing the projection runner failed", exc_info=True)
