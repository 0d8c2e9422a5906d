"""The services' calendar, as the stack tests must read it: the UK date now, asked afresh each
time (a date fixed when the tests were collected goes stale if the run passes midnight)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo


def uk_today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()
