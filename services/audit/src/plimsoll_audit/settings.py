"""Settings of the audit service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name: str = "audit"
