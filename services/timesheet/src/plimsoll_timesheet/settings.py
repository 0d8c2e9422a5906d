"""Settings of the timesheet service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings


class TimesheetSettings(ServiceSettings):
    service_name: str = "timesheet"
