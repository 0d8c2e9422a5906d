"""Settings of the allocation service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings


class AllocationSettings(ServiceSettings):
    service_name: str = "allocation"
