"""Contract of an event store, written once and run against every implementation.

Each guarantee here is one users of event stores report broken elsewhere:
appends lost under concurrency, readers skipping events, retries writing twice.
"""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.store import ConcurrencyError, EventStore, Idempotency

ACTOR = Metadata(actor="mo.manager", correlation_id=uuid.uuid4())


def hours_logged(practitioner: str, minutes: int = 60) -> NewEvent:
    return NewEvent(
        type="hours-logged",
        version=2,
        data={"practitioner_id": practitioner, "day": "2026-11-30", "minutes": minutes},
        subject=practitioner,
        metadata=ACTOR,
    )


class EventStoreContract:
    """Subclass with a ``store`` fixture (and ``another_store`` on its own connections)."""

    def test_appended_events_are_read_back_in_order(self, store):
        recorded = store.append("practitioner-P1", 0, [hours_logged("P1", m) for m in (30, 45)])
        assert [e.stream_version for e in recorded] == [1, 2]
        assert recorded[1].position == recorded[0].position + 1
        more = store.append("practitioner-P1", 2, [hours_logged("P1", 15)])
        stream = store.read_stream("practitioner-P1")
        assert [e.data["minutes"] for e in stream] == [30, 45, 15]
        assert [e.event_id for e in stream] == [e.event_id for e in recorded + more]
        assert stream[0].metadata == ACTOR
        assert store.read_stream("practitioner-P1", after_version=2)[0].data["minutes"] == 15

    def test_several_streams_are_read_at_once(self, store):
        store.append("a", 0, [hours_logged("P1", 10), hours_logged("P1", 20)])
        store.append("b", 0, [hours_logged("P2", 30)])
        streams = store.read_streams(["a", "b", "never-written"])
        assert {k: [e.data["minutes"] for e in v] for k, v in streams.items()} == {
            "a": [10, 20],
            "b": [30],
            "never-written": [],
        }

    def test_stale_expected_version_is_refused_and_writes_nothing(self, store):
        store.append("s", 0, [hours_logged("P1")])
        store.append("s", 1, [hours_logged("P1")])
        with pytest.raises(ConcurrencyError):
            store.append("s", 1, [hours_logged("P1"), hours_logged("P1")])
        with pytest.raises(ConcurrencyError):
            store.append("s", 5, [hours_logged("P1")])
        assert len(store.read_stream("s")) == 2
        assert store.head_position() == 2

    def test_hundred_concurrent_appends_at_one_version_one_wins(self, store, another_store):
        store.append("contested", 0, [hours_logged("P1")])

        def attempt(i: int) -> str:
            target = store if i % 2 else another_store
            try:
                target.append("contested", 1, [hours_logged("P1", i)])
            except ConcurrencyError:
                return "conflict"
            return "written"

        with ThreadPoolExecutor(max_workers=100) as pool:
            outcomes = list(pool.map(attempt, range(100)))
        assert outcomes.count("written") == 1
        assert outcomes.count("conflict") == 99
        assert [e.stream_version for e in store.read_stream("contested")] == [1, 2]
        assert store.head_position() == 2

    def test_concurrent_writers_on_own_streams_lose_nothing(self, store, another_store):
        def write(writer: int) -> None:
            target = store if writer % 2 else another_store
            for version in range(20):
                target.append(f"w{writer}", version, [hours_logged(f"P{writer}")])

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(write, range(16)))
        everything = store.read_all(0, limit=10_000)
        assert [e.position for e in everything] == list(range(1, 321))
        for writer in range(16):
            assert [e.stream_version for e in store.read_stream(f"w{writer}")] == list(range(1, 21))

    def test_reader_following_the_log_never_skips_an_event(self, store, another_store):
        done = threading.Event()
        seen: list[int] = []

        def follow() -> None:
            position = 0
            while True:
                finished = done.is_set()
                batch = store.read_all(position, limit=50)
                seen.extend(e.position for e in batch)
                position = batch[-1].position if batch else position
                if finished and not batch:
                    return

        reader = threading.Thread(target=follow)
        reader.start()

        def write(writer: int) -> None:
            target = store if writer % 2 else another_store
            for version in range(25):
                target.append(f"r{writer}", version, [hours_logged("P1")])

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, range(8)))
        done.set()
        reader.join(timeout=60)
        assert seen == list(range(1, 201))

    def test_retried_command_with_same_idempotency_key_appends_nothing(self, store):
        first = store.append("s", 0, [hours_logged("P1")], idempotency=Idempotency("cmd-1"))
        again = store.append("s", 0, [hours_logged("P1")], idempotency=Idempotency("cmd-1"))
        assert [e.event_id for e in again] == [e.event_id for e in first]
        assert len(store.read_stream("s")) == 1
        store.append("s", 1, [hours_logged("P1")], idempotency=Idempotency("cmd-2"))
        assert len(store.read_stream("s")) == 2

    def test_import_loads_new_streams_after_existing_events(self, store):
        store.append("existing", 0, [hours_logged("P0")])
        imported = store.import_events(
            (f"imported-{i}", [hours_logged(f"P{i}"), hours_logged(f"P{i}", 90)])
            for i in range(500)
        )
        assert imported == 1000
        assert store.head_position() == 1001
        assert [e.position for e in store.read_all(0, limit=5000)] == list(range(1, 1002))
        stream = store.read_stream("imported-7")
        assert [(e.stream_version, e.data["minutes"]) for e in stream] == [(1, 60), (2, 90)]
        store.append("imported-7", 2, [hours_logged("P7")])

    def test_import_touching_an_existing_stream_imports_nothing(self, store):
        store.append("existing", 0, [hours_logged("P0")])
        with pytest.raises(ConcurrencyError):
            store.import_events(
                [("fresh", [hours_logged("P1")]), ("existing", [hours_logged("P0")])]
            )
        assert store.head_position() == 1
        assert store.read_stream("fresh") == []

    def test_special_characters_survive_import_and_append(self, store):
        tricky = NewEvent(
            type="hours-logged",
            version=2,
            data={"note": "tab\there\nnewline \\ backslash \u00e9"},
            subject="P\t1",
            metadata=ACTOR,
        )
        store.import_events([("odd\tstream", [tricky])])
        assert store.read_stream("odd\tstream")[0].data == tricky.data
        assert store.read_stream("odd\tstream")[0].subject == "P\t1"


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def engine(self, scratch_database):
        # A hundred concurrent writers need more than the default pool.
        engine = sqlalchemy.create_engine(scratch_database, pool_size=20, max_overflow=20)
        yield engine
        engine.dispose()

    @pytest.fixture
    def another_store(self, store, engine):
        another = EventStore(engine)
        yield another
        another.close()

    def test_recorded_events_cannot_be_changed(self, store, engine):
        store.append("s", 0, [hours_logged("P1")])
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="immutable"), engine.begin() as c:
            c.execute(sqlalchemy.text("update events set data = '{}'::jsonb"))
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="immutable"), engine.begin() as c:
            c.execute(sqlalchemy.text("delete from events"))


def test_creating_the_schema_again_does_not_wait_for_open_transactions(scratch_database):
    """A service restarting beside a busy store must not queue behind its readers."""
    engine = sqlalchemy.create_engine(scratch_database)
    store = EventStore(engine)
    second = EventStore(engine)
    try:
        store.create_schema()
        store.append("s", 0, [hours_logged("P1")])
        with engine.connect() as reader:
            reader.execute(sqlalchemy.text("select count(*) from events"))  # an open transaction
            again = threading.Thread(target=second.create_schema)
            again.start()
            again.join(timeout=10)
            finished_beside_the_reader = not again.is_alive()
            reader.rollback()
        again.join(timeout=30)
        assert finished_beside_the_reader
    finally:
        second.close()
        store.close()
        engine.dispose()
