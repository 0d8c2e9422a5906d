"""The report: the bundle's facts, its checks, the charts, and every event listed in order.

Rendered from a bundle that `verify` has just checked (the report says what was
verified and against which keys); it is a view of the bundle, not evidence in
itself: the bundle file is.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from plimsoll_platform.clock import UK
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import cm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from plimsoll_audit.log.note import Verifier
from plimsoll_audit.report.charts import CHARTS
from plimsoll_audit.verify.bundle import Bundle
from plimsoll_audit.verify.check import Outcome, verify
from plimsoll_audit.verify.replay import State, data_of, event_time, fold, short_type

_ENV = Environment(loader=PackageLoader("plimsoll_audit.report"), autoescape=select_autoescape())


def _period(bundle: Bundle) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(bundle.period_start), time(), tzinfo=UK)
    end = datetime.combine(
        date.fromisoformat(bundle.period_end) + timedelta(days=1), time(), tzinfo=UK
    )
    return start, end


def _rows(events: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for event in sorted(events, key=event_time):
        data = data_of(event)
        shown = "; ".join(f"{k}: {v}" for k, v in data.items() if v not in (None, [], ""))
        rows.append(
            {
                "time": event_time(event).astimezone(UK).strftime("%Y-%m-%d %H:%M"),
                "type": short_type(str(event.get("type"))),
                "actor": str(event.get("actor", "")),
                "source": str(event.get("source", "")).removeprefix("/plimsoll/"),
                "data": shown[:400],
            }
        )
    return rows


def _context(bundle: Bundle, trusted: Sequence[Verifier]) -> tuple[dict[str, Any], Outcome, State]:
    outcome = verify(bundle, trusted)
    state = fold(bundle.practitioner_id, outcome.events)
    start, end = _period(bundle)
    context = {
        "bundle": bundle,
        "content": bundle.content,
        "outcome": outcome,
        "state": state,
        "keys": [str(v) for v in trusted],
        "rows": _rows(outcome.events),
        "checkpoints": bundle.checkpoints,
        "start": start,
        "end": end,
    }
    return context, outcome, state


def html(bundle: Bundle, trusted: Sequence[Verifier]) -> str:
    context, _, state = _context(bundle, trusted)
    start, end = context["start"], context["end"]
    context["charts"] = {name: draw(state, start, end, "svg").decode() for name, draw in CHARTS}
    return _ENV.get_template("report.html").render(**context)


def pdf(bundle: Bundle, trusted: Sequence[Verifier]) -> bytes:
    context, outcome, state = _context(bundle, trusted)
    start, end = context["start"], context["end"]
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    story: list[Any] = [
        Paragraph(
            f"Evidence bundle: {bundle.practitioner_id}"
            + (f" ({state.name})" if state.name else ""),
            styles["Title"],
        ),
        Paragraph(
            f"Period {bundle.period_start} to {bundle.period_end}. Exported "
            f"{bundle.content.get('exported_at', '')[:16]} by "
            f"{bundle.content.get('exported_by')} ({bundle.content.get('basis')}). "
            f"Bundle {bundle.bundle_id}, log {bundle.origin}.",
            styles["BodyText"],
        ),
        Paragraph(
            "VERIFIED: every check held."
            if outcome.ok
            else f"NOT VERIFIED: {len(outcome.failures)} check(s) failed.",
            styles["Heading2"],
        ),
    ]
    story += [Paragraph(f"ok: {line}", small) for line in outcome.checked]
    story += [Paragraph(f"FAILED: {line}", small) for line in outcome.failures]
    for name, draw in CHARTS:
        story += [
            Spacer(1, 0.3 * cm),
            Image(
                io.BytesIO(draw(state, start, end, "png")),
                width=17 * cm,
                height=5.8 * cm,
                kind="proportional",
            ),
        ]
        del name
    story.append(Paragraph("Events, in the order they were recorded", styles["Heading2"]))
    table = [["time (UK)", "event", "by", "service", "what"]] + [
        [r["time"], r["type"], r["actor"], r["source"], Paragraph(r["data"], small)]
        for r in context["rows"]
    ]
    grid = Table(table, colWidths=[2.6 * cm, 3.4 * cm, 2.4 * cm, 2 * cm, 7.6 * cm], repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 7),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(grid)
    story.append(Paragraph("Checkpoints", styles["Heading2"]))
    story += [
        Paragraph(
            f"{c.signed_at[:19]}: <font face='Courier'>"
            f"{c.note.splitlines()[1]} entries, root {c.note.splitlines()[2]}</font>",
            small,
        )
        for c in bundle.checkpoints
    ]
    story.append(
        Paragraph(
            "Verify it yourself: plimsoll-verify BUNDLE --key '"
            + (context["keys"][0] if context["keys"] else "")
            + "'",
            small,
        )
    )
    out = io.BytesIO()
    SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        title=f"Evidence bundle {bundle.bundle_id}",
    ).build(story)
    return out.getvalue()


def _inline(svg: str) -> str:
    return svg[svg.find("<svg") :]


def image_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
