"""Reads of the log: tiles, entry bundles, proofs, as the HTTP routes serve them.

Refusals follow C2SP tlog-tiles: a tile or bundle the log does not hold (past
the tree, or wider than what is there) is 404; a request that cannot name
anything (sizes in the wrong order, past the tree) is 400.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from plimsoll_events.refusals import NotFound
from plimsoll_platform.problems import InvalidParam, Problem
from sqlalchemy import Connection, Engine

from plimsoll_audit import checkpoints
from plimsoll_audit.log import store
from plimsoll_audit.log.merkle import TILE_WIDTH
from plimsoll_audit.log.tiles import MAX_ENTRY_BYTES, TileRef, bundle, tile_bytes


def bad_request(name: str, reason: str) -> Problem:
    return Problem(
        400,
        "The request names nothing the log can prove",
        f"{name}: {reason}",
        kind="bad-proof-request",
        invalid_params=[InvalidParam(name=name, reason=reason)],
    )


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]
    event_id: str
    source: str


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[str]


class LogReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cache = store.TileCache()

    def tile(self, ref: TileRef) -> bytes:
        with self.engine.connect() as conn:
            if ref.level is None:
                found = store.entries(conn, ref.index * TILE_WIDTH, ref.width)
                if len(found) < ref.width:
                    raise NotFound(f"the log holds no entry bundle {ref.path}")
                too_large = [e for e in found if len(e) > MAX_ENTRY_BYTES]
                if too_large:
                    raise Problem(
                        501,
                        "An entry is too large for an entry bundle",
                        f"{ref.path} holds an entry of {len(too_large[0])} bytes; C2SP bundles "
                        "carry at most 65535: read it through the evidence bundle",
                        kind="entry-too-large",
                    )
                return bundle(found)
            hashes = store.tile_hashes(conn, ref.level, ref.index, ref.width, self.cache)
        if hashes is None:
            raise NotFound(f"the log holds no tile {ref.path}")
        return tile_bytes(hashes)

    @staticmethod
    def _size(conn: Connection, requested: int | None, name: str) -> int:
        if requested is None:
            signed = checkpoints.latest(conn)
            if signed is not None:
                return signed.checkpoint.size
        current = store.size(conn)
        if requested is None:
            return current
        if requested > current:
            raise bad_request(name, f"{requested} is past the tree's size ({current})")
        return requested

    def inclusion(
        self,
        *,
        event_id: str | None,
        index: int | None,
        size: int | None,
        source: str | None = None,
    ) -> InclusionProof:
        with self.engine.connect() as conn:
            tree_size = self._size(conn, size, "size")
            if event_id is not None:
                entry = store.find(conn, event_id, source)
                if entry is None:
                    raise NotFound(f"no event {event_id} in the log")
                index = entry.index
            if index is None:
                raise bad_request("index", "give event_id or index")
            if not 0 <= index < tree_size:
                raise bad_request("index", f"{index} is not below the tree size {tree_size}")
            tree = store.tree(conn, tree_size, self.cache)
            leaf = tree.reader.read(0, index, index + 1)[0]
            proof = tree.inclusion(index)
            ids = conn.exec_driver_sql(
                "select event_id, source from log_entries where idx = %(i)s", {"i": index}
            ).one()
        return InclusionProof(index, tree_size, b64(leaf), [b64(h) for h in proof], ids[0], ids[1])

    def consistency(self, first: int, second: int | None) -> ConsistencyProof:
        with self.engine.connect() as conn:
            second = self._size(conn, second, "second")
            if not 0 <= first <= second:
                raise bad_request("first", f"{first} is not between 0 and {second}")
            proof = store.tree(conn, second, self.cache).consistency(first)
        return ConsistencyProof(first, second, [b64(h) for h in proof])
