"""The allocation HTTP API: one module per resource, and `deps` for what they share.

Each route parses its request into the domain's command (ids as `Identifier`s,
free text as `Text` or `Name`, so a malformed value is a 422 naming it), has
the caller checked where the record is (`deps`), hands the command to its
handler, and answers with a view built by `model_validate` from what the
handler or a query returned. Refusals are problem details (RFC 9457) naming
the field at fault, and record nothing.
"""

from fastapi import APIRouter

from plimsoll_allocation.api import capacity, cases, onboarding, overrides, practitioners, schemes

ROUTERS: tuple[APIRouter, ...] = (
    practitioners.router,
    practitioners.calendar_router,
    cases.router,
    capacity.router,
    schemes.router,
    overrides.router,
    onboarding.router,
)
"""Every router of the service, as `main` includes them."""
