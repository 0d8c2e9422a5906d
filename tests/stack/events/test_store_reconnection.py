"""The event store after PostgreSQL restarts, and when a commit's answer is lost: the
first appends after it succeed, and nothing is written twice. On a cluster of the test's
own (`pg_ctl restart -m fast`), never the shared one."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy
from plimsoll_events.store import EventStore

from stack.test_event_store import hours_logged

from .servers import ReplyLosingProxy


@pytest.fixture
def own_store(own_postgres):
    engine = sqlalchemy.create_engine(own_postgres.new_database(), pool_size=10)
    store = EventStore(engine)
    store.create_schema()
    yield store
    store.close()
    engine.dispose()


def test_the_first_appends_and_reads_after_a_restart_succeed(own_postgres, own_store):
    store = own_store
    for writer in range(8):
        store.append(f"w{writer}", 0, [hours_logged(f"P{writer}")])
    assert store.read_stream("w0")[0].stream_version == 1  # a pooled reader, now stale too

    own_postgres.restart()

    # A burst of writers: they share the committer's dead connection, and its first batch.
    def write(writer: int) -> int:
        return store.append(f"w{writer}", 1, [hours_logged(f"P{writer}", 90)])[0].stream_version

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(write, range(8))) == [2] * 8
    assert [e.data["minutes"] for e in store.read_stream("w0")] == [60, 90]
    # Each event exactly once, positions dense.
    everything = store.read_all(0)
    assert [e.position for e in everything] == list(range(1, 17))
    assert len({e.event_id for e in everything}) == 16


def test_a_commit_whose_answer_was_lost_is_returned_not_written_twice(own_postgres):
    proxy = ReplyLosingProxy(own_postgres.port)
    url = sqlalchemy.engine.make_url(own_postgres.new_database()).set(port=proxy.port)
    engine = sqlalchemy.create_engine(url)
    store = EventStore(engine)
    try:
        store.create_schema()
        store.append("s", 0, [hours_logged("P1", 30)])
        event = hours_logged("P1", 45)

        proxy.armed.set()
        (recorded,) = store.append("s", 1, [event])

        assert proxy.replies_lost == 1, "the append's reply should have been lost"
        assert recorded.event_id == event.event_id
        assert (recorded.stream_version, recorded.position) == (2, 2)
        assert [e.data["minutes"] for e in store.read_stream("s")] == [30, 45]
        assert store.head_position() == 2
    finally:
        store.close()
        engine.dispose()
        proxy.close()
