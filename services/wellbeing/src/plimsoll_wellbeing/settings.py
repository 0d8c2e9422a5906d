"""Settings of the wellbeing service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings
from pydantic import Field


class WellbeingSettings(ServiceSettings):
    service_name: str = "wellbeing"
    sweep_every_seconds: int = Field(
        default=900,
        ge=1,
        description="How often the deadline sweeps run (declarations escalated, agreements "
        "ended): a deadline is a UK day, so one is acted on this long after it passes at most",
    )
