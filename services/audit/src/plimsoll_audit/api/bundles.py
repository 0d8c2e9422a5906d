"""Evidence bundles over HTTP: export one, download it, read its report (HTML or PDF)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from plimsoll_events.types.fields import Day, Identifier
from plimsoll_platform.api import StrictBody, problem_responses
from plimsoll_platform.auth import CurrentPrincipal
from pydantic import Field

from plimsoll_audit.api.deps import BundlesDep, KeysDep
from plimsoll_audit.report import render
from plimsoll_audit.verify.bundle import parse

router = APIRouter(tags=["bundles"])

_EXPORT = problem_responses(
    {403: "The caller may not have this practitioner's bundle (the attempt is recorded)"},
    command=True,
)
_READ = problem_responses({404: "No such bundle exported by the caller"})


class BundleRequest(StrictBody):
    practitioner_id: Identifier
    period_start: Day
    period_end: Day


class BundleExportedView(StrictBody):
    bundle_id: str
    practitioner_id: str
    period_start: Day
    period_end: Day
    events: int
    tree_size: int
    sha256: str = Field(description="SHA-256 of the bundle file, as bundle-exported records it")
    links: dict[str, str]


def _export(
    bundles: BundlesDep, principal: CurrentPrincipal, body: BundleRequest
) -> BundleExportedView:
    exported = bundles.export(principal, body.practitioner_id, body.period_start, body.period_end)
    base = f"/bundles/{exported.bundle_id}"
    return BundleExportedView(
        bundle_id=exported.bundle_id,
        practitioner_id=exported.practitioner_id,
        period_start=exported.period_start,
        period_end=exported.period_end,
        events=exported.events,
        tree_size=exported.tree_size,
        sha256=exported.sha256,
        links={
            "bundle": base,
            "report_html": f"{base}/report.html",
            "report_pdf": f"{base}/report.pdf",
        },
    )


@router.post("/bundles", status_code=201, responses=_EXPORT)
def export_bundle(
    body: BundleRequest, bundles: BundlesDep, principal: CurrentPrincipal
) -> BundleExportedView:
    """Export a practitioner's evidence bundle for a period (UK days, both included).

    Auditors and admins: anyone's; a practitioner: their own; a union representative:
    a member's with their recorded consent. Everyone else, or outside those limits: 403,
    recorded as `bundle-refused`. Every export is recorded as `bundle-exported`."""
    return _export(bundles, principal, body)


@router.get("/practitioners/{practitioner_id}/bundle", status_code=201, responses=_EXPORT)
def export_bundle_by_get(
    practitioner_id: Identifier,
    bundles: BundlesDep,
    principal: CurrentPrincipal,
    period_start: Annotated[Day, Query()],
    period_end: Annotated[Day, Query()],
) -> BundleExportedView:
    """The same export, for clients that can only GET (it is recorded like any other)."""
    body = BundleRequest(
        practitioner_id=practitioner_id, period_start=period_start, period_end=period_end
    )
    return _export(bundles, principal, body)


@router.get("/bundles/{bundle_id}", response_class=Response, responses=_READ)
def download(bundle_id: Identifier, bundles: BundlesDep, principal: CurrentPrincipal) -> Response:
    """The bundle file (canonical JSON) to give to `plimsoll-verify`."""
    data = bundles.download(principal, bundle_id)
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="bundle-{bundle_id}.json"'},
    )


@router.get("/bundles/{bundle_id}/report.html", response_class=Response, responses=_READ)
def report_html(
    bundle_id: Identifier, bundles: BundlesDep, keys: KeysDep, principal: CurrentPrincipal
) -> Response:
    """The report a person reads, verified against the log's published keys."""
    bundle = parse(bundles.download(principal, bundle_id))
    return Response(render.html(bundle, keys.published), media_type="text/html; charset=utf-8")


@router.get("/bundles/{bundle_id}/report.pdf", response_class=Response, responses=_READ)
def report_pdf(
    bundle_id: Identifier, bundles: BundlesDep, keys: KeysDep, principal: CurrentPrincipal
) -> Response:
    """The same report as a printable PDF."""
    bundle = parse(bundles.download(principal, bundle_id))
    return Response(render.pdf(bundle, keys.published), media_type="application/pdf")
