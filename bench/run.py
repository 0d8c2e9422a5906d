"""Run the benchmarks: ``python -m bench.run [--quick] [--only NAME ...]``.

Each writes ``bench/results/<name>.json``; then a table of every result is
printed and written between the ``bench:start``/``bench:end`` markers of the
README. Exit status 1 when a benchmark failed to run (a missed goal is a
result, not a failure).

Adding a benchmark: write ``bench/<module>.py`` with a function
``def <name>(settings: Settings) -> Result`` that measures in its own
:func:`bench.harness.scratch_database` and checks
:func:`bench.harness.durability` before and after, then list it in
``REGISTRY`` below. Benchmarks that need Kafka get its address from
:func:`bench.harness.kafka`.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plimsoll_events.gil import shorten_switch_interval

from bench import (
    allocation,
    append,
    audit,
    capacity,
    caseload,
    duty_of_care,
    import_,
    notifications,
    projection,
    relay,
    suspension,
    timesheet,
    wellbeing,
)
from bench.harness import ROOT, Settings, source_under_test
from bench.results import Result, summary_table, write_result

README = ROOT / "README.md"
START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[Settings], Result]


REGISTRY: list[Benchmark] = [
    Benchmark("append_single_writer", append.append_single_writer),
    Benchmark("append_32_writers", append.append_32_writers),
    Benchmark("batch_import", import_.batch_import),
    Benchmark("relay_throughput", relay.relay_throughput),
    Benchmark("projection_throughput", projection.projection_throughput),
    Benchmark("allocation_capacity_p99", allocation.allocation_capacity_p99),
    Benchmark("team_capacity_p99", allocation.team_capacity_p99),
    Benchmark("allocation_command_p99", allocation.allocation_command_p99),
    Benchmark("caseload_catch_up", caseload.caseload_catch_up),
    Benchmark("capacity_latency_p95", capacity.capacity_latency_p95),
    Benchmark("audit_append_throughput", audit.audit_append_throughput),
    Benchmark("audit_inclusion_proof_p99", audit.audit_inclusion_proof_p99),
    Benchmark("audit_bundle_build", audit.audit_bundle_build),
    Benchmark("audit_bundle_verify", audit.audit_bundle_verify),
    Benchmark("timesheet_write_p99", timesheet.timesheet_write_p99),
    Benchmark("timesheet_figures_p99", timesheet.timesheet_figures_p99),
    Benchmark("timesheet_csv_import", timesheet.timesheet_csv_import),
    Benchmark("wellbeing_team_view_p99", wellbeing.wellbeing_team_view_p99),
    Benchmark("suspension_capacity_p95", suspension.suspension_capacity_p95),
    Benchmark("duty_breach_latency_p95", duty_of_care.duty_breach_latency_p95),
    Benchmark("duty_rebuild_throughput", duty_of_care.duty_rebuild_throughput),
    Benchmark("duty_region_view_p99", duty_of_care.duty_region_view_p99),
    Benchmark("duty_as_of_view", duty_of_care.duty_as_of_view),
    Benchmark("notifications_fan_out", notifications.notifications_fan_out),
]


def update_readme(table: str, readme: Path = README) -> bool:
    """Replace what sits between the markers with ``table``; False when there are no markers."""
    text = readme.read_text()
    start = text.find(START_MARKER)
    end = text.find(END_MARKER, start + len(START_MARKER)) if start >= 0 else -1
    if start < 0 or end < 0:
        return False
    updated = text[: start + len(START_MARKER)] + "\n" + table + "\n" + text[end:]
    if updated != text:
        readme.write_text(updated)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    names = [b.name for b in REGISTRY]
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short runs: the whole suite in under a minute"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        choices=names,
        help=f"run only this benchmark (repeatable): {', '.join(names)}",
    )
    args = parser.parse_args(argv)
    shorten_switch_interval()  # the machinery measured in process runs as in a service
    settings = Settings.for_mode(quick=args.quick)
    chosen = [b for b in REGISTRY if not args.only or b.name in args.only]

    source_under_test()  # fingerprint the store's code as imported, before anyone edits it
    # What this harness imported (every benchmark's modules) is kept out of the collector's
    # sweeps, as each service does with its own at startup (`plimsoll_platform.app`): a bigger
    # harness must not make the code under test look slower.
    gc.collect()
    gc.freeze()
    began = time.perf_counter()
    failed: list[str] = []
    # The allocation benchmarks share one loaded allocation service, stopped at the end;
    # the timesheet benchmarks one loaded timesheet service.
    with allocation.SHARED.shared(), timesheet.SHARED.shared():
        for benchmark in chosen:
            print(f"== {benchmark.name} ({settings.mode})", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                result = benchmark.run(settings)
            except Exception:
                traceback.print_exc()
                failed.append(benchmark.name)
                continue
            path = write_result(result)
            print(
                f"   {result.value:,.1f} {result.unit} vs {result.baseline_value:,.1f} "
                f"= {result.ratio:.2f}x (goal {result.goal_ratio:g}x: "
                f"{'met' if result.met else 'NOT met'}) in {time.perf_counter() - t0:.1f}s "
                f"-> {path.relative_to(ROOT)}",
                file=sys.stderr,
                flush=True,
            )

    table = summary_table()
    print(table)
    if not update_readme(table):
        print(f"warning: no {START_MARKER} ... {END_MARKER} in {README}", file=sys.stderr)
    print(f"benchmarks took {time.perf_counter() - began:.1f}s", file=sys.stderr)
    if failed:
        print(f"error: failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
