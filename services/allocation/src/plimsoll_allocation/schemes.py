"""The weighting schemes in force, and bringing a new version into force.

Each kind of scheme (probation, cafcass) has its own stream; until a
`weighting-scheme-changed` is recorded the domain default is in force
(`DEFAULT_SCHEMES`). `SchemesInForce` serves them from their streams, cached by
stream version, so every request sees the latest change: it reads the
streams (a handful of events, none almost always) in one query and folds
only what is newer than the cache. A practitioner's scheme
is the first whose grade table has their grade (`scheme_for_grade`), a case's
the Cafcass scheme that knows its case type, else probation's
(`scheme_for_case_type`); both are the domain's.

Re-weighing is a process manager driven by the log (`Reweighing`, the kit's
`StoreFedReadModel` named `allocation-scheme-reweighing`, following
`weighting-scheme-changed` only): for each change it sends `ReweighCase` under
the scheme of that kind in force to every open case the change may weigh
otherwise (one append each, retried on a concurrency conflict; a case that
keeps changing makes the whole change be retried later), records what it did
(`scheme_reweighings`: cases examined, re-weighed, refused) and moves its
checkpoint in that same transaction. Stopped halfway (a crash), it starts the
change again after a restart: the cases done already record nothing
(`ReweighCase` records nothing when the points match), the rest are done. So
capacities follow from the change's own events, and every change finishes.

`SchemeChanges.change_scheme` (`PUT /weighting-schemes/{kind}`) records the
new version and then drives the same catch-up in the request, so it answers
once the re-weighing is done, with what it did: the synchronous answer
clients had, with nothing left half done by a crash (the background thread in
`Processors` finishes it after a restart). Sending the version in force again
with the same content records nothing and answers the same way (after
finishing any re-weighing a crash left), not as a stale version: a client
whose answer was lost may simply retry.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Store, execute
from plimsoll_events.readmodel import StoreEvent, StoreFedReadModel, StoreReader
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.store import ConcurrencyError
from plimsoll_events.types.allocation import WeightingSchemeChanged
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, text

from plimsoll_allocation.contention import StillChanging, decided
from plimsoll_allocation.domain import (
    CASE,
    DEFAULT_SCHEMES,
    WEIGHTING_SCHEME,
    CaseProfile,
    ChangeWeightingScheme,
    NotFound,
    Refused,
    ReweighCase,
    Scheme,
    StaleSchemeVersion,
    case_points,
    case_stream,
    scheme_stream,
)
from plimsoll_allocation.domain.weighting import COURT_REPORT_CASE_TYPES, PROBATION_CASE_TYPES
from plimsoll_allocation.projections import Caseload
from plimsoll_allocation.queries import CaseRow, all_open_cases

REWEIGHING: Final = "allocation-scheme-reweighing"


class SchemeSource(Protocol):
    """Where the application finds the weighting schemes in force."""

    def current(self) -> tuple[Scheme, ...]: ...

    def in_force(self, kind: str) -> tuple[Scheme, int]: ...


@dataclass(frozen=True)
class FixedSchemes:
    """Schemes that never change (the domain's defaults): for tests and tools."""

    schemes: tuple[Scheme, ...] = DEFAULT_SCHEMES

    def current(self) -> tuple[Scheme, ...]:
        return self.schemes

    def in_force(self, kind: str) -> tuple[Scheme, int]:
        for scheme in self.schemes:
            if scheme.kind == kind:
                return scheme, 0
        raise NotFound(f"no weighting scheme kind {kind!r}", field="kind")


class SchemesInForce:
    """The scheme of each kind in force, from its stream; the default until one is recorded."""

    def __init__(self, store: Store, defaults: tuple[Scheme, ...] = DEFAULT_SCHEMES) -> None:
        self.store = store
        self.defaults = defaults
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Scheme, int]] = {s.kind: (s, 0) for s in defaults}

    def in_force(self, kind: str) -> tuple[Scheme, int]:
        """The scheme of a kind in force and its stream's version (0: the default)."""
        with self._lock:
            cached = self._cache.get(kind)
        if cached is None:
            known = ", ".join(sorted(self._cache))
            raise NotFound(f"no weighting scheme kind {kind!r}; one of {known}", field="kind")
        newer = self.store.read_stream(scheme_stream(kind), after_version=cached[1])
        return self._brought_into_force(kind, newer)

    def current(self) -> tuple[Scheme, ...]:
        """The scheme of every kind in force, their streams read in one query."""
        kinds = [default.kind for default in self.defaults]
        streams = self.store.read_streams([scheme_stream(kind) for kind in kinds])
        return tuple(
            self._brought_into_force(kind, streams[scheme_stream(kind)])[0] for kind in kinds
        )

    def _brought_into_force(self, kind: str, events: Sequence[RecordedEvent]) -> tuple[Scheme, int]:
        """The cache of ``kind`` moved on by whichever of its stream's ``events`` are newer."""
        with self._lock:
            scheme, version = self._cache[kind]
        newer = [e for e in events if e.stream_version > version]
        if not newer:
            return scheme, version
        state = WEIGHTING_SCHEME.fold(
            (CATALOGUE.decode(e.type, e.version, e.data) for e in newer), scheme
        )
        assert state is not None  # a stream's events only ever bring a scheme into force
        latest = (state, newer[-1].stream_version)
        with self._lock:
            if latest[1] > self._cache[kind][1]:
                self._cache[kind] = latest
            return self._cache[kind]


def weighs(scheme: Scheme, case_type: str) -> bool:
    """Whether cases of a type are weighed under schemes of this scheme's kind."""
    is_probation = case_type in PROBATION_CASE_TYPES or case_type in COURT_REPORT_CASE_TYPES
    return is_probation == (scheme.kind == "probation")


def may_weigh_differently(previous: Scheme, scheme: Scheme, row: CaseRow) -> bool:
    """Whether the new version may weigh a read-model case otherwise than its points say.

    The read model does not hold the T2A flag, so a tiered probation case is
    taken as whichever of T2A or not the previous version gives its points; a
    case neither explains (weighed under an older version) is a candidate too.
    `ReweighCase` decides exactly; this only spares appends that change nothing.
    """
    variants = [CaseProfile(row.case_type, row.tier, False, row.stage)]
    if row.case_type in PROBATION_CASE_TYPES and row.tier is not None:
        variants.append(CaseProfile(row.case_type, row.tier, True, row.stage))
    explained = False
    for profile in variants:
        try:
            if case_points(previous, profile) != row.points:
                continue
            explained = True
            if case_points(scheme, profile) != row.points:
                return True
        except Refused:
            return True
    return not explained


@dataclass(frozen=True)
class SchemeChanged:
    """A scheme version in force, and what re-weighing the open cases under it did."""

    kind: str
    scheme: Scheme
    cases_examined: int
    cases_reweighed: int
    cases_refused: list[str]
    recorded: bool = True
    """False: this version was in force already (a retry), nothing new was recorded."""


_SCHEMA: Final = """
create table if not exists scheme_reweighings (
    position        bigint primary key,  -- of the weighting-scheme-changed
    kind            text not null,
    version         integer not null,
    cases_examined  integer not null,
    cases_reweighed integer not null,
    cases_refused   jsonb not null,
    finished_at     timestamptz not null default now()
);
"""


class ReweighingModel:
    """The re-weighing process manager as the kit's `StoreReadModel` (see the module)."""

    name = REWEIGHING

    def __init__(self, store: Store, schemes: SchemeSource, caseload: Caseload) -> None:
        self.store = store
        self.schemes = schemes
        self.caseload = caseload

    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(_SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.exec_driver_sql("drop table if exists scheme_reweighings")

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        for event in events:
            assert isinstance(event.data, WeightingSchemeChanged)  # the only type followed
            done = self.reweigh(event.recorded, event.data)
            conn.execute(
                text(
                    "insert into scheme_reweighings values (:position, :kind, :version, "
                    ":examined, :reweighed, cast(:refused as jsonb)) on conflict do nothing"
                ),
                {
                    "position": event.position,
                    "kind": done.kind,
                    "version": done.scheme.version,
                    "examined": done.cases_examined,
                    "reweighed": done.cases_reweighed,
                    "refused": to_json(done.cases_refused).decode(),
                },
            )

    def reweigh(self, recorded: RecordedEvent, change: WeightingSchemeChanged) -> SchemeChanged:
        """Send `ReweighCase` under the scheme in force to every open case of the change's
        kind that it may weigh otherwise than its points say."""
        kind = change.scheme.kind
        scheme, _ = self.schemes.in_force(kind)
        previous = self._before(recorded, kind)
        metadata = Metadata(
            actor=recorded.metadata.actor,
            correlation_id=recorded.metadata.correlation_id,
            causation_id=recorded.event_id,
            traceparent=recorded.metadata.traceparent,
        )
        with self.caseload.reading() as conn:
            rows = all_open_cases(conn)
        examined = reweighed = 0
        refused: list[str] = []
        for row in rows:
            if not weighs(scheme, row.case_type) or not may_weigh_differently(
                previous, scheme, row
            ):
                continue
            examined += 1
            try:
                reweighed += bool(self._reweigh(ReweighCase(row.case_id, scheme), metadata))
            except Refused:
                refused.append(row.case_id)
        return SchemeChanged(kind, scheme, examined, reweighed, refused)

    def _before(self, recorded: RecordedEvent, kind: str) -> Scheme:
        """The scheme of this kind in force before this change."""
        earlier = [
            CATALOGUE.decode(e.type, e.version, e.data)
            for e in self.store.read_stream(recorded.stream_id)
            if e.stream_version < recorded.stream_version
        ]
        default = next(s for s in DEFAULT_SCHEMES if s.kind == kind)
        return WEIGHTING_SCHEME.fold(earlier) or default

    def _reweigh(self, command: ReweighCase, metadata: Metadata) -> list[RecordedEvent]:
        stream = case_stream(command.case_id)
        # The case changed meanwhile: decide again on what it is now.
        return decided(lambda: execute(self.store, CASE, stream, command, metadata))


class Reweighing:
    """The re-weighing process manager (see the module), and what each change did."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        reader: StoreReader,
        schemes: SchemeSource,
        caseload: Caseload,
    ) -> None:
        self.engine = engine
        self.model = StoreFedReadModel(
            engine,
            reader,
            ReweighingModel(store, schemes, caseload),
            types={WeightingSchemeChanged.type},
        )

    def catch_up(self) -> int:
        """Finish every change recorded so far (waiting for a replica doing it)."""
        with self.engine.connect() as conn:
            position = self.model.catch_up(conn)
            conn.commit()
        return position

    def done(self, position: int) -> tuple[int, int, list[str], datetime] | None:
        """What re-weighing after the change at `position` did; None until it finished."""
        self.model.create_schema()
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "select cases_examined, cases_reweighed, cases_refused, finished_at "
                    "from scheme_reweighings where position = :position"
                ),
                {"position": position},
            ).one_or_none()
        return None if row is None else (row[0], row[1], list(row[2]), row[3])


@dataclass(frozen=True)
class SchemeChanges:
    """The handler of `ChangeWeightingScheme`, and the re-weighing that follows it."""

    store: Store
    schemes: SchemeSource
    reweighing: Reweighing

    def change_scheme(self, command: ChangeWeightingScheme, metadata: Metadata) -> SchemeChanged:
        """Record a new version of the command's kind of scheme, then see the open cases
        re-weighed under it (see the module).

        The version must be the one in force plus one (the default counts as in force
        before the stream's first event), else `StaleSchemeVersion`; the version in
        force with the same content is a retry, recorded already. A case the new
        version cannot weigh (a stage it dropped) is refused and keeps its points.
        """
        scheme = command.scheme
        in_force, _ = self.schemes.in_force(scheme.kind)
        retry = scheme == in_force
        if not retry and scheme.version != in_force.version + 1:
            same = scheme.version == in_force.version
            raise StaleSchemeVersion(
                f"version {in_force.version} is in force"
                + (" with other content" if same else "")
                + f"; the next version is {in_force.version + 1}",
                field="version",
            )
        if not retry:
            execute(self.store, WEIGHTING_SCHEME, scheme_stream(scheme.kind), command, metadata)
        try:
            self.reweighing.catch_up()
        except StillChanging as busy:
            # Recorded; the background thread finishes the re-weighing. Sending the same
            # change again answers once it has.
            raise ConcurrencyError(scheme_stream(scheme.kind), in_force.version) from busy
        position = self._position_of(scheme)
        done = None if position is None else self.reweighing.done(position)
        if done is None:  # the default in force, never recorded: nothing was re-weighed
            return SchemeChanged(scheme.kind, scheme, 0, 0, [], recorded=not retry)
        examined, reweighed, refused, _ = done
        return SchemeChanged(scheme.kind, scheme, examined, reweighed, refused, not retry)

    def _position_of(self, scheme: Scheme) -> int | None:
        """The position of the `weighting-scheme-changed` that brought this version in."""
        for recorded in reversed(self.store.read_stream(scheme_stream(scheme.kind))):
            data = CATALOGUE.decode(recorded.type, recorded.version, recorded.data)
            if isinstance(data, WeightingSchemeChanged) and data.scheme.version == scheme.version:
                return recorded.position
        return None
