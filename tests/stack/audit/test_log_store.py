"""The log in PostgreSQL: dense order, each event once, complete-subtree hashes, roots equal
to the definition, one writer at a time, and tables nobody can rewrite."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import sqlalchemy
from plimsoll_audit.log import store
from plimsoll_audit.log.leaves import Leaf
from plimsoll_audit.log.merkle import MemoryHashes, Tree, verify_consistency, verify_inclusion
from sqlalchemy import text

from .conftest import leaves


def append(engine, batch) -> int:
    with engine.begin() as conn:
        return store.append(conn, batch)


def test_each_event_enters_once_in_order_whatever_is_redelivered(app_engine):
    first = leaves(300)
    assert append(app_engine, first) == 300
    assert append(app_engine, first[250:] + leaves(10, start=300)) == 10  # a redelivery
    assert append(app_engine, leaves(2, start=310) * 2) == 2  # repeated within a batch
    with app_engine.connect() as conn:
        rows = conn.execute(text("select idx, event_id from log_entries order by idx")).all()
    assert [r[0] for r in rows] == list(range(312))
    assert len({r[1] for r in rows}) == 312


def test_an_entry_holds_the_leaf_and_its_attributes_as_given(app_engine):
    """The binary COPY: text with tabs, backslashes, newlines and non-ASCII, no subject, a
    time with an offset and microseconds, the leaf's bytes exactly."""
    odd = Leaf(
        "/plimsoll/tab\tback\\slash",
        "id-é-\n-1",
        "kind\\of",
        None,
        datetime(2025, 6, 30, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=1))),
        b'{"x":"\x00\xff"}',
        bytes(range(32)),
    )
    assert append(app_engine, [odd, *leaves(1)]) == 2
    with app_engine.connect() as conn:
        row = conn.execute(
            text(
                "select source, event_id, type, subject, event_time, leaf, leaf_hash "
                "from log_entries where idx = 0"
            )
        ).one()
    assert (row[0], row[1], row[2], row[3]) == (odd.source, odd.event_id, odd.type, None)
    assert row[4] == odd.time
    assert (bytes(row[5]), bytes(row[6])) == (odd.leaf, odd.hash)


def test_the_same_id_from_two_sources_is_two_events(app_engine):
    assert append(app_engine, leaves(1)) == 1
    assert append(app_engine, leaves(1, source="/plimsoll/wellbeing")) == 1


def test_stored_tiles_give_the_roots_and_proofs_of_the_definition(app_engine):
    batch = leaves(70_000 // 100)
    for i in range(0, len(batch), 97):  # uneven batches cross tile edges
        append(app_engine, batch[i : i + 97])
    expected = MemoryHashes([leaf.hash for leaf in batch])
    with app_engine.connect() as conn:
        nodes = conn.execute(text("select level, count(*) from log_nodes group by 1")).all()
        assert nodes == [(1, 2)]  # 700 leaves: two complete 256-leaf subtrees
        tiles = conn.execute(text("select level, idx, length(hashes) from log_tiles")).all()
        assert sorted(tiles) == [(0, 0, 8192), (0, 1, 8192)]  # and two full level-0 tiles
        for size in (1, 255, 256, 257, 512, 699, 700):
            stored = store.tree(conn, size)
            assert stored.root() == Tree(expected, size).root()
        tree = store.tree(conn)
        root = tree.root()
        for index in (0, 255, 256, 511, 699):
            verify_inclusion(index, 700, batch[index].hash, tree.inclusion(index), root)
        for old in (1, 256, 300, 699):
            old_root = store.tree(conn, old).root()
            verify_consistency(old, 700, old_root, root, tree.consistency(old))


def test_concurrent_writers_never_interleave_or_repeat(app_engine):
    batches = [leaves(40, start=40 * w) for w in range(8)]
    errors: list[BaseException] = []

    def write(batch):
        try:
            for i in range(0, 40, 5):
                append(app_engine, batch[i : i + 5])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app_engine.connect() as conn:
        assert conn.execute(text("select count(*), max(idx) from log_entries")).one() == (320, 319)
        assert conn.execute(text("select count(*) from log_nodes")).scalar() == 1
        stored = store.tree(conn).root()
        in_order = [
            bytes(h)
            for (h,) in conn.execute(text("select leaf_hash from log_entries order by idx"))
        ]
    assert stored == Tree(MemoryHashes(in_order), 320).root()


@pytest.mark.parametrize(
    "statement",
    [
        "update log_entries set leaf = 'x'",
        "delete from log_entries",
        "truncate log_entries",
        "update log_nodes set hash = 'x'",
        "delete from log_checkpoints",
    ],
)
def test_the_application_role_cannot_change_the_log(app_engine, statement):
    append(app_engine, leaves(300))
    with pytest.raises(sqlalchemy.exc.ProgrammingError) as refused, app_engine.begin() as conn:
        conn.execute(text(statement))
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    assert "permission denied" in str(refused.value.orig)


@pytest.mark.parametrize(
    "statement",
    ["update log_entries set leaf = 'x'", "delete from log_nodes", "truncate log_checkpoints"],
)
def test_not_even_the_owner_can_change_it_without_dropping_the_trigger(
    owner_engine, app_engine, statement
):
    append(app_engine, leaves(300))
    with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, owner_engine.begin() as conn:
        conn.execute(text(statement))
    assert "the audit log is append-only" in str(refused.value.orig)


def test_the_application_role_cannot_read_the_development_key(app_engine):
    with pytest.raises(sqlalchemy.exc.ProgrammingError), app_engine.connect() as conn:
        conn.execute(text("select * from checkpoint_dev_key"))


def test_text_that_copy_must_escape_is_stored_as_sent(app_engine):
    odd = "P-\\\\x41\ttab\nline\r"
    assert append(app_engine, leaves(3, subject=odd)) == 3
    with app_engine.connect() as conn:
        subjects = conn.execute(text("select distinct subject from log_entries")).scalars().all()
    assert subjects == [odd]
