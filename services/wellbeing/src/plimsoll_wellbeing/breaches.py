"""The breaches read model: one row per breach, fed from the service's own store by the kit's
`StoreFedReadModel` (name `wellbeing-breaches`: a read after an acknowledgement sees it).

A row keeps the columns queries filter on and `view`: the breach as opened, and its history
(every event about it, with when it was recorded and by whom). `view_as_of` replays that
history up to an instant, so an as-of read says what was known then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from plimsoll_events.readmodel import StoreEvent
from plimsoll_events.types.wellbeing import (
    BreachAcknowledged,
    BreachEscalated,
    BreachOpened,
    BreachRejudged,
    BreachResolved,
)
from pydantic_core import to_json
from sqlalchemy import Connection, text

NAME: Final = "wellbeing-breaches"
TYPES: Final = frozenset(
    m.type
    for m in (BreachOpened, BreachAcknowledged, BreachEscalated, BreachRejudged, BreachResolved)
)
SCHEMA: Final = """
create table if not exists duty_breaches (
    breach_id       text primary key,
    stream_id       text not null,
    rule            text not null,
    subject_kind    text not null,
    subject_id      text not null,
    practitioner_id text,
    team_id         text not null,
    region_id       text not null,
    status          text not null,
    acknowledged    boolean not null,
    level           text,
    acknowledge_by  date not null,
    escalate_by     date not null,
    opened_at       timestamptz not null,
    resolved_at     timestamptz,
    position        bigint not null,
    view            jsonb not null
);
create index if not exists duty_breaches_subject on duty_breaches (subject_id, opened_at);
create index if not exists duty_breaches_team on duty_breaches (team_id, opened_at);
create index if not exists duty_breaches_region on duty_breaches (region_id, opened_at);
create index if not exists duty_breaches_open on duty_breaches (acknowledge_by)
    where status = 'open' and not acknowledged;
"""
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-duty-breaches-ddl'))"
_COLUMNS: Final = (
    "stream_id", "rule", "subject_kind", "subject_id", "practitioner_id", "team_id", "region_id",
    "status", "acknowledged", "level", "acknowledge_by", "escalate_by", "opened_at",
    "resolved_at", "position", "view",
)  # fmt: skip
_TYPES: Final = (
    "text", "text", "text", "text", "text", "text", "text", "text", "boolean", "text", "date",
    "date", "timestamptz", "timestamptz", "bigint", "jsonb",
)  # fmt: skip


def _entry(event: StoreEvent) -> dict[str, Any]:
    data = event.data.model_dump(mode="json")
    for name in (
        "breach_id",
        "rule",
        "subject_kind",
        "subject_id",
        "practitioner_id",
        "team_id",
        "region_id",
    ):
        data.pop(name, None)
    return {
        "type": event.data.type,
        "at": event.recorded.recorded_at.isoformat(),
        "actor": event.recorded.metadata.actor,
        "data": data,
    }


class BreachesReadModel:
    """One row per breach (see the module)."""

    name = NAME

    def create(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql("drop table if exists duty_breaches")

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        ours = [e for e in events if e.data.type in TYPES]
        if not ours:
            return
        ids = sorted({e.data.breach_id for e in ours})  # type: ignore[attr-defined]
        rows = {
            row["breach_id"]: dict(row)
            for row in conn.execute(
                text("select * from duty_breaches where breach_id = any(:ids)"), {"ids": ids}
            ).mappings()
        }
        for event in ours:
            data = event.data
            entry = _entry(event)
            if isinstance(data, BreachOpened):
                rows[data.breach_id] = {
                    "breach_id": data.breach_id,
                    "stream_id": event.recorded.stream_id,
                    **{k: getattr(data, k) for k in _COLUMNS[1:7]},
                    "status": "open",
                    "acknowledged": False,
                    "level": None,
                    "acknowledge_by": data.acknowledge_by,
                    "escalate_by": data.escalate_by,
                    "opened_at": event.recorded.recorded_at,
                    "resolved_at": None,
                    "position": event.position,
                    "view": {"history": [entry]},
                }
                continue
            row = rows[data.breach_id]  # type: ignore[attr-defined]
            row["view"] = {"history": [*row["view"]["history"], entry]}
            if isinstance(data, BreachAcknowledged):
                row["acknowledged"] = True
            elif isinstance(data, BreachEscalated):
                row["level"] = data.level
            elif isinstance(data, BreachResolved):
                row["status"] = "resolved"
                row["resolved_at"] = event.recorded.recorded_at
        params: dict[str, list[Any]] = {f"c{i}": [] for i in range(len(_COLUMNS) + 1)}
        for breach in ids:
            row = rows[breach]
            params["c0"].append(breach)
            for i, column in enumerate(_COLUMNS, start=1):
                value = row[column]
                params[f"c{i}"].append(to_json(value).decode() if column == "view" else value)
        arrays = ", ".join(f"cast(:c{i} as {t}[])" for i, t in enumerate(("text", *_TYPES)))
        update = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)
        conn.execute(
            text(
                f"insert into duty_breaches select * from unnest({arrays}) "  # noqa: S608
                f"on conflict (breach_id) do update set {update}"
            ),
            params,
        )


def view_as_of(row: dict[str, Any], as_of: datetime | None) -> dict[str, Any] | None:
    """The breach as it stood at `as_of` (None: now), from its history; None if it was not
    opened yet then."""
    history = [
        entry
        for entry in row["view"]["history"]
        if as_of is None or datetime.fromisoformat(entry["at"]) <= as_of
    ]
    if not history:
        return None
    opened = history[0]
    view: dict[str, Any] = {
        "breach_id": row["breach_id"],
        "stream_id": row["stream_id"],
        **{k: row[k] for k in _COLUMNS[1:7]},
        "status": "open",
        "opened_at": opened["at"],
        **{
            k: opened["data"][k]
            for k in (
                "breached_since",
                "facts",
                "thresholds",
                "policy_version",
                "cause",
                "judged_at",
                "acknowledge_by",
                "escalate_by",
            )
        },
        "acknowledged": None,
        "escalations": [],
        "rejudgements": [],
        "resolution": None,
        "history": history,
    }
    for entry in history[1:]:
        data = entry["data"]
        if entry["type"] == BreachAcknowledged.type:
            view["acknowledged"] = {
                "by": data["acknowledged_by"],
                "at": entry["at"],
                "note": data["note"],
            }
        elif entry["type"] == BreachEscalated.type:
            view["escalations"].append({**data, "at": entry["at"]})
        elif entry["type"] == BreachRejudged.type:
            view["rejudgements"].append({**data, "at": entry["at"]})
            view["policy_version"] = data["policy_version"]
        elif entry["type"] == BreachResolved.type:
            view["status"] = "resolved"
            view["resolution"] = {**data, "at": entry["at"]}
    view["level"] = view["escalations"][-1]["level"] if view["escalations"] else None
    return view
