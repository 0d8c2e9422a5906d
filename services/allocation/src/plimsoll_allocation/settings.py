"""Settings of the allocation service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings
from pydantic import Field


class AllocationSettings(ServiceSettings):
    service_name: str = "allocation"
    public_base_url: str = Field(
        default="http://127.0.0.1:58101",
        description="Where consumers reach this service: the base of the HMPPS events' "
        "detailUrl (default: the local stack's allocation service)",
    )
