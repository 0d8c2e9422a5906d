"""Checkpoints: signed when the log has grown (not for our own checkpoint-signed events
alone), the same one while nothing changes, a new one under a rotated key, and never over a
log rewritten underneath (a rewritten past stops the signing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from plimsoll_audit.checkpoints import Checkpointer, InconsistentLog
from plimsoll_audit.keys import Keys
from plimsoll_audit.log import store
from plimsoll_audit.log.checkpoint import open_checkpoint
from plimsoll_audit.log.leaves import to_leaf
from plimsoll_audit.log.merkle import fold
from plimsoll_audit.log.note import Signer
from plimsoll_platform.clock import FixedClock
from sqlalchemy import text

from .conftest import ORIGIN, cloudevent, leaves

CLOCK = FixedClock(datetime(2025, 3, 3, 12, tzinfo=UTC))


def checkpointer(engine, signer: Signer) -> Checkpointer:
    return Checkpointer(engine, None, Keys(signer, (), development=False), ORIGIN, CLOCK)


def test_signed_when_grown_and_not_for_our_own_checkpoint_events(app_engine):
    signer = Signer.generate(ORIGIN)
    signing = checkpointer(app_engine, signer)
    with app_engine.begin() as conn:
        store.append(conn, leaves(10))
    first = signing.sign(only_if_grown=True)
    assert open_checkpoint(first.note, [signer.verifier], ORIGIN).size == 10
    assert signing.sign() == first  # nothing new: the same checkpoint
    with app_engine.begin() as conn:
        store.append(conn, leaves(2, start=10, source="/plimsoll/audit", kind="checkpoint-signed"))
    assert signing.sign(only_if_grown=True) == first  # only our own checkpoint events
    assert signing.sign().checkpoint.size == 12  # on demand it covers them
    with app_engine.begin() as conn:
        store.append(conn, leaves(1, start=12))
    assert signing.sign(only_if_grown=True).checkpoint.size == 13


def test_a_rotated_key_signs_anew_at_the_same_size(app_engine):
    old, new = Signer.generate(ORIGIN), Signer.generate(ORIGIN)
    with app_engine.begin() as conn:
        store.append(conn, leaves(5))
    before = checkpointer(app_engine, old).sign()
    after = checkpointer(app_engine, new).sign()
    assert after.checkpoint == before.checkpoint
    open_checkpoint(after.note, [new.verifier], ORIGIN)
    with pytest.raises(ValueError, match="no signature by a trusted key"):
        open_checkpoint(after.note, [old.verifier], ORIGIN)


def test_a_log_rewritten_underneath_is_never_signed_over(app_engine, owner_engine):
    signer = Signer.generate(ORIGIN)
    signing = checkpointer(app_engine, signer)
    with app_engine.begin() as conn:
        store.append(conn, leaves(300))
    signing.sign()
    # Whoever runs the database rewrites entry 3 and every hash above it, consistently.
    forged = to_leaf(cloudevent(3, data={"practitioner_id": "P-0001", "minutes": 1}))
    with app_engine.connect() as conn:
        tile = list(store.StoredHashes(conn).read(0, 0, 256))
    tile[3] = forged.hash
    with owner_engine.begin() as conn:
        for table in ("log_entries", "log_tiles", "log_nodes"):
            conn.execute(text(f"alter table {table} disable trigger user"))
        conn.execute(
            text("update log_entries set leaf = :l, leaf_hash = :h where idx = 3"),
            {"l": forged.leaf, "h": forged.hash},
        )
        conn.execute(
            text("update log_tiles set hashes = :t where level = 0 and idx = 0"),
            {"t": b"".join(tile)},
        )
        conn.execute(
            text("update log_nodes set hash = :h where level = 1 and idx = 0"), {"h": fold(tile)}
        )
        for table in ("log_entries", "log_tiles", "log_nodes"):
            conn.execute(text(f"alter table {table} enable trigger user"))
    with app_engine.begin() as conn:
        store.append(conn, leaves(300, start=300))
    with pytest.raises(InconsistentLog, match="does not extend the checkpoint of 300"):
        signing.sign()
