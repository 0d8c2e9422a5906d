"""Settings of the notifications service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
