"""A bundle's events folded into what was known about the practitioner at an instant.

Pure, on the events' own JSON: old versions are upcast through the catalogue
when it knows them; types it does not know are counted, never dropped. The same
fold feeds the report's charts and `plimsoll-verify --as-of`.

What an event is "known" from is its CloudEvent `time` (when its service recorded
it); `as_of` keeps the events recorded at or before the instant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_platform.clock import UK

POLICY_PREFIX = "policy-"
CONSENT_PREFIX = "union-consent-"
DECLARATION_TYPES = ("workload-declared", "declaration-answered", "declaration-escalated")
NOTIFICATION_PREFIX = "notification-"
BREACH_PREFIX = "breach-"


def short_type(cloudevent_type: str) -> str:
    parts = cloudevent_type.split(".")
    if len(parts) >= 3 and parts[-1].startswith("v") and parts[-1][1:].isdigit():
        return parts[-2]
    return cloudevent_type


def _version(cloudevent_type: str) -> int:
    last = cloudevent_type.rsplit(".", 1)[-1]
    return int(last[1:]) if last.startswith("v") and last[1:].isdigit() else 1


def data_of(event: dict[str, Any]) -> dict[str, Any]:
    """The event's data at the catalogue's latest version when it knows the type."""
    found = event.get("data")
    raw: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = str(event.get("type", ""))
    try:
        return CATALOGUE.decode(short_type(kind), _version(kind), raw).model_dump(mode="json")
    except Exception:  # unknown or newer types are shown as recorded
        return dict(raw)


@dataclass(frozen=True)
class Happening:
    """One dated thing the report lists and charts."""

    time: datetime
    kind: str
    summary: str


@dataclass
class State:
    practitioner_id: str
    as_of: datetime | None = None
    name: str | None = None
    team_id: str | None = None
    contracted_hours: list[tuple[datetime, float]] = field(default_factory=list)
    capacity_percent: list[tuple[datetime, float]] = field(default_factory=list)
    cases: dict[str, int] = field(default_factory=dict)  # open cases carried -> points
    worked_minutes: dict[str, tuple[date, int]] = field(default_factory=dict)  # entry -> day
    supervisions: list[Happening] = field(default_factory=list)
    declarations: list[Happening] = field(default_factory=list)
    breaches: list[Happening] = field(default_factory=list)
    notifications: list[Happening] = field(default_factory=list)
    reads: list[Happening] = field(default_factory=list)
    exports: list[Happening] = field(default_factory=list)
    policies: list[Happening] = field(default_factory=list)
    consents: list[Happening] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def minutes_by_week(self) -> dict[date, int]:
        """Minutes worked per week (keyed by the week's Monday)."""
        weeks: Counter[date] = Counter()
        for day, minutes in self.worked_minutes.values():
            weeks[day - timedelta(days=day.weekday())] += minutes
        return dict(sorted(weeks.items()))

    def contract_on(self, day: date) -> float | None:
        found = None
        for when, hours in self.contracted_hours:
            if when.astimezone(UK).date() <= day:
                found = hours
        return found

    def consent_in_force(self) -> bool:
        latest = self.consents[-1].kind if self.consents else None
        return latest == "union-consent-given"


def event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["time"]))


def fold(
    practitioner_id: str, events: Iterable[dict[str, Any]], as_of: datetime | None = None
) -> State:
    state = State(practitioner_id, as_of)
    for event in sorted(events, key=event_time):
        when = event_time(event)
        if as_of is not None and when > as_of:
            break
        _apply(state, short_type(str(event.get("type", ""))), data_of(event), when, event)
    return state


def _apply(
    state: State, kind: str, data: dict[str, Any], when: datetime, event: dict[str, Any]
) -> None:
    state.counts[kind] += 1
    actor = str(event.get("actor", ""))
    if kind == "practitioner-registered":
        state.name, state.team_id = data.get("name"), data.get("team_id")
        state.contracted_hours.append((when, float(data.get("contracted_hours", 0))))
    elif kind == "contracted-hours-changed":
        state.contracted_hours.append((when, float(data.get("contracted_hours", 0))))
    elif kind == "practitioner-transferred":
        state.team_id = data.get("team_id", state.team_id)
    elif kind in ("case-allocated", "case-reallocated") or (
        kind == "case-weighting-changed" and str(data.get("case_id")) in state.cases
    ):
        state.cases[str(data.get("case_id"))] = int(data.get("points", 0))
    elif kind == "case-closed":
        state.cases.pop(str(data.get("case_id")), None)
    elif kind == "allocation-override-recorded":
        state.capacity_percent.append((when, float(data.get("capacity_after_percent", 0))))
    elif kind == "capacity-changed":
        percent = data.get("capacity_percent", data.get("percent"))
        if percent is not None:
            state.capacity_percent.append((when, float(percent)))
    elif kind == "hours-logged":
        state.worked_minutes[str(event.get("id"))] = (
            date.fromisoformat(str(data["day"])),
            int(data.get("minutes", 0)),
        )
    elif kind == "hours-corrected" and str(data.get("entry_id")) in state.worked_minutes:
        day, _ = state.worked_minutes[str(data["entry_id"])]
        state.worked_minutes[str(data["entry_id"])] = (day, int(data.get("minutes", 0)))
    elif kind == "hours-withdrawn":
        state.worked_minutes.pop(str(data.get("entry_id")), None)
    elif kind.startswith("supervision-held"):
        state.supervisions.append(
            Happening(when, kind, f"supervision with {data.get('supervisor_id')}")
        )
    elif kind in DECLARATION_TYPES or "declar" in kind:
        state.declarations.append(Happening(when, kind, _summary(data, actor)))
    elif kind.startswith(BREACH_PREFIX):
        state.breaches.append(Happening(when, kind, _summary(data, actor)))
    elif kind.startswith(NOTIFICATION_PREFIX):
        state.notifications.append(Happening(when, kind, _summary(data, actor)))
    elif kind == "personal-data-read":
        state.reads.append(
            Happening(
                when,
                kind,
                f"{data.get('reader')} read {data.get('resource')} via {data.get('served_by')}"
                + (f" ({data['purpose']})" if data.get("purpose") else ""),
            )
        )
    elif kind in ("bundle-exported", "bundle-refused"):
        who = data.get("exported_by") or data.get("requested_by")
        state.exports.append(Happening(when, kind, f"{kind.split('-')[1]} for {who}"))
    elif kind.startswith(POLICY_PREFIX):
        state.policies.append(Happening(when, kind, _summary(data, actor)))
    elif kind.startswith(CONSENT_PREFIX):
        state.consents.append(Happening(when, kind, _summary(data, actor)))


def _summary(data: dict[str, Any], actor: str) -> str:
    shown = ", ".join(
        f"{k}={v}" for k, v in data.items() if k != "practitioner_id" and v not in (None, [], "")
    )
    cut = shown[:160] + ("..." if len(shown) > 160 else "")
    return cut + (f" (by {actor})" if actor else "")


def describe(state: State) -> list[str]:
    """The state as lines a person reads (plimsoll-verify --as-of)."""
    weeks = state.minutes_by_week()
    lines = [
        f"practitioner {state.practitioner_id}" + (f" ({state.name})" if state.name else ""),
        f"as of {state.as_of.isoformat() if state.as_of else 'the end of the bundle'}",
        f"team: {state.team_id or 'not known'}",
        "contracted hours: "
        + (f"{state.contracted_hours[-1][1]:g}" if state.contracted_hours else "not known"),
        "capacity: "
        + (
            f"{state.capacity_percent[-1][1]:g}% "
            f"(recorded {state.capacity_percent[-1][0]:%Y-%m-%d})"
            if state.capacity_percent
            else "no capacity recorded"
        ),
        f"open cases carried: {len(state.cases)} ({sum(state.cases.values())} points)",
    ]
    if weeks:
        monday, minutes = list(weeks.items())[-1]
        lines.append(f"hours in the week of {monday}: {minutes / 60:.1f}")
    for title, items in (
        ("supervisions", state.supervisions),
        ("declarations", state.declarations),
        ("breaches", state.breaches),
        ("notifications (who was told)", state.notifications),
        ("reads of their data", state.reads),
        ("bundle exports", state.exports),
        ("policy versions", state.policies),
        ("union consent", state.consents),
    ):
        lines.append(f"{title}: {len(items)}")
        lines.extend(f"  {h.time:%Y-%m-%d %H:%M} {h.kind}: {h.summary}" for h in items[-5:])
    return lines
