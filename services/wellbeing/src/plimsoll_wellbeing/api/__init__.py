"""The wellbeing HTTP API: one module per resource, and `deps` for what they share.

Each route declares who may call it (`deps`, built with `access.may`), reads the record it is
about once (for the scope check and for the command's facts), builds the domain's command,
hands it to its handler, and answers with a view built by `model_validate` from the read
model. Refusals are problem details naming the field at fault, and record nothing; writes
take an `Idempotency-Key`.
"""

from fastapi import APIRouter

from plimsoll_wellbeing.api import (
    agreements,
    assessments,
    breaches,
    consent,
    deadlines,
    declarations,
    duty,
    policy,
    supervisions,
    team_full,
    teams,
)

ROUTERS: tuple[APIRouter, ...] = (
    supervisions.router,
    agreements.router,
    declarations.router,
    assessments.router,
    consent.router,
    teams.router,
    policy.router,
    deadlines.router,
    duty.router,
    breaches.router,
    team_full.router,
)
"""Every router of the service, as `main` includes them."""
