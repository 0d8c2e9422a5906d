"""One JSON file per benchmark in ``bench/results/``, and a Markdown table of them all."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The keys every result file has, in this order; ``met`` and ``details`` follow.
REQUIRED_KEYS = (
    "name",
    "value",
    "unit",
    "baseline",
    "baseline_value",
    "ratio",
    "goal",
    "date",
)


@dataclass(frozen=True)
class Result:
    """What one benchmark measured, beside what it is compared with.

    By default a benchmark measures a rate, so higher is better and
    ``ratio = value / baseline_value``. With ``lower_is_better`` (a latency)
    ``ratio = baseline_value / value``, so a ratio above 1 is still better than the
    baseline. Either way ``met`` is ``ratio >= goal_ratio``: with the goal as
    baseline and ``goal_ratio`` 1, a latency meets it when ``value <= baseline_value``.
    """

    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    goal: str
    goal_ratio: float
    details: dict[str, Any] = field(default_factory=dict)
    lower_is_better: bool = False
    date: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def ratio(self) -> float:
        if self.lower_is_better:
            return self.baseline_value / self.value if self.value else float("inf")
        return self.value / self.baseline_value if self.baseline_value else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio >= self.goal_ratio

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 1),
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_value": round(self.baseline_value, 1),
            "ratio": round(self.ratio, 3),
            "goal": self.goal,
            "date": self.date,
            "met": self.met,
            "details": {
                "goal_ratio": self.goal_ratio,
                **({"lower_is_better": True} if self.lower_is_better else {}),
                **self.details,
            },
        }


def write_result(result: Result, directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    tmp.replace(path)
    return path


def load_results(directory: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every result file in ``directory`` that has the required keys, by name."""
    found: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(raw, dict) and all(key in raw for key in REQUIRED_KEYS):
            found.append(raw)
    return sorted(found, key=lambda r: str(r["name"]))


def _number(value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    # Three significant figures below 1 (an as-of view of 0.02 s is not "0.00 s").
    return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_table(directory: Path = RESULTS_DIR) -> str:
    """A Markdown table of every result in ``directory`` (empty-table note if none)."""
    rows = load_results(directory)
    if not rows:
        return "_No results yet: run `make bench`._"
    lines = [
        "| benchmark | Plimsoll | baseline | ratio | goal | met | measured |",
        "| --- | ---: | --- | ---: | --- | :---: | --- |",
    ]
    for r in rows:
        details = r.get("details") if isinstance(r.get("details"), dict) else {}
        mode = details.get("mode") if details else None
        name = f"`{r['name']}`" + (f" ({mode})" if mode and mode != "full" else "")
        met = r.get("met")
        mark = "yes" if met is True else "**no**" if met is False else "?"
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    name,
                    f"{_number(r['value'])} {r['unit']}",
                    f"{r['baseline']}: {_number(r['baseline_value'])} {r['unit']}",
                    f"{float(r['ratio']):.2f}x",
                    r["goal"],
                    mark,
                    str(r["date"])[:10],
                )
            )
            + " |"
        )
    return "\n".join(lines)
