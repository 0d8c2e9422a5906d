"""How a Plimsoll process's threads share the interpreter.

A service runs threads that keep the CPU busy (a projection runner decoding a
poll, request handlers) beside threads that mostly wait on PostgreSQL or Kafka
(a projection's writer, the store's committer, the relays). After each round
trip a waiting thread needs the GIL back, and CPython lets the busy thread keep
it until its switch interval runs out: 5 ms by default. A projection writer
makes a dozen round trips per batch, so it spent more time waiting for the GIL
than for PostgreSQL; the audit log's append from Kafka went from about 16,000
to 20,000 events/s with 0.5 ms (bench/audit.py). Services set it at start-up
(`create_service_app`); the benchmarks, which run the same machinery in their
own process, set it too.
"""

from __future__ import annotations

import sys
from typing import Final

SWITCH_INTERVAL_SECONDS: Final = 0.0005


def shorten_switch_interval() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
