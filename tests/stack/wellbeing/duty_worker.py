"""The kill test's worker: the wellbeing service's duty-of-care parts (the projection's runner and
the breach recorder, as `main` wires them) on a scratch database, fed from test topics, until it
is killed.

    python duty_worker.py <database url> <projection name> <topic,topic,topic>

Kafka's address and the admin's password come from the environment (DUTY_KAFKA_*). The consumer
leaves its group after 6 s instead of 45 when killed (the broker's minimum), so that a restart
gets its partitions back quickly; that is the only difference from the service.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from pathlib import Path

import kafka
from plimsoll_events import projection
from plimsoll_events.kafka import KafkaAccess

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the harness


def main() -> None:
    url, name, topics = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    access = KafkaAccess(
        os.environ["DUTY_KAFKA_BOOTSTRAP"],
        os.environ["DUTY_KAFKA_USER"],
        os.environ["DUTY_KAFKA_PASSWORD"],
        mechanism=os.environ["DUTY_KAFKA_MECHANISM"],
    )
    projection.KafkaConsumer = functools.partial(  # type: ignore[misc]
        kafka.KafkaConsumer, session_timeout_ms=6000, heartbeat_interval_ms=1500
    )
    from stack.wellbeing.duty_harness import Model

    model = Model(url, access, topics, name=name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    model.recorder.start()  # drains the marks after every commit, as in the service
    print("worker running", flush=True)
    model.runner.run(stop)
    model.recorder.stop()
    model.close()


if __name__ == "__main__":
    main()
