"""The log in PostgreSQL: one writer appends leaves and the subtree hashes they complete;
readers get tiles, entries, roots and proofs.

One writer per log: `append` takes a transaction-scoped advisory lock first, then
reads the size, so replicas (or a restarted runner) never interleave, and the
order of the log is the order of the commits. It runs in the caller's
transaction (the projection runner's, with its checkpoint), so the leaves, the
hashes and the consumer's bookkeeping commit together or not at all.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, text

from plimsoll_audit.log.leaves import Leaf
from plimsoll_audit.log.merkle import HASH_SIZE, TILE_WIDTH, Tree, fold

_WRITER_LOCK = "select pg_advisory_xact_lock(hashtext('plimsoll-audit-log-writer'))"


def lock_writer(conn: Connection) -> None:
    conn.execute(text(_WRITER_LOCK))


def size(conn: Connection) -> int:
    return int(conn.execute(text("select coalesce(max(idx) + 1, 0) from log_entries")).scalar_one())


def append(conn: Connection, leaves: Sequence[Leaf]) -> int:
    """Append the leaves not in the log yet (by event id and source), in order; returns how
    many entered. Call inside a transaction; it holds the writer lock until commit.

    Optimistic: the batch is copied as it is, under a savepoint; only when the unique
    (event id, source) refuses it (Kafka redelivered something, or a batch holds an event
    twice) is it rolled back and copied again without what the log already holds.
    """
    if not leaves:
        return 0
    lock_writer(conn)
    start = size(conn)
    try:
        with conn.begin_nested():
            _copy(conn, start, leaves)
        fresh = list(leaves)
    except UniqueViolation:
        fresh = _not_logged(conn, leaves)
        if not fresh:
            return 0
        _copy(conn, start, fresh)
    _complete_subtrees(conn, start, [leaf.hash for leaf in fresh])
    return len(fresh)


def bulk_append(conn: Connection, leaves: Sequence[Leaf]) -> int:
    """Append leaves known to be new (an import, a benchmark's log) without a savepoint.

    The same writer lock, order and subtree hashes as `append`; the caller vouches that
    no (event id, source) is logged (the unique index refuses the batch otherwise).
    """
    lock_writer(conn)
    start = size(conn)
    _copy(conn, start, leaves)
    _complete_subtrees(conn, start, [leaf.hash for leaf in leaves])
    return len(leaves)


_COPY = (
    "copy log_entries (idx, source, event_id, type, subject, event_time, leaf, leaf_hash) "
    "from stdin (format binary)"
)
# PostgreSQL's binary COPY: a signature, flags and header extension length, then per row
# the field count and each field as its length and bytes (-1: NULL), then -1.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_INT32 = struct.Struct(">i").pack
_ROW_START = struct.Struct(">hiqi").pack  # 8 fields; idx (bigint); the length of `source`
_TIMESTAMP = struct.Struct(">iqi").pack  # event_time (µs since 2000); the length of `leaf`
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    encoded = value.encode()
    return _INT32(len(encoded)) + encoded


def _copy(conn: Connection, start: int, leaves: Sequence[Leaf]) -> None:
    """The leaves as rows, in one binary COPY: no text escaping, and the leaves' bytes as
    they are (hex would double them, and PostgreSQL would decode every row)."""
    rows = [_HEADER]
    for i, leaf in enumerate(leaves):
        source = leaf.source.encode()
        rows += (
            _ROW_START(8, 8, start + i, len(source)),
            source,
            _text(leaf.event_id),
            _text(leaf.type),
            _text(leaf.subject),
            _TIMESTAMP(8, (leaf.time - _PG_EPOCH) // _MICROSECOND, len(leaf.leaf)),
            leaf.leaf,
            _INT32(len(leaf.hash)),
            leaf.hash,
        )
    rows.append(_TRAILER)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.write(b"".join(rows))


def _not_logged(conn: Connection, leaves: Sequence[Leaf]) -> list[Leaf]:
    """The leaves whose (event id, source) is neither in the log nor earlier in the batch."""
    if not leaves:
        return []
    logged = {
        (row[0], row[1])
        for row in conn.execute(
            text(
                "select e.event_id, e.source from log_entries e join unnest("
                "cast(:ids as text[]), cast(:sources as text[])) as u(id, source) "
                "on e.event_id = u.id and e.source = u.source"
            ),
            {
                "ids": [leaf.event_id for leaf in leaves],
                "sources": [leaf.source for leaf in leaves],
            },
        )
    }
    fresh = []
    for leaf in leaves:
        key = (leaf.event_id, leaf.source)
        if key not in logged:
            logged.add(key)
            fresh.append(leaf)
    return fresh


def _complete_subtrees(conn: Connection, start: int, hashes: list[bytes]) -> None:
    """Write the hash of every 256^level subtree the new leaves complete (levels >= 1).

    Each tile those subtrees complete is written whole too (`log_tiles`), so that a
    full tile is one row to read. The right edge below each new hash is read back
    from the log (at most 255 hashes per level): nothing is kept in memory across
    transactions.
    """
    level, first, new = 0, start, hashes
    rows: list[dict[str, Any]] = []
    tiles: list[dict[str, Any]] = []
    while new:
        tile_start = first // TILE_WIDTH * TILE_WIDTH
        below = list(StoredHashes(conn).read(level, tile_start, first)) + new
        completed = []
        parent_first = tile_start // TILE_WIDTH
        for i, offset in enumerate(range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)):
            tile = below[offset : offset + TILE_WIDTH]
            completed.append(fold(tile))
            tiles.append({"level": level, "idx": parent_first + i, "hashes": b"".join(tile)})
        rows.extend(
            {"level": level + 1, "idx": parent_first + i, "hash": h}
            for i, h in enumerate(completed)
        )
        level, first, new = level + 1, parent_first, completed
    if rows:
        conn.execute(
            text("insert into log_nodes (level, idx, hash) values (:level, :idx, :hash)"), rows
        )
        conn.execute(
            text("insert into log_tiles (level, idx, hashes) values (:level, :idx, :hashes)"),
            tiles,
        )


class TileCache:
    """Tiles read before, shared by a process's read requests (LRU, thread-safe).

    Safe because a tile never changes once written: the first W hashes of a tile are
    the same at every later size, so a cached prefix is right for any request that
    needs no more of it. The signing path does not use it: checking a checkpoint
    against the last one must read what the database holds now.
    """

    def __init__(self, max_tiles: int = 4096) -> None:
        self.max_tiles = max_tiles
        self._tiles: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int], needed: int) -> list[bytes] | None:
        with self._lock:
            found = self._tiles.get(key)
            if found is None or len(found) < needed:
                return None
            self._tiles.move_to_end(key)
            return found

    def put(self, key: tuple[int, int], hashes: list[bytes]) -> None:
        with self._lock:
            self._tiles[key] = hashes
            self._tiles.move_to_end(key)
            while len(self._tiles) > self.max_tiles:
                self._tiles.popitem(last=False)


class StoredHashes:
    """The `HashReader` of the stored log: a whole tile per query, remembered for the
    request (and across requests through a `TileCache`, when given one)."""

    def __init__(self, conn: Connection, cache: TileCache | None = None) -> None:
        self.conn = conn
        self.cache = cache
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def read(self, level: int, start: int, end: int) -> Sequence[bytes]:
        out: list[bytes] = []
        at = start
        while at < end:
            tile, offset = divmod(at, TILE_WIDTH)
            take = min(end - at, TILE_WIDTH - offset)
            hashes = self._tile(level, tile, offset + take)
            if offset + take > len(hashes):
                raise LookupError(f"level {level} hashes {at}..{at + take} are not in the log")
            out.extend(hashes[offset : offset + take])
            at += take
        return out

    def prefetch(self, level: int, tiles: Sequence[int]) -> None:
        """Read many full tiles of one level in one query (a bundle's proofs touch thousands)."""
        wanted = sorted({t for t in tiles if (level, t) not in self._tiles})
        if not wanted:
            return
        rows = self.conn.execute(
            text("select idx, hashes from log_tiles where level = :level and idx = any(:tiles)"),
            {"level": level, "tiles": wanted},
        )
        for idx, hashes in rows:
            self._tiles[(level, idx)] = _split(bytes(hashes))

    def _tile(self, level: int, tile: int, needed: int) -> list[bytes]:
        key = (level, tile)
        found = self._tiles.get(key)
        if found is not None and len(found) >= needed:
            return found
        if self.cache is not None:
            found = self.cache.get(key, needed)
            if found is not None:
                self._tiles[key] = found
                return found
        whole = self.conn.execute(
            text("select hashes from log_tiles where level = :level and idx = :idx"),
            {"level": level, "idx": tile},
        ).scalar_one_or_none()
        if whole is not None:
            found = _split(bytes(whole))
        else:  # the partial tile at the right edge: its hashes one row each
            lo, hi = tile * TILE_WIDTH, (tile + 1) * TILE_WIDTH
            if level == 0:
                query = (
                    "select leaf_hash from log_entries where idx >= :lo and idx < :hi order by idx"
                )
                params: dict[str, int] = {"lo": lo, "hi": hi}
            else:
                query = (
                    "select hash from log_nodes where level = :level and idx >= :lo and idx < :hi "
                    "order by idx"
                )
                params = {"level": level, "lo": lo, "hi": hi}
            found = [bytes(row[0]) for row in self.conn.execute(text(query), params)]
        self._tiles[key] = found
        if self.cache is not None:
            self.cache.put(key, found)
        return found


def _split(hashes: bytes) -> list[bytes]:
    return [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]


def tree(conn: Connection, tree_size: int | None = None, cache: TileCache | None = None) -> Tree:
    """The tree of the first `tree_size` leaves (the whole log when None)."""
    return Tree(StoredHashes(conn, cache), size(conn) if tree_size is None else tree_size)


def tile_hashes(
    conn: Connection, level: int, index: int, width: int, cache: TileCache | None = None
) -> list[bytes] | None:
    """The hashes of tile (level, index) of the given width, or None if the log has fewer."""
    reader = StoredHashes(conn, cache)
    try:
        return list(reader.read(level, index * TILE_WIDTH, index * TILE_WIDTH + width))
    except LookupError:
        return None


def entries(conn: Connection, first: int, count: int) -> list[bytes]:
    rows = conn.execute(
        text("select leaf from log_entries where idx >= :lo and idx < :hi order by idx"),
        {"lo": first, "hi": first + count},
    )
    return [bytes(row[0]) for row in rows]


@dataclass(frozen=True)
class Entry:
    index: int
    source: str
    event_id: str
    type: str
    subject: str | None
    time: datetime
    leaf: bytes


def find(conn: Connection, event_id: str, source: str | None = None) -> Entry | None:
    """The entry of an event id (and source, when two services reused an id)."""
    rows = conn.execute(
        text(
            "select idx, source, event_id, type, subject, event_time, leaf from log_entries "
            "where event_id = :id and (cast(:source as text) is null or source = :source) "
            "order by idx limit 1"
        ),
        {"id": event_id, "source": source},
    ).first()
    if rows is None:
        return None
    index, source_, id_, type_, subject, time, leaf = rows
    return Entry(index, source_, id_, type_, subject, time, bytes(leaf))
