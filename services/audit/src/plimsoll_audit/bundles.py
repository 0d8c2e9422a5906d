"""Evidence bundles: a practitioner's events over a period, proved against signed checkpoints.

`Bundles.export` decides whether the caller may have the bundle (`access`), signs
a checkpoint of the whole log (so every entry so far is covered), then collects,
in one read-only snapshot of the log:

* the practitioner's events recorded in the period (UK days), the policy events
  recorded up to its end (the versions in force), and the practitioner's union
  consents up to its end;
* one inclusion proof per entry against that checkpoint;
* earlier checkpoints (the first signed after each month of the period began, at
  most 13) and a consistency proof from each to the next, to show the log only
  grew in between.

It signs the manifest (see `verify.bundle`), keeps the file in `exported_bundles`
for download, and records `bundle-exported`; a refusal is recorded as
`bundle-refused` and answered 403.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID, uuid4

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.records import Metadata
from plimsoll_events.refusals import InvalidValue, NotFound, OutsideScope
from plimsoll_events.store import EventStore
from plimsoll_events.types.audit import BundleExported, BundleRefused
from plimsoll_platform.auth import Principal
from plimsoll_platform.clock import UK, Clock
from sqlalchemy import Connection, Engine, text

from plimsoll_audit import access, checkpoints
from plimsoll_audit.checkpoints import Checkpointer, Signed
from plimsoll_audit.keys import Keys
from plimsoll_audit.log import store
from plimsoll_audit.verify.bundle import FORMAT, digest, encode, manifest_text
from plimsoll_audit.verify.replay import CONSENT_PREFIX

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists exported_bundles (
    bundle_id       text primary key,
    practitioner_id text not null,
    exported_by     text not null,
    exported_at     timestamptz not null,
    sha256          text not null,
    data            bytea not null
)
"""
MAX_CHECKPOINTS = 13


@dataclass(frozen=True)
class Exported:
    bundle_id: str
    practitioner_id: str
    period_start: date
    period_end: date
    events: int
    tree_size: int
    sha256: str
    data: bytes


class Bundles:
    def __init__(
        self,
        engine: Engine,
        events: EventStore | None,
        checkpointer: Checkpointer,
        keys: Keys,
        clock: Clock,
        *,
        max_days: int = 3 * 366,
    ) -> None:
        self.engine = engine
        self.events = events
        self.checkpointer = checkpointer
        self.keys = keys
        self.clock = clock
        self.max_days = max_days

    def start(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("select pg_advisory_xact_lock(hashtext('plimsoll-audit-bundles'))"))
            conn.exec_driver_sql(SCHEMA)

    def stop(self) -> None:
        pass

    def export(self, caller: Principal, practitioner_id: str, start: date, end: date) -> Exported:
        if end < start:
            raise InvalidValue("the period ends before it starts", field="period_end")
        if (end - start).days >= self.max_days:
            raise InvalidValue(f"a bundle covers at most {self.max_days} days", field="period_end")
        actor = caller.username or caller.subject
        with self.engine.connect() as conn:
            decision = access.basis_for(conn, caller, practitioner_id)
        if isinstance(decision, access.Refusal):
            log.warning(
                "bundle refused",
                extra={
                    "practitioner_id": practitioner_id,
                    "requested_by": actor,
                    "reason": decision.reason,
                },
            )
            self._record(
                BundleRefused(
                    practitioner_id=practitioner_id,
                    requested_by=actor,
                    roles=sorted(caller.roles),
                    reason=decision.reason,
                )
            )
            raise OutsideScope(decision.reason, field="practitioner_id")
        final = self.checkpointer.sign()
        exported_at = self.clock.now()
        bundle_id = str(uuid4())
        with self.engine.connect() as conn:
            conn.exec_driver_sql("set transaction isolation level repeatable read read only")
            content = self._content(conn, final, practitioner_id, start, end)
        content.update(
            bundle_id=bundle_id,
            exported_at=exported_at.isoformat(),
            exported_by=actor,
            basis=decision.name,
            consent_event_id=decision.consent_event_id,
        )
        manifest = self.keys.signer.sign_note(
            manifest_text(content["origin"], bundle_id, digest(content))
        )
        data = encode(content, manifest)
        sha = hashlib.sha256(data).hexdigest()
        exported = Exported(
            bundle_id,
            practitioner_id,
            start,
            end,
            len(content["entries"]),
            final.checkpoint.size,
            sha,
            data,
        )
        with self.engine.begin() as conn:
            conn.execute(
                text("insert into exported_bundles values (:id, :p, :by, :at, :sha, :data)"),
                {
                    "id": bundle_id,
                    "p": practitioner_id,
                    "by": actor,
                    "at": exported_at,
                    "sha": sha,
                    "data": data,
                },
            )
        self._record(
            BundleExported(
                practitioner_id=practitioner_id,
                bundle_id=bundle_id,
                period_start=start,
                period_end=end,
                exported_by=actor,
                basis=decision.name,
                consent_event_id=decision.consent_event_id,
                events=exported.events,
                tree_size=exported.tree_size,
                bundle_sha256=sha,
            )
        )
        return exported

    def _content(
        self, conn: Connection, final: Signed, practitioner_id: str, start: date, end: date
    ) -> dict[str, Any]:
        size = final.checkpoint.size
        since = datetime.combine(start, time(), tzinfo=UK)
        until = datetime.combine(end + timedelta(days=1), time(), tzinfo=UK)
        # Three index scans (subject, then type ranges), not one OR that would scan the log.
        rows = conn.execute(
            text(
                "select idx, leaf from log_entries where subject = :p and event_time >= :since "
                "and event_time < :until and idx < :size "
                # The literal range is the partial index's own predicate (schema).
                "union select idx, leaf from log_entries where type >= 'policy-' "
                "and type < 'policy.' and event_time < :until and idx < :size "
                "union select idx, leaf from log_entries where subject = :p and type >= :consent "
                "and type < :consent_end and event_time < :until and idx < :size order by idx"
            ),
            {
                "size": size,
                "p": practitioner_id,
                "since": since,
                "until": until,
                "consent": CONSENT_PREFIX,
                "consent_end": _after(CONSENT_PREFIX),
            },
        ).all()
        tree = store.tree(conn, size)
        reader = tree.reader
        assert isinstance(reader, store.StoredHashes)
        reader.prefetch(0, [idx // 256 for idx, _ in rows])
        entries = [
            {
                "index": idx,
                "leaf": _b64(bytes(leaf)),
                "inclusion": [_b64(h) for h in tree.inclusion(idx)],
            }
            for idx, leaf in rows
        ]
        chain = self._checkpoint_chain(conn, final, start, end)
        consistency = [
            {
                "first": a.checkpoint.size,
                "second": b.checkpoint.size,
                "hashes": [
                    _b64(h)
                    for h in store.tree(conn, b.checkpoint.size).consistency(a.checkpoint.size)
                ],
            }
            for a, b in pairwise(chain)
        ]
        return {
            "format": FORMAT,
            "practitioner_id": practitioner_id,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "origin": final.checkpoint.origin,
            "verifier_keys": [str(v) for v in self.keys.published],
            "checkpoints": [{"note": s.note, "signed_at": s.signed_at.isoformat()} for s in chain],
            "consistency": consistency,
            "entries": entries,
        }

    @staticmethod
    def _checkpoint_chain(conn: Connection, final: Signed, start: date, end: date) -> list[Signed]:
        """The first checkpoint signed after each month of the period began, then `final`."""
        chain: dict[int, Signed] = {}
        month = start.replace(day=1)
        while month <= end and len(chain) < MAX_CHECKPOINTS - 1:
            signed = checkpoints.first_signed_after(
                conn, datetime.combine(month, time(), tzinfo=UK)
            )
            if signed is not None and signed.checkpoint.size < final.checkpoint.size:
                chain.setdefault(signed.checkpoint.size, signed)
            month = (month + timedelta(days=32)).replace(day=1)
        chain[final.checkpoint.size] = final
        return [chain[size] for size in sorted(chain)]

    def download(self, caller: Principal, bundle_id: str) -> bytes:
        """The exported file, for whoever exported it or an auditor or admin."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "select practitioner_id, exported_by, data from exported_bundles "
                    "where bundle_id = :id"
                ),
                {"id": bundle_id},
            ).first()
        actor = caller.username or caller.subject
        if row is None or not (row[1] == actor or caller.has_any("auditor", "admin")):
            raise NotFound(f"no bundle {bundle_id} of yours")
        return bytes(row[2])

    def _record(self, data: EventData) -> None:
        if self.events is None:
            return
        actor = getattr(data, "exported_by", None) or getattr(data, "requested_by", None)
        metadata = Metadata(actor=str(actor or "system:audit"), correlation_id=uuid4())
        event = CATALOGUE.new_event(data, metadata)
        self.events.append(f"{data.type}-{UUID(int=uuid4().int).hex[:12]}", 0, [event])


def _after(prefix: str) -> str:
    """The first string after every string starting with `prefix` (a range for an index)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
