"""The log's tables, created by the database owner; the application role may only read and add.

Three tables, append-only twice over: a statement trigger refuses UPDATE, DELETE
and TRUNCATE (whoever asks), and the application role is granted SELECT and
INSERT only. The owner could still drop a trigger or a table: that is what the
signed checkpoints are for; a rewritten log no longer matches them.

* `log_entries`: one row per leaf, `idx` its place in the log (dense from 0);
  `leaf` the canonical bytes, `leaf_hash` their RFC 6962 leaf hash; (event_id,
  source) is unique, so an event enters once however often Kafka delivers it.
* `log_nodes`: the hash of every complete subtree of 256^level leaves (level >= 1),
  i.e. every hash of the C2SP tiles above level 0, written once when it completes.
* `log_tiles`: every full C2SP tile (256 hashes of one level) as one row, written
  when it completes: a proof reads a handful of rows, even at ten million leaves.
* `log_checkpoints`: every signed checkpoint, in the order signed.
"""

from __future__ import annotations

from typing import Final

from psycopg import sql
from sqlalchemy import Connection, text

APPEND_ONLY_TABLES: Final = ("log_entries", "log_nodes", "log_tiles", "log_checkpoints")

TABLES = """
create table if not exists log_entries (
    idx        bigint primary key,
    source     text not null,
    event_id   text not null,
    type       text not null,
    subject    text,
    event_time timestamptz not null,
    leaf       bytea not null,
    leaf_hash  bytea not null,
    unique (event_id, source)
);
create index if not exists log_entries_subject on log_entries (subject, event_time);
-- Only policies are looked up by type across everyone (a few rows): a partial index
-- keeps the cost of every other insert down.
drop index if exists log_entries_type;
create index if not exists log_entries_policies on log_entries (type, event_time)
    where type >= 'policy-' and type < 'policy.';
create table if not exists log_nodes (
    level smallint not null,
    idx   bigint not null,
    hash  bytea not null,
    primary key (level, idx)
);
create table if not exists log_tiles (
    level  smallint not null,
    idx    bigint not null,
    hashes bytea not null,
    primary key (level, idx)
);
create table if not exists log_checkpoints (
    id        bigint generated always as identity primary key,
    size      bigint not null,
    root      bytea not null,
    note      text not null,
    signed_at timestamptz not null
);
create table if not exists checkpoint_dev_key (
    name       text primary key,
    signer     text not null,
    created_at timestamptz not null default now()
);
create or replace function audit_log_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'the audit log is append-only: % on % refused', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end
$$;
"""

_TRIGGER = (
    "create or replace trigger {trigger} before update or delete or truncate "
    "on {table} for each statement execute function audit_log_refuse_change()"
)
_LOCK = "select pg_advisory_xact_lock(hashtext('plimsoll-audit-schema'))"


class MissingRole(RuntimeError):
    """The application role the service is to run as does not exist."""


def create(conn: Connection, app_role: str) -> None:
    """As the owner: the tables, their triggers, and the application role's grants.

    The application role gets SELECT and INSERT on the log, nothing on the dev key,
    and USAGE and CREATE on the schema for the kit's own tables (event store,
    projection checkpoints, scheduled jobs), which it owns and the log does not need.
    """
    conn.execute(text(_LOCK))
    exists = conn.execute(text("select 1 from pg_roles where rolname = :r"), {"r": app_role})
    if exists.first() is None:
        raise MissingRole(
            f"role {app_role!r} does not exist: create it (login, no privileges) for the audit "
            "service to run as, or set PLIMSOLL_APP_ROLE"
        )
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute(TABLES)  # psycopg's own: no parameters, so the '%' of RAISE stays as written
    role = sql.Identifier(app_role)
    for table in APPEND_ONLY_TABLES:
        ident = sql.Identifier(table)
        trigger = sql.Identifier(f"{table}_append_only")
        raw.execute(sql.SQL(_TRIGGER).format(trigger=trigger, table=ident))
        raw.execute(sql.SQL("revoke all on {} from public").format(ident))
        raw.execute(sql.SQL("revoke update, delete, truncate on {} from {}").format(ident, role))
        raw.execute(sql.SQL("grant select, insert on {} to {}").format(ident, role))
    raw.execute(sql.SQL("revoke all on checkpoint_dev_key from public, {}").format(role))
    raw.execute(sql.SQL("grant usage on sequence log_checkpoints_id_seq to {}").format(role))
    raw.execute(sql.SQL("grant usage, create on schema public to {}").format(role))


def check(conn: Connection) -> None:
    """Fail clearly when the owner has not created the log's tables (run as the app role)."""
    missing = [
        table
        for table in APPEND_ONLY_TABLES
        if conn.execute(text("select to_regclass(:t)"), {"t": table}).scalar() is None
    ]
    if missing:
        raise RuntimeError(f"the audit log's tables are missing ({', '.join(missing)})")
