"""The weighting schemes in force, and bringing a new version into force.

Each kind of scheme (probation, cafcass) has its own stream; until a
`weighting-scheme-changed` is recorded the domain default is in force
(`DEFAULT_SCHEMES`). `SchemesInForce` serves them from their streams, cached by
stream version, so every request sees the latest change and reads only the
events after the cached version (none, almost always). A practitioner's scheme
is the first whose grade table has their grade (`scheme_for_grade`), a case's
the Cafcass scheme that knows its case type, else probation's
(`scheme_for_case_type`); both are the domain's.

`SchemeChanges.change_scheme` records a new version, then re-weighs every open
case weighed under that kind, one `ReweighCase` (one append) per case whose
points may change, so capacities follow from the change's own events.
"""

import threading
from dataclasses import dataclass
from typing import Protocol

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Store, execute
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.store import ConcurrencyError

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

REWEIGH_ATTEMPTS = 3


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
        scheme, version = cached
        newer = self.store.read_stream(scheme_stream(kind), after_version=version)
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
        return latest

    def current(self) -> tuple[Scheme, ...]:
        return tuple(self.in_force(default.kind)[0] for default in self.defaults)


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
    """A scheme version recorded, and what re-weighing the open cases under it did."""

    kind: str
    scheme: Scheme
    cases_examined: int
    cases_reweighed: int
    cases_refused: list[str]


@dataclass(frozen=True)
class SchemeChanges:
    """The handler of `ChangeWeightingScheme`, and the re-weighing that follows it."""

    store: Store
    schemes: SchemeSource
    caseload: Caseload

    def change_scheme(self, command: ChangeWeightingScheme, metadata: Metadata) -> SchemeChanged:
        """Record a new version of the command's kind of scheme, then re-weigh the open cases.

        The version must be the one in force plus one (the default counts as in
        force before the stream's first event), else `StaleSchemeVersion`. A
        case the new version cannot weigh (a stage it dropped) is refused and
        keeps its points.
        """
        scheme = command.scheme
        in_force, _ = self.schemes.in_force(scheme.kind)
        if scheme.version != in_force.version + 1:
            raise StaleSchemeVersion(
                f"version {in_force.version} is in force; the next version is "
                f"{in_force.version + 1}",
                field="version",
            )
        execute(self.store, WEIGHTING_SCHEME, scheme_stream(scheme.kind), command, metadata)
        with self.caseload.reading() as conn:
            rows = all_open_cases(conn)
        examined = reweighed = 0
        refused: list[str] = []
        for row in rows:
            if not weighs(scheme, row.case_type) or not may_weigh_differently(
                in_force, scheme, row
            ):
                continue
            examined += 1
            try:
                reweighed += bool(self._reweigh(ReweighCase(row.case_id, scheme), metadata))
            except Refused:
                refused.append(row.case_id)
        return SchemeChanged(scheme.kind, scheme, examined, reweighed, refused)

    def _reweigh(self, command: ReweighCase, metadata: Metadata) -> list[RecordedEvent]:
        stream = case_stream(command.case_id)
        for _ in range(REWEIGH_ATTEMPTS - 1):
            try:
                return execute(self.store, CASE, stream, command, metadata)
            except ConcurrencyError:
                continue  # the case changed meanwhile: decide again on what it is now
        return execute(self.store, CASE, stream, command, metadata)
