"""Importing a practitioner's sheet: each row its own `LogHours`, through the same rules.

* A row that cannot be read, or that the day's rules refuse, is reported with its
  line, column and reason; the other rows are recorded all the same.
* Idempotent by row content: a row carries its place among the sheet's identical
  rows for that day (`sheet_occurrence`), so re-importing a sheet, or importing
  the export of entries already logged, records nothing again; and each row's
  idempotency key is its content, so a row recorded once is never recorded twice
  even after its entry was corrected.
* The upload's own `Idempotency-Key` is remembered with its report
  (`timesheet_sheet_imports`): a retried upload gets the first report back, and
  the key on another sheet is refused (422), as for every other write.
* The rows are decided together (`Timesheets.log_hours_together`): the days read in
  one round trip, each day's rows in sheet order on what the rows before them decided,
  and every row's events recorded in one `append_many`, each row its own append with
  its own key. A row that is not settled there (refused, its day changed meanwhile,
  its key used before) runs alone through `log_hours` afterwards, giving the answer it
  always gives; days run side by side (`workers` threads), a day's rows in order.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from typing import Final

from plimsoll_events.handling import Idempotency, IdempotencyKeyReused
from plimsoll_events.records import Metadata
from plimsoll_events.refusals import Refused
from plimsoll_events.store import ConcurrencyError
from plimsoll_platform.csv_upload import Rejection
from sqlalchemy import Engine, text

from plimsoll_timesheet.domain import LogHours
from plimsoll_timesheet.handlers import Practitioner, Timesheets
from plimsoll_timesheet.sheets import SheetRow

ATTEMPTS: Final = 3
_SETTLED: Final = {True: "accepted", False: "already", None: "to run alone"}
# The sheet's column for each field a refusal can name; None: not a column of the sheet.
_COLUMN: Final = {
    "day": "date",
    "minutes": "minutes",
    "category": "category",
    "started_at": "start",
    "ended_at": "end",
    "note": "note",
}

SCHEMA: Final = """
create table if not exists timesheet_sheet_imports (
    key             text primary key,
    practitioner_id text not null,
    fingerprint     text not null,
    report          jsonb not null,
    imported_at     timestamptz not null default now()
)
"""
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-timesheet-imports-ddl'))"


@dataclass(frozen=True)
class RejectedRow:
    line: int
    field: str | None
    reason: str


@dataclass(frozen=True)
class ImportReport:
    accepted: int
    already_imported: int
    rejected: list[RejectedRow]


class SheetImports:
    """Imports sheets row by row (see the module); runs with the app (its table at start)."""

    def __init__(self, timesheets: Timesheets, engine: Engine, *, workers: int = 16) -> None:
        self.timesheets = timesheets
        self.engine = engine
        self.workers = workers

    def start(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(_DDL_LOCK))
            conn.exec_driver_sql(SCHEMA)

    def stop(self) -> None:
        pass

    def import_sheet(
        self,
        rows: Sequence[SheetRow],
        unreadable: Sequence[Rejection],
        practitioner: Practitioner,
        on_behalf_reason: str | None,
        metadata: Metadata,
        idempotency: Idempotency,
    ) -> ImportReport:
        earlier = self._recall(idempotency)
        if earlier is not None:
            return earlier
        seen: dict[tuple[object, ...], int] = defaultdict(int)
        commands = []
        for row in rows:
            seen[row.content] += 1
            commands.append(self._command(row, seen[row.content], practitioner, on_behalf_reason))
        together = self.timesheets.log_hours_together(commands, practitioner, metadata)
        # What was not settled together runs alone, a day's rows in sheet order, and its
        # placeholder is replaced by the answer it gets.
        outcomes: list[str | RejectedRow] = [_SETTLED[done] for done in together]
        alone: dict[date, list[int]] = defaultdict(list)
        for index, done in enumerate(together):
            if done is None:
                alone[rows[index].day].append(index)

        def run_day(indexes: list[int]) -> None:
            for index in indexes:
                outcomes[index] = self._row(rows[index], *commands[index], practitioner, metadata)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            list(pool.map(run_day, alone.values()))
        rejected = [RejectedRow(u.line, u.field, u.reason) for u in unreadable]
        rejected += [o for o in outcomes if isinstance(o, RejectedRow)]
        report = ImportReport(
            accepted=outcomes.count("accepted"),
            already_imported=outcomes.count("already"),
            rejected=sorted(rejected, key=lambda r: r.line),
        )
        self._remember(idempotency, practitioner.practitioner_id, report)
        return report

    @staticmethod
    def _command(
        row: SheetRow, occurrence: int, practitioner: Practitioner, on_behalf_reason: str | None
    ) -> tuple[LogHours, Idempotency]:
        """The row's command, and its key: its content and its place among identical rows."""
        practitioner_id = practitioner.practitioner_id
        command = LogHours(
            practitioner_id=practitioner_id,
            day=row.day,
            minutes=row.minutes,
            category=row.category,
            started_at=row.started_at,
            ended_at=row.ended_at,
            note=row.note,
            on_behalf_reason=on_behalf_reason,
            sheet_occurrence=occurrence,
        )
        content = json.dumps([str(part) for part in row.content])
        digest = hashlib.sha256(content.encode()).hexdigest()
        return command, Idempotency(f"timesheet-sheet {practitioner_id} {digest} {occurrence}")

    def _row(
        self,
        row: SheetRow,
        command: LogHours,
        key: Idempotency,
        practitioner: Practitioner,
        metadata: Metadata,
    ) -> str | RejectedRow:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                outcome = self.timesheets.log_hours(command, practitioner, metadata, key)
            except ConcurrencyError:
                if attempt == ATTEMPTS:
                    return RejectedRow(row.line, None, "the day kept changing; import it again")
                continue
            except Refused as refusal:
                column = _COLUMN.get(refusal.field or "", refusal.field)
                return RejectedRow(row.line, column, refusal.reason)
            fresh = outcome.outcome.recorded and not outcome.outcome.repeated
            return "accepted" if fresh else "already"
        raise AssertionError("unreachable: the last attempt returns")

    # --- the upload's own idempotency key ----------------------------------------------------

    def _recall(self, idempotency: Idempotency) -> ImportReport | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "select practitioner_id, fingerprint, report from timesheet_sheet_imports "
                    "where key = :key"
                ),
                {"key": idempotency.digest},
            ).one_or_none()
        if row is None:
            return None
        if row.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                f"sheet {row.practitioner_id}", f"sheet {row.practitioner_id}"
            )
        report = row.report
        return ImportReport(
            accepted=report["accepted"],
            already_imported=report["already_imported"],
            rejected=[RejectedRow(**r) for r in report["rejected"]],
        )

    def _remember(
        self, idempotency: Idempotency, practitioner_id: str, report: ImportReport
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "insert into timesheet_sheet_imports "
                    "(key, practitioner_id, fingerprint, report) "
                    "values (:key, :practitioner_id, :fingerprint, cast(:report as jsonb)) "
                    "on conflict (key) do nothing"
                ),
                {
                    "key": idempotency.digest,
                    "practitioner_id": practitioner_id,
                    "fingerprint": idempotency.fingerprint,
                    "report": json.dumps(asdict(report)),
                },
            )
