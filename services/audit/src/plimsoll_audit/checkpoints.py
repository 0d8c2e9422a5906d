"""Signing checkpoints: at an interval (the kit's `Jobs`) and on demand.

A checkpoint is signed under the log's writer lock, so its size and root are
those of committed entries and no append slips in between. Before signing, the
new tree is proved consistent with the last checkpoint signed (C2SP: a log must
never sign two inconsistent checkpoints): a log rewritten underneath the service
stops it signing, loudly, rather than producing a checkpoint that would hide it.
Each new checkpoint is stored and recorded as a `checkpoint-signed` event, which
enters the log in turn; the interval job signs only when the log holds something
besides those events since the last checkpoint, so an idle log stays quiet.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.records import Metadata
from plimsoll_events.store import EventStore
from plimsoll_events.types.audit import CheckpointSigned
from plimsoll_platform.clock import Clock
from sqlalchemy import Connection, Engine, text

from plimsoll_audit.keys import Keys
from plimsoll_audit.log import store
from plimsoll_audit.log.checkpoint import Checkpoint
from plimsoll_audit.log.merkle import verify_consistency
from plimsoll_audit.log.note import split_note

log = logging.getLogger(__name__)

SOURCE = "/plimsoll/audit"
ACTOR = "system:audit-checkpoints"


class InconsistentLog(RuntimeError):
    """The log no longer extends the last checkpoint signed: it was rewritten."""


@dataclass(frozen=True)
class Signed:
    checkpoint: Checkpoint
    note: str
    signed_at: datetime


def latest(conn: Connection) -> Signed | None:
    row = conn.execute(
        text("select size, root, note, signed_at from log_checkpoints order by id desc limit 1")
    ).first()
    if row is None:
        return None
    return Signed(Checkpoint.parse(split_note(row[2])[0]), row[2], row[3])


def all_signed(conn: Connection, up_to_size: int | None = None) -> list[Signed]:
    rows = conn.execute(
        text(
            "select note, signed_at from log_checkpoints "
            "where cast(:size as bigint) is null or size <= :size order by id"
        ),
        {"size": up_to_size},
    )
    return [Signed(Checkpoint.parse(split_note(n)[0]), n, at) for n, at in rows]


def first_signed_after(conn: Connection, instant: datetime) -> Signed | None:
    row = conn.execute(
        text(
            "select note, signed_at from log_checkpoints where signed_at >= :at order by id limit 1"
        ),
        {"at": instant},
    ).first()
    return None if row is None else Signed(Checkpoint.parse(split_note(row[0])[0]), row[0], row[1])


class Checkpointer:
    def __init__(
        self, engine: Engine, events: EventStore | None, keys: Keys, origin: str, clock: Clock
    ) -> None:
        self.engine = engine
        self.events = events
        self.keys = keys
        self.origin = origin
        self.clock = clock

    def sign(self, *, only_if_grown: bool = False) -> Signed:
        """A checkpoint of the whole log: the last one if nothing changed (same size and
        key), else a new one, stored and recorded as an event."""
        with self.engine.begin() as conn:
            store.lock_writer(conn)
            previous = latest(conn)
            tree = store.tree(conn)
            if previous is not None:
                same_key = self._signed_by_current_key(previous)
                if previous.checkpoint.size == tree.size and same_key:
                    return previous
                if only_if_grown and same_key and not _grown(conn, previous.checkpoint.size):
                    return previous
            root = tree.root()
            if previous is not None:
                old = previous.checkpoint
                try:
                    verify_consistency(
                        old.size, tree.size, old.root, root, tree.consistency(old.size)
                    )
                except ValueError as error:
                    raise InconsistentLog(
                        f"the log of {tree.size} entries does not extend the checkpoint of "
                        f"{old.size} signed at {previous.signed_at:%Y-%m-%d %H:%M:%S}: {error}"
                    ) from error
            checkpoint = Checkpoint(self.origin, tree.size, root)
            note = checkpoint.signed([self.keys.signer])
            signed_at = self.clock.now()
            conn.execute(
                text(
                    "insert into log_checkpoints (size, root, note, signed_at) "
                    "values (:size, :root, :note, :at)"
                ),
                {"size": tree.size, "root": root, "note": note, "at": signed_at},
            )
        signed = Signed(checkpoint, note, signed_at)
        self._record(signed)
        return signed

    def _signed_by_current_key(self, signed: Signed) -> bool:
        return self.keys.signer.verifier.id in _key_ids(signed.note)

    def _record(self, signed: Signed) -> None:
        if self.events is None:
            return
        data = CheckpointSigned(
            origin=signed.checkpoint.origin,
            tree_size=signed.checkpoint.size,
            root_hash=base64.b64encode(signed.checkpoint.root).decode(),
            key_names=[self.keys.signer.name],
            note=signed.note,
            signed_at=signed.signed_at,
        )
        metadata = Metadata(actor=ACTOR, correlation_id=uuid4())
        event = CATALOGUE.new_event(data, metadata)
        self.events.append(f"checkpoint-{signed.checkpoint.size}-{uuid4().hex[:8]}", 0, [event])


def _key_ids(note: str) -> set[int]:
    _, signatures = split_note(note)
    return {int.from_bytes(blob[:4], "big") for _, blob in signatures}


def _grown(conn: Connection, since: int) -> bool:
    """Whether the log holds, past `since`, anything but our own checkpoint-signed events."""
    return bool(
        conn.execute(
            text(
                "select exists (select 1 from log_entries where idx >= :since and not "
                "(source = :source and type = 'checkpoint-signed'))"
            ),
            {"since": since, "source": SOURCE},
        ).scalar()
    )
