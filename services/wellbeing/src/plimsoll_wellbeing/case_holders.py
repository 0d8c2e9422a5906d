"""Who carries which case now: a Kafka-fed read model of the allocation service's topic.

`case-allocated`, `case-reallocated` and `case-closed`, one row per case. One case's events
are keyed by different practitioners (whoever carries it) and so may arrive out of order
across partitions: each row keeps the allocation store position of the fact it shows, and an
older fact never overwrites a newer one. A redelivery or a rebuild gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from plimsoll_events.catalogue import topic_for
from plimsoll_events.projection import Delivered
from plimsoll_events.types.allocation import CaseAllocated, CaseClosed, CaseReallocated
from sqlalchemy import Connection, text

CASE_HOLDERS_SCHEMA: Final = """
create table if not exists wellbeing_case_holders (
    case_id         text primary key,
    practitioner_id text,
    open            boolean not null,
    position        bigint not null
);
create index if not exists wellbeing_case_holders_practitioner
    on wellbeing_case_holders (practitioner_id) where open;
"""
_HOLDERS_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-case-holders-ddl'))"
_CASE_EVENTS: Final = frozenset({CaseAllocated.type, CaseReallocated.type, CaseClosed.type})


class CaseHoldersProjection:
    """Who carries which open case, from the allocation service's topic (see the module)."""

    def __init__(self, service: str = "wellbeing", *, topic: str | None = None) -> None:
        self.name = f"{service}-case-holders"
        self.topics: Sequence[str] = [topic or topic_for("allocation")]

    def create(self, conn: Connection) -> None:
        conn.execute(text(_HOLDERS_DDL_LOCK))
        conn.exec_driver_sql(CASE_HOLDERS_SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_HOLDERS_DDL_LOCK))
        conn.exec_driver_sql("drop table if exists wellbeing_case_holders")

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        latest: dict[str, tuple[int, str | None, bool]] = {}
        for event in events:
            if event.type not in _CASE_EVENTS:
                continue
            data = event.data
            holder: str | None = data.practitioner_id  # type: ignore[attr-defined]
            fact = (event.position, holder, not isinstance(data, CaseClosed))
            case_id: str = data.case_id  # type: ignore[attr-defined]
            if case_id not in latest or latest[case_id][0] < event.position:
                latest[case_id] = fact
        if not latest:
            return
        ids = sorted(latest)
        conn.execute(
            text(
                "insert into wellbeing_case_holders as h "
                "select * from unnest(cast(:ids as text[]), cast(:holders as text[]), "
                "cast(:open as boolean[]), cast(:positions as bigint[])) "
                "on conflict (case_id) do update set practitioner_id = excluded.practitioner_id, "
                "open = excluded.open, position = excluded.position "
                "where h.position < excluded.position"
            ),
            {
                "ids": ids,
                "holders": [latest[i][1] for i in ids],
                "open": [latest[i][2] for i in ids],
                "positions": [latest[i][0] for i in ids],
            },
        )
