"""The relay across a PostgreSQL restart (a cluster of the test's own): it loses its lock
session with everything else, takes the lock again on a new one, and publishes every event,
those recorded before the restart and after, in order per key."""

import threading
import time

import sqlalchemy
from plimsoll_events.envelope import decode
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.store import EventStore

from stack.eventing import hours_logged, new_topic, read_topic


def _wait_for(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except sqlalchemy.exc.OperationalError:
            pass  # the test's own reads meet the restart too
        time.sleep(0.1)
    return False


def test_relay_takes_its_lock_again_and_publishes_everything_after_a_restart(stack, own_postgres):
    engine = sqlalchemy.create_engine(own_postgres.new_database(), pool_pre_ping=True)
    relay_engine = sqlalchemy.create_engine(engine.url)  # no pre-ping: the relay copes alone
    store = EventStore(engine)
    store.create_schema()
    topic = new_topic(stack.kafka, partitions=3)
    relay = OutboxRelay(
        EventStore(relay_engine), relay_engine, kafka=stack.kafka, topic=topic, source="/t"
    )
    relay.create_schema()
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)

    def log(first: int, count: int) -> None:
        for i in range(first, first + count):
            p = f"P-{i % 5}"
            store.append(f"timesheet-{p}", i // 5, [hours_logged(p, i + 1)])

    def lock_holders() -> list[int]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sqlalchemy.text(
                        "select pid from pg_locks where locktype = 'advisory' and granted "
                        "and objid = cast(cast(:key as bigint) as oid)"
                    ),
                    {"key": relay._lock_key},
                ).scalars()
            )

    try:
        thread.start()
        log(0, 50)
        assert _wait_for(lambda: relay.last_published() == 50)
        (before,) = lock_holders()

        own_postgres.restart()
        log(50, 50)

        assert _wait_for(lambda: relay.last_published() == 100), "the relay did not recover"
        assert _wait_for(lambda: len(lock_holders()) == 1), "the relay did not lead again"
        assert lock_holders() != [before]
        assert relay.leading
    finally:
        stop.set()
        thread.join(timeout=30)
        relay.close()
        store.close()
        relay_engine.dispose()
        engine.dispose()

    records = read_topic(stack.kafka, topic, expect=100)
    by_key: dict[bytes, list[int]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append(decode(record.value).plimsollposition)
    assert sorted({p for positions in by_key.values() for p in positions}) == list(range(1, 101))
    for positions in by_key.values():
        assert sorted(set(positions)) == sorted(dict.fromkeys(positions))
