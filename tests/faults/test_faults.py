"""Fault tests on real servers: `make test-faults` (marker `faults`; `make test` leaves them out).

What they show: whatever fails while writes flow, every write the allocation API
acknowledged is in the event store exactly once, on Kafka at least once (resends only), and
in the read models exactly once; a write that got an error is there at most once; a retry
with the same Idempotency-Key never doubles anything.

How. The faults happen on servers of the tests' own, so the shared stack (and whoever is
using it) never sees them: a private PostgreSQL cluster (`stack.events.servers`), a private
single-node KRaft Kafka from the stack's own Kafka distribution (`faults.servers`, plaintext
on a loopback port nobody else knows), and the allocation service as a uvicorn process of
its own on them, signed in to with a demo manager's tokens from the shared Keycloak. Four
writer threads (`faults.load`) register practitioners, record a reduction for each (its id
chosen by the server, so a retry without the key would record a second) and open a case;
every request carries an Idempotency-Key, and on a 5xx or a transport error most writes are
retried with the same key (one in three are not, to leave some answered by errors only).
Each test lets the writes settle, makes its fault, waits until writes are acknowledged
again, stops the writers, sends every write once more with its key, waits for the relay and
the capacity process manager to catch up, and hands everything to the checker
(`faults.checker`, whose docstring states the rules), which must find nothing wrong:

* PostgreSQL restarted (`pg_ctl restart -m fast`: every session killed) under steady writes;
* Kafka restarted (a controlled shutdown, then started on the same storage and ports) under
  steady writes;
* the service killed with SIGKILL in the middle of a burst of writes, then started again
  (in-flight requests cut, the relay and the process manager stopped between any two steps).

About two minutes in all on two cores, up to four when the machine is busy (the broker's and
the service's starts are most of it).
"""

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .checker import reconcile, wait_until_settled
from .load import TEAM, Load, Write, send
from .servers import PrivateKafka, ServiceProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(360)]

TOPIC = "plimsoll.allocation"
STEADY_ACKS = 12  # writes acknowledged before the fault, and again after it
RECOVERY_SECONDS = 120.0
SAMPLE_AGAIN = 40  # acknowledged writes without trouble, sent again with their keys


def _until_acknowledged(load: Load, since: float, count: int, what: str) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while load.acknowledged_since(since) < count:
        assert not load.failures, f"writers failed: {load.failures!r}"
        assert time.monotonic() < deadline, f"writes were not acknowledged {what}"
        time.sleep(0.2)


def _under_fault(
    service: ServiceProcess,
    headers: Callable[[], dict[str, str]],
    database: str,
    kafka: PrivateKafka,
    fault: Callable[[Load], None],
) -> Load:
    """Steady writes, `fault()` in their midst, writes again, then every check."""
    load = Load(service.base_url, headers, run=uuid.uuid4().hex[:6]).start()
    try:
        _until_acknowledged(load, 0, STEADY_ACKS, "before the fault")
        fault(load)
        _until_acknowledged(load, time.monotonic(), STEADY_ACKS, "after the fault")
    finally:
        load.stop()
    problems = _send_again(service, headers, load)
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        # The caseload is caught up by a read (it is fed from the store before each).
        assert client.get(f"/teams/{TEAM}/capacity", headers=headers()).status_code == 200
    wait_until_settled(database, TOPIC)
    problems += reconcile(load.writes, database, kafka.access, TOPIC)
    assert not problems, "\n".join([_summary(load), *problems])
    return load


def _send_again(
    service: ServiceProcess, headers: Callable[[], dict[str, str]], load: Load
) -> list[str]:
    """Writes once more with their own keys: every one that ever got an error or was never
    acknowledged, and a sample of the rest. An acknowledged one gets its first answer back
    (and records nothing, which the checker sees); any other may now be recorded, once."""
    troubled = [w for w in load.writes if not w.acknowledged or len(w.answers) > 1]
    calm = [w for w in load.writes if w.acknowledged and len(w.answers) == 1]
    again = troubled + random.Random(7).sample(calm, min(len(calm), SAMPLE_AGAIN))
    problems: list[str] = []

    def one(client: httpx.Client, write: Write) -> None:
        first = write.reply
        answer = send(client, write, headers())
        write.answers.append(answer if isinstance(answer, str) else answer.status_code)
        if not isinstance(answer, httpx.Response) or not answer.is_success:
            problems.append(f"{write.kind} {write.subject} sent again: {write.answers[-1]}")
        elif first is None:
            write.reply = answer.json()
        elif write.kind == "reduction" and answer.json()["reductions"] != first["reductions"]:
            problems.append(f"reduction of {write.subject} sent again: another answer")

    with (
        httpx.Client(base_url=service.base_url, timeout=30) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        list(pool.map(lambda write: one(client, write), again))
    return problems


def _summary(load: Load) -> str:
    acknowledged = sum(w.acknowledged for w in load.writes)
    errors = Counter(
        a for w in load.writes for a in w.answers if not isinstance(a, int) or a >= 500
    )
    return f"{len(load.writes)} writes, {acknowledged} acknowledged, errors {dict(errors)}"


def test_postgres_restart_under_steady_writes(service, manager, database, own_postgres, own_kafka):
    load = _under_fault(service, manager, database, own_kafka, lambda _: own_postgres.restart())
    print(_summary(load))


def test_kafka_restart_under_steady_writes(service, manager, database, own_kafka):
    load = _under_fault(service, manager, database, own_kafka, lambda _: own_kafka.restart())
    print(_summary(load))


def test_service_killed_in_a_burst_of_writes_then_started_again(
    service, manager, database, own_kafka
):
    def kill_and_start(load: Load) -> None:
        deadline = time.monotonic() + 30
        while load.in_flight < 2 and time.monotonic() < deadline:  # in the middle of a burst
            time.sleep(0.001)
        service.kill()
        service.start()

    load = _under_fault(service, manager, database, own_kafka, kill_and_start)
    print(_summary(load))
    cut = [a for w in load.writes for a in w.answers if a in ("RemoteProtocolError", "ReadError")]
    assert cut, "the kill cut no request: it was not in the middle of a burst"
