"""Contract of a store-fed read model (`plimsoll_events.readmodel`) on real PostgreSQL:
catch-up before reads, a checkpoint per read model, catch-ups that serialise, poison parked
while the rest is applied (and reads keep working), transient failures left to the caller,
a rebuild equal to live, and a caller's lock held across catch-up and decision."""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import sqlalchemy
from plimsoll_events.readmodel import PASS_OVER, StoreEvent, StoreFedReadModel
from plimsoll_events.records import NewEvent
from prometheus_client import REGISTRY
from sqlalchemy import Connection, text

from stack.eventing import ACTOR, hours_logged

POISON_MINUTES = 1440  # 1440 * 2,000,000 does not fit the integer column: PostgreSQL refuses


class Weighted:
    """Per practitioner: events, minutes, and minutes * 2,000,000 in an integer column (so
    a whole day overflows it, as a value above 2^31-1 would any integer column)."""

    def __init__(self, name: str | None = None, *, slow: float = 0.0) -> None:
        self.name = name or f"weighted-{uuid.uuid4().hex[:8]}"
        self.table = self.name.replace("-", "_")
        self.slow = slow
        self.applied: Counter = Counter()  # event id -> times applied (committed or not)
        self.inside = 0
        self.most_inside = 0
        self.transient_failures = 0

    def create(self, conn: Connection) -> None:
        conn.execute(
            text(
                f"create table if not exists {self.table} (practitioner_id text primary key, "
                "events integer not null, minutes integer not null, weighted integer not null, "
                "last_position bigint not null)"
            )
        )

    def drop(self, conn: Connection) -> None:
        conn.execute(text(f"drop table if exists {self.table}"))

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            if self.transient_failures:
                self.transient_failures -= 1
                raise sqlalchemy.exc.OperationalError(
                    "update", {}, psycopg.errors.SerializationFailure("could not serialize")
                )
            time.sleep(self.slow)
            for event in events:
                conn.execute(
                    text(
                        f"insert into {self.table} values (:p, 1, :m, :m * 2000000, :pos) "
                        "on conflict (practitioner_id) do update set "
                        f"events = {self.table}.events + 1, "
                        f"minutes = {self.table}.minutes + excluded.minutes, "
                        f"weighted = {self.table}.weighted + excluded.weighted, "
                        "last_position = excluded.last_position"
                    ),
                    {"p": event.data.practitioner_id, "m": event.data.minutes,
                     "pos": event.position},
                )  # fmt: skip
                self.applied[event.event_id] += 1
        finally:
            self.inside -= 1

    def rows(self, conn: Connection) -> list[tuple]:
        query = text(f"select * from {self.table} order by practitioner_id")
        return [tuple(r) for r in conn.execute(query)]


def _log(store, entries: list[tuple[str, int]]) -> None:
    for practitioner, minutes in entries:
        stream = f"timesheet-{practitioner}"
        store.append(stream, len(store.read_stream(stream)), [hours_logged(practitioner, minutes)])


def _model(engine, store, projection=None, **options) -> StoreFedReadModel:
    return StoreFedReadModel(
        engine, store, projection or Weighted(), types={"hours-logged"}, **options
    )


def test_every_read_sees_every_write_that_returned(store, engine):
    model = _model(engine, store)
    _log(store, [("P-1", 30), ("P-2", 45)])
    with model.reading() as conn:
        assert [(r[0], r[2]) for r in model.model.rows(conn)] == [("P-1", 30), ("P-2", 45)]
    _log(store, [("P-1", 15)])
    with model.reading() as conn:
        assert [(r[0], r[2]) for r in model.model.rows(conn)] == [("P-1", 45), ("P-2", 45)]
        assert model.position(conn) == store.head_position() == 3


def test_events_of_other_types_are_skipped_but_passed(store, engine):
    model = _model(engine, store)
    other = NewEvent("practitioner-left", 1, {"x": 1}, "P-1", ACTOR)  # never decoded
    store.append("elsewhere", 0, [other])
    _log(store, [("P-1", 30)])
    with model.reading() as conn:
        assert [r[0] for r in model.model.rows(conn)] == ["P-1"]
        assert model.position(conn) == 2
    assert model.parked() == []


def test_a_read_passes_a_few_events_it_does_not_apply_without_writing(store, engine):
    """Reads that follow reads (each recording itself in the access log) write no checkpoint;
    once many such events lie behind it, a read moves it past them."""
    model = _model(engine, store)

    def others(n: int) -> list[NewEvent]:
        return [NewEvent("personal-data-read", 1, {"x": 1}, "P-1", ACTOR) for _ in range(n)]

    _log(store, [("P-1", 30)])
    with model.reading() as conn:
        assert model.position(conn) == 1
    store.append("read-1", 0, others(1))
    with model.reading() as conn:
        assert model.position(conn) == 1  # the read's event is passed over, not written past
    _log(store, [("P-1", 15)])
    with model.reading() as conn:
        assert [(r[0], r[2]) for r in model.model.rows(conn)] == [("P-1", 45)]
        assert model.position(conn) == 3
    store.append("read-2", 0, others(PASS_OVER + 1))
    with model.reading() as conn:
        assert model.position(conn) == store.head_position()


def test_a_step_applies_one_batch_and_says_whether_more_may_wait(store, engine):
    """A process manager's step: a full batch (go straight on), else up to the head, passing
    over events of other types without reading them one batch at a time."""
    model = _model(engine, store, batch_size=2)

    def other() -> NewEvent:
        return NewEvent("practitioner-left", 1, {"x": 1}, "P-1", ACTOR)

    _log(store, [("P-1", 10), ("P-2", 20)])  # positions 1, 2
    store.append("elsewhere", 0, [other(), other()])  # 3, 4
    _log(store, [("P-3", 30)])  # 5
    steps = []
    for appended in ([], [], [other()], []):
        if appended:
            store.append("elsewhere", len(store.read_stream("elsewhere")), appended)
        with engine.begin() as conn:
            steps.append((model.step(conn), model.position(conn)))
    assert steps == [(True, 2), (False, 5), (False, 6), (False, 6)]
    with model.reading() as conn:
        assert [(r[0], r[1]) for r in model.model.rows(conn)] == [
            ("P-1", 1),
            ("P-2", 1),
            ("P-3", 1),
        ]


class Commits(Weighted):
    """Notes the `synchronous_commit` each catch-up's transaction will commit with."""

    def __init__(self) -> None:
        super().__init__()
        self.settings: list[str] = []

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        self.settings.append(conn.execute(text("show synchronous_commit")).scalar_one())
        super().apply(conn, events)


def test_a_read_commits_its_catch_up_without_waiting_for_the_disk_and_nothing_else(store, engine):
    commits = Commits()
    model = _model(engine, store, commits)
    _log(store, [("P-1", 30)])
    with model.reading() as conn:
        assert conn.execute(text("show synchronous_commit")).scalar_one() == "on"
    _log(store, [("P-1", 15)])
    with model.holding("P-1"):
        pass
    _log(store, [("P-1", 5)])
    with engine.begin() as conn:  # a process manager's catch-up: its writes stay durable
        model.catch_up(conn)
    assert commits.settings == ["off", "off", "on"]


def test_each_read_model_has_its_own_checkpoint(store, engine):
    first, second = _model(engine, store), _model(engine, store, batch_size=2)
    _log(store, [("P-1", 10), ("P-2", 20), ("P-3", 30)])
    with first.reading() as conn:
        assert first.position(conn) == 3
        assert second.position(conn) == 0  # untouched by the other's catch-up
    _log(store, [("P-4", 40)])
    with second.reading() as conn:
        assert second.position(conn) == 4
        assert first.position(conn) == 3
        assert len(second.model.rows(conn)) == 4
    with first.reading() as conn:
        assert first.model.rows(conn) == second.model.rows(conn)


def test_concurrent_catch_ups_serialise_and_apply_each_event_once(store, engine):
    projection = Weighted(slow=0.05)
    model = _model(engine, store, projection, batch_size=7)
    writes = threading.Event()

    def write() -> None:
        for i in range(60):
            _log(store, [(f"P-{i % 6}", i + 1)])
        writes.set()

    def read(_: int) -> None:
        while not writes.is_set():
            with model.reading():
                pass

    with ThreadPoolExecutor(max_workers=8) as pool:
        readers = [pool.submit(read, i) for i in range(7)]
        write()
        for reader in readers:
            reader.result()
    with model.reading() as conn:
        rows = model.model.rows(conn)
    assert projection.most_inside == 1, "two catch-ups applied batches at the same time"
    assert set(projection.applied.values()) == {1}
    assert len(projection.applied) == 60
    assert sum(r[1] for r in rows) == 60
    assert sum(r[2] for r in rows) == sum(range(1, 61))


def test_poison_is_parked_the_rest_applied_and_reads_keep_working(store, engine):
    model = _model(engine, store)
    parked_before = REGISTRY.get_sample_value(
        "plimsoll_read_model_parked_events_total", {"read_model": model.name}
    )
    _log(store, [("P-1", 10), ("P-2", POISON_MINUTES), ("P-1", 20)])
    undecodable = NewEvent("hours-logged", 2, {"practitioner_id": "P-3"}, "P-3", ACTOR)
    store.append("timesheet-P-3", 0, [undecodable])
    _log(store, [("P-3", 30)])
    for _ in range(2):  # the second read finds nothing new: nothing retried, nothing parked again
        with model.reading() as conn:
            assert [(r[0], r[1], r[2]) for r in model.model.rows(conn)] == [
                ("P-1", 2, 30),
                ("P-3", 1, 30),
            ]
            assert model.position(conn) == 5
    parked = model.parked()
    assert [(p.position, p.type) for p in parked] == [(2, "hours-logged"), (4, "hours-logged")]
    assert parked[0].event_id == store.read_all(1, 1)[0].event_id
    assert "NumericValueOutOfRange" in parked[0].reason or "out of range" in parked[0].reason
    assert parked[1].reason.startswith("undecodable")
    assert (
        REGISTRY.get_sample_value(
            "plimsoll_read_model_parked_events_total", {"read_model": model.name}
        )
        == (parked_before or 0) + 2
    )


def test_a_transient_failure_propagates_and_parks_nothing(store, engine):
    projection = Weighted()
    model = _model(engine, store, projection)
    _log(store, [("P-1", 10), ("P-2", 20)])
    projection.transient_failures = 2
    for _ in range(2):
        with pytest.raises(sqlalchemy.exc.OperationalError), model.reading():
            pass
    with model.reading() as conn:  # a later read tries again
        assert [r[0] for r in model.model.rows(conn)] == ["P-1", "P-2"]
    assert model.parked() == []


def test_rebuild_gives_the_same_rows_and_the_same_parked_events(store, engine):
    model = _model(engine, store, batch_size=4)
    for round_ in range(3):
        _log(store, [(f"P-{i % 4}", round_ * 10 + i + 1) for i in range(9)])
        _log(store, [("P-9", POISON_MINUTES)])
        with model.reading():
            pass
    with model.reading() as conn:
        live = model.model.rows(conn)
    live_parked = [(p.position, p.event_id, p.reason) for p in model.parked()]
    assert len(live_parked) == 3

    assert model.rebuild() == store.head_position()

    with model.reading() as conn:
        assert model.model.rows(conn) == live
    assert [(p.position, p.event_id, p.reason) for p in model.parked()] == live_parked


def test_holding_a_key_serialises_its_holders_and_not_others(store, engine):
    model = _model(engine, store)
    _log(store, [("P-1", 10)])
    order: list[str] = []
    inside = threading.Event()

    def hold(key: str, label: str, seconds: float) -> None:
        with model.holding(key) as conn:
            order.append(f"{label} in")
            inside.set()
            assert [r[0] for r in model.model.rows(conn)] == ["P-1"]  # caught up
            time.sleep(seconds)
            order.append(f"{label} out")

    first = threading.Thread(target=hold, args=("allocate-to:P-1", "first", 0.5))
    first.start()
    inside.wait(10)
    other = threading.Thread(target=hold, args=("allocate-to:P-2", "other", 0))
    second = threading.Thread(target=hold, args=("allocate-to:P-1", "second", 0))
    other.start()
    second.start()
    for thread in (first, other, second):
        thread.join(20)
    assert order.index("other out") < order.index("first out")  # another key: no wait
    assert order.index("second in") > order.index("first out")  # the same key: waits
    # Released: nobody holds an advisory lock any more.
    with engine.connect() as conn:
        held = conn.execute(
            text(
                "select count(*) from pg_locks where locktype = 'advisory' and granted "
                "and database = (select oid from pg_database where datname = current_database())"
            )
        ).scalar_one()
    assert held == 0
