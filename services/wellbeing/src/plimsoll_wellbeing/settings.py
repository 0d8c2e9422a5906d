"""Settings of the wellbeing service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings


class WellbeingSettings(ServiceSettings):
    service_name: str = "wellbeing"
