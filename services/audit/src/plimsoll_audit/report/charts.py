"""The report's charts, drawn by matplotlib (Agg, no display): SVG for HTML, PNG for PDF."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from plimsoll_platform.clock import UK

from plimsoll_audit.verify.replay import State

SIZE = (8.0, 2.8)


def _DAYS() -> Any:  # noqa: N802
    return mdates.DateFormatter("%d %b %Y")  # type: ignore[no-untyped-call]


def _x(times: list[datetime]) -> Any:
    return mdates.date2num(times)  # type: ignore[no-untyped-call]


def _finish(fig: Figure, fmt: str) -> bytes:
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110)
    plt.close(fig)
    return out.getvalue()


def capacity(state: State, start: datetime, end: datetime, fmt: str) -> bytes:
    fig, ax = plt.subplots(figsize=SIZE)
    points = [(t, p) for t, p in state.capacity_percent]
    if points:
        times = [start, *(t for t, _ in points), end]
        values = [points[0][1], *(p for _, p in points), points[-1][1]]
        ax.step(_x(times), values, where="post", color="#1f4e79", label="capacity (WMT %)")
    else:
        ax.text(0.5, 0.5, "no capacity recorded in the period", ha="center", transform=ax.transAxes)
    ax.axhline(100, color="#b00020", linestyle="--", linewidth=1, label="100%")
    ax.set_ylabel("% of capacity")
    ax.set_title("Capacity over time")
    ax.set_xlim(_x([start, end]).tolist())
    ax.legend(loc="upper left", fontsize=8)
    ax.xaxis.set_major_formatter(_DAYS())
    return _finish(fig, fmt)


def hours(state: State, start: datetime, end: datetime, fmt: str) -> bytes:
    fig, ax = plt.subplots(figsize=SIZE)
    weeks = state.minutes_by_week()
    mondays = [datetime.combine(m, datetime.min.time(), tzinfo=UK) for m in weeks]
    ax.bar(
        _x(mondays),
        [m / 60 for m in weeks.values()],
        width=5,
        color="#4f81bd",
        label="hours worked",
    )
    contract = [state.contract_on(m) for m in weeks]
    if any(c is not None for c in contract):
        ax.step(
            _x(mondays),
            [c or 0 for c in contract],
            where="post",
            color="#b00020",
            label="contracted hours",
        )
    ax.axhline(48, color="#7f7f7f", linestyle=":", linewidth=1, label="48 (WTR)")
    ax.set_ylabel("hours per week")
    ax.set_title("Hours per week against contract")
    ax.set_xlim(_x([start - timedelta(days=4), end]).tolist())
    ax.legend(loc="upper left", fontsize=8)
    ax.xaxis.set_major_formatter(_DAYS())
    return _finish(fig, fmt)


def timeline(state: State, start: datetime, end: datetime, fmt: str) -> bytes:
    rows = [
        ("supervisions", state.supervisions, "#2e7d32"),
        ("declarations", state.declarations, "#ef6c00"),
        ("breaches", state.breaches, "#b00020"),
        ("who was told", state.notifications, "#6a1b9a"),
        ("reads of their data", state.reads, "#455a64"),
    ]
    fig, ax = plt.subplots(figsize=(SIZE[0], 2.6))
    for y, (_, items, colour) in enumerate(rows):
        ax.scatter(_x([h.time for h in items]), [y] * len(items), marker="|", s=200, color=colour)
    ax.set_yticks(range(len(rows)), [f"{name} ({len(items)})" for name, items, _ in rows])
    ax.set_xlim(_x([start, end]).tolist())
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_title("Supervisions, declarations, breaches and who was told")
    ax.xaxis.set_major_formatter(_DAYS())
    return _finish(fig, fmt)


CHARTS = (("capacity", capacity), ("hours", hours), ("timeline", timeline))
