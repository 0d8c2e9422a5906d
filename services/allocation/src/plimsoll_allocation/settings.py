"""Settings of the allocation service (environment, prefix ``PLIMSOLL_``)."""

from decimal import Decimal
from typing import Self

from plimsoll_platform.settings import ServiceSettings
from pydantic import Field, model_validator

from plimsoll_allocation.domain import AllocationPolicy


class AllocationSettings(ServiceSettings):
    service_name: str = "allocation"
    public_base_url: str = Field(
        default="http://127.0.0.1:58101",
        description="Where consumers reach this service: the base of the HMPPS events' "
        "detailUrl (default: the local stack's allocation service)",
    )
    override_threshold_percent: Decimal = Field(
        default=Decimal(100),
        gt=0,
        description="Capacity above which an allocation needs a written reason (recorded "
        "as allocation-override-recorded)",
    )
    hard_ceiling_percent: Decimal = Field(
        default=Decimal(120),
        gt=0,
        description="Capacity above which only a head of service may allocate",
    )

    process_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="How often the process managers (capacity figures, re-weighing) look for "
        "events another replica appended; this replica's own appends wake them at once",
    )

    publish_hmpps: bool = Field(
        default=True,
        description="Publish the HMPPS domain events on plimsoll.allocation.hmpps (off for a "
        "copy of the service that must not speak for the real one, e.g. a benchmark's)",
    )
    consume_workload_agreements: bool = Field(
        default=True,
        description="Consume wellbeing's workload agreements (consumer group "
        "projection-allocation-workload-agreements; off for such a copy, which would "
        "otherwise share the real service's group)",
    )

    @model_validator(mode="after")
    def _threshold_within_ceiling(self) -> Self:
        if self.override_threshold_percent > self.hard_ceiling_percent:
            raise ValueError(
                f"PLIMSOLL_OVERRIDE_THRESHOLD_PERCENT ({self.override_threshold_percent}) is above "
                f"PLIMSOLL_HARD_CEILING_PERCENT ({self.hard_ceiling_percent})"
            )
        return self

    @property
    def policy(self) -> AllocationPolicy:
        """The agreed limits every allocation is decided against."""
        return AllocationPolicy(self.override_threshold_percent, self.hard_ceiling_percent)
