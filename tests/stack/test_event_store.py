"""Contract of an event store, written once and run against every implementation:
PostgreSQL (`EventStore`, on the real server) and memory (`MemoryStore`, no I/O).

Each guarantee here is one users of event stores report broken elsewhere:
appends lost under concurrency, readers skipping events, retries writing twice,
one writer's bad event failing the writers batched with it.
"""

import collections
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy
from plimsoll_events.memory import MemoryStore
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.refusals import InvalidValue
from plimsoll_events.store import (
    MAX_EVENT_BYTES,
    AppendTo,
    ConcurrencyError,
    EventStore,
    EventTooLarge,
    Idempotency,
    IdempotencyKeyReused,
    UnstorableEvent,
)

ACTOR = Metadata(actor="mo.manager", correlation_id=uuid.uuid4())


def hours_logged(practitioner: str, minutes: int = 60, **extra: object) -> NewEvent:
    return NewEvent(
        type="hours-logged",
        version=2,
        data={"practitioner_id": practitioner, "day": "2026-11-30", "minutes": minutes, **extra},
        subject=practitioner,
        metadata=ACTOR,
    )


def unstorable(kind: int) -> NewEvent:
    """An event no store can hold, three ways: a NUL in JSON data (PostgreSQL refuses it),
    an unpaired surrogate in data (not UTF-8), a NUL in a text column (the driver refuses)."""
    if kind == 0:
        return hours_logged("P-BAD", note="nul \u0000 inside")
    if kind == 1:
        return hours_logged("P-BAD", note="lone \ud800 surrogate")
    event = hours_logged("P-BAD")
    return NewEvent(event.type, event.version, event.data, "P-\x00-BAD", event.metadata)


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

    def test_many_appends_at_once_are_each_judged_on_their_own(self, store):
        store.append("taken", 0, [hours_logged("P1")])
        key = Idempotency("retry-1", "same request")
        first = store.append("keyed", 0, [hours_logged("P2")], idempotency=key)
        outcomes = store.append_many(
            [
                AppendTo("fresh", 0, [hours_logged("P3"), hours_logged("P3", 30)]),
                AppendTo("taken", 0, [hours_logged("P1")]),  # stale
                AppendTo("keyed", 0, [hours_logged("P2")], key),  # a retry: its first events
                AppendTo("odd", 0, [unstorable(0)]),
                AppendTo("odder", 0, [unstorable(1)]),
                AppendTo("big", 0, [hours_logged("P4", note="x" * MAX_EVENT_BYTES)]),
                AppendTo("taken", 1, [hours_logged("P1", 15)]),
                AppendTo("reused", 0, [hours_logged("P5")], Idempotency("retry-1", "another")),
            ]
        )
        fresh, stale, retried, odd, odder, big, next_, reused = outcomes
        assert [e.stream_version for e in fresh] == [1, 2]
        assert isinstance(stale, ConcurrencyError)
        assert retried == first
        assert isinstance(odd, UnstorableEvent)
        assert isinstance(odder, UnstorableEvent)
        assert isinstance(big, EventTooLarge)
        assert [e.stream_version for e in next_] == [2]
        assert isinstance(reused, IdempotencyKeyReused)
        assert [e.position for e in store.read_all(0, limit=100)] == [1, 2, 3, 4, 5]
        assert store.read_stream("odd") == store.read_stream("odder") == []
        assert store.read_stream("big") == []
        assert store.read_stream("reused") == []

    def test_many_appends_from_many_writers_at_once_lose_nothing(self, store, another_store):
        def write(writer: int) -> list[int]:
            target = store if writer % 2 else another_store
            versions = []
            for round_ in range(10):
                outcomes = target.append_many(
                    [AppendTo(f"w{writer}-{n}", round_, [hours_logged("P1")]) for n in range(10)]
                    + [AppendTo(f"solo{writer}", round_, [hours_logged("P2")])]
                )
                versions += [o[0].stream_version for o in outcomes if isinstance(o, list)]
                target.append(f"single{writer}", round_, [hours_logged("P3")])
            return versions

        with ThreadPoolExecutor(max_workers=8) as pool:
            written = list(pool.map(write, range(8)))
        assert [sorted(v) for v in written] == [sorted([*range(1, 11)] * 11)] * 8
        everything = store.read_all(0, limit=10_000)
        assert [e.position for e in everything] == list(range(1, 8 * 10 * 12 + 1))
        for stream in ("w3-7", "solo5", "single0"):
            assert [e.stream_version for e in store.read_stream(stream)] == list(range(1, 11))

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

    def test_same_key_for_another_request_or_stream_is_refused(self, store):
        store.append("s", 0, [hours_logged("P1")], idempotency=Idempotency("cmd-1", "req-A"))
        with pytest.raises(IdempotencyKeyReused):
            store.append("s", 1, [hours_logged("P1")], idempotency=Idempotency("cmd-1", "req-B"))
        with pytest.raises(IdempotencyKeyReused):
            store.append("t", 0, [hours_logged("P1")], idempotency=Idempotency("cmd-1", "req-A"))
        assert store.recorded_for("s", Idempotency("cmd-1", "req-A"))[0].stream_version == 1
        assert store.recorded_for("s", Idempotency("cmd-2")) is None
        assert store.head_position() == 1

    def test_read_all_pages_through_the_log_in_position_order(self, store):
        for i in range(7):
            store.append(f"s{i % 3}", i // 3, [hours_logged("P1", i)])
        pages, position = [], 0
        while page := store.read_all(position, limit=3):
            pages.append([e.data["minutes"] for e in page])
            position = page[-1].position
        assert pages == [[0, 1, 2], [3, 4, 5], [6]]

    def test_event_above_the_size_limit_is_refused_and_writes_nothing(self, store):
        store.append("s", 0, [hours_logged("P1")])
        big = hours_logged("P1", note="x" * MAX_EVENT_BYTES)
        with pytest.raises(EventTooLarge) as refused:
            store.append("s", 1, [hours_logged("P1"), big])
        assert isinstance(refused.value, InvalidValue)
        assert refused.value.field == "data"
        assert refused.value.size > refused.value.limit == MAX_EVENT_BYTES
        assert "'s'" in str(refused.value)
        with pytest.raises(EventTooLarge):
            store.import_events([("fresh", [big])])
        assert store.head_position() == 1
        # Just under the limit is accepted.
        fits = hours_logged("P1", note="x" * (MAX_EVENT_BYTES - 1000))
        assert store.append("s", 1, [fits])[0].data["note"] == fits.data["note"]

    @pytest.mark.parametrize("kind", [0, 1, 2], ids=["nul-in-json", "surrogate", "nul-in-text"])
    def test_event_no_database_can_hold_is_refused_naming_the_stream(self, store, kind):
        with pytest.raises(UnstorableEvent, match="stream 'odd'") as refused:
            store.append("odd", 0, [hours_logged("P1"), unstorable(kind)])
        assert isinstance(refused.value, InvalidValue)
        assert isinstance(refused.value, ValueError)
        assert refused.value.field == "data"
        assert store.read_stream("odd") == []
        assert store.head_position() == 0

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


class TestMemoryEventStore(EventStoreContract):
    """The same contract, in memory: no database."""

    @pytest.fixture
    def store(self):
        return MemoryStore()

    @pytest.fixture
    def another_store(self, store):
        return store  # one process's memory: every writer shares it


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

    def test_a_bad_event_fails_only_its_own_writer_in_a_group_commit(self, store, engine):
        """Bursts of 20 valid appends with 3 unstorable ones mixed in, from threads at once:
        the batches they share commit the valid ones; only the culprits fail."""
        writers = 23
        bad = {3: 0, 11: 1, 19: 2}  # writer -> kind of unstorable event

        def burst(round_: int, bad: dict[int, int]) -> list[str]:
            start = threading.Barrier(writers)

            def write(writer: int) -> str:
                stream, version = f"w{writer}", round_
                events = [hours_logged(f"P{writer}", round_)]
                if writer in bad:
                    stream, version = f"bad{writer}-{round_}", 0
                    events.append(unstorable(bad[writer]))
                start.wait()
                try:
                    store.append(stream, version, events)
                except UnstorableEvent as refused:
                    return "refused" if repr(stream) in str(refused) else f"unnamed: {refused}"
                return "written"

            with ThreadPoolExecutor(max_workers=writers) as pool:
                return list(pool.map(write, range(writers)))

        # A burst of this shape is group-committed: appends share transactions.
        assert burst(0, {}) == ["written"] * writers
        assert max(_batch_sizes(engine)) > 1
        for round_ in range(1, 6):
            outcomes = burst(round_, bad)
            assert [i for i, o in enumerate(outcomes) if o == "refused"] == sorted(bad)
            assert outcomes.count("written") == 20
        # Nothing partial: the positions stay dense and no bad stream holds anything.
        assert [e.position for e in store.read_all(0, limit=1000)] == list(range(1, 124))
        for writer in range(writers):
            stream = store.read_stream(f"w{writer}")
            assert [e.stream_version for e in stream] == ([1] if writer in bad else [*range(1, 7)])
        assert all(e.stream_id.startswith("w") for e in store.read_all(0, limit=1000))

    def test_recorded_events_cannot_be_changed(self, store, engine):
        store.append("s", 0, [hours_logged("P1")])
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="immutable"), engine.begin() as c:
            c.execute(sqlalchemy.text("update events set data = '{}'::jsonb"))
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="immutable"), engine.begin() as c:
            c.execute(sqlalchemy.text("delete from events"))


def _batch_sizes(engine) -> "collections.Counter[int]":
    """How many events each committed transaction wrote (from ``xmin``), as a multiset."""
    with engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("select count(*) from events group by xmin::text")
        ).scalars()
        return collections.Counter(int(n) for n in rows)


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
