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
    duty_clock_seconds: int = Field(
        default=60,
        ge=1,
        description="How often the duty-of-care clock runs (time-driven rules judged, breaches "
        "past a deadline escalated): a breach due by time opens at most this long after its "
        "instant, and records the instant itself",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:58103",
        description="Base of the HMPPS team-full events' detailUrl (this service, as courts and "
        "partners reach it)",
    )
