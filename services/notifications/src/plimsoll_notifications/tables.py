"""The process manager's own tables: what was decided, and what is being delivered.

* `notification_intents`: one row per audience member (a relationship: the line manager of
  P-0001, the partners' subscription WH-1) and step, keyed by the dedupe key. Written by the
  Kafka-fed decisions projection in the runner's transaction, with its checkpoint: a decision
  exists exactly when the event it was taken on is checkpointed, whatever Kafka redelivers.
* `notification_jobs`: one row per notification (one person, or one partner, and one step),
  keyed by the notification id, itself derived from the step and the recipient: two intents
  that reach the same person for the same step make one notification. What is left to deliver,
  when, on which lane (people, or each partner's own), the lease of whoever is at it, and the
  notification stream's version after the dispatcher's last append to it.
* `notification_digest_items` and `notification_digests`: what ops have to be told, and what
  each ops person's last digest covered.
* `webhook_secrets`: each subscription's signing secret (never in an event).
* `notification_consents`: union representatives a practitioner consented to (Kafka-fed).
* `notification_stream_tickets`: short-lived tickets that open one person's live inbox stream
  (a browser's `EventSource` cannot send a bearer token); only their hashes are kept.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Final

SCHEMA: Final = """
create table if not exists notification_intents (
    dedupe_key      text primary key,
    seq             bigserial,
    rule            text not null,
    rules_version   integer not null,
    step            text not null,
    who             text not null,
    addressee       text not null,
    channels        text[] not null,
    urgent          boolean not null,
    acknowledge_within_hours integer,
    escalate_to     text,
    identifiers     jsonb not null,
    title           text not null,
    practitioner_id text,
    causes          jsonb not null,
    decided_at      timestamptz not null default now(),
    resolved        boolean not null default false
);
create index if not exists notification_intents_pending
    on notification_intents (seq) where not resolved;
create table if not exists notification_jobs (
    notification_id  text primary key,
    dedupe_key       text not null references notification_intents (dedupe_key),
    recipient        text not null,
    lane             text not null,
    email            text,
    url              text,
    problem          text,
    channels_pending text[] not null,
    round            integer not null default 0,
    attempt          integer not null default 0,
    done             boolean not null default false,
    next_attempt_at  timestamptz not null,
    leased_until     timestamptz,
    claims           integer not null default 0,
    stream_version   integer not null default 0
);
alter table notification_jobs add column if not exists stream_version integer not null default 0;
create index if not exists notification_jobs_due
    on notification_jobs (lane, next_attempt_at) where not done;
create table if not exists notification_digest_items (
    seq         bigserial primary key,
    dedupe_key  text not null unique,
    title       text not null,
    identifiers jsonb not null,
    causes      jsonb not null
);
create table if not exists notification_digests (
    username text primary key,
    last_seq bigint not null
);
create table if not exists webhook_secrets (
    subscription_id text primary key,
    secret          text not null
);
create table if not exists notification_stream_tickets (
    ticket_hash text primary key,
    recipient   text not null,
    expires_at  timestamptz not null
);
"""
DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-notifications-ddl'))"

CONSENTS: Final = """
create table if not exists notification_consents (
    practitioner_id text not null,
    representative  text not null,
    primary key (practitioner_id, representative)
);
"""


def as_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one array per column, for an insert from `unnest` (a row's parameters bound one
    by one cost more than deciding it); `channels` joined by commas, since an array of arrays
    would not unnest row by row."""
    columns = {k: [row[k] for row in rows] for k in rows[0]}
    columns["channels"] = [",".join(c) for c in columns["channels"]]
    return columns
