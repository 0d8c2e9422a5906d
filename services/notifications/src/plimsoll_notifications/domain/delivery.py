"""Rules of delivery: which webhook URLs are acceptable, when to try again, quiet hours.

* A webhook URL is https, with a host name that resolves only to public addresses: never a
  private, loopback, link-local, multicast, reserved or unspecified one (a partner's URL must
  not let anyone make this service call into its own network). Local mode (a setting, for the
  local stack and tests) also accepts http to a loopback host, and only that. The check runs
  when a partner subscribes and again before every delivery: DNS can change in between. The
  delivery then connects to the address checked, not to a fresh lookup (`channels`).
* Retries: the n-th failed try waits the n-th step of the schedule (the last step repeated),
  give or take `jitter` of it at random, so that many failures do not come back in step; after
  `max_attempts` tries the channel is dead-lettered.
* Quiet hours: a person's quiet span on the UK wall clock (it may run over midnight); what is
  not urgent and falls in it is delivered when it ends. Urgent notifications come at once.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from plimsoll_events.refusals import InvalidValue

UK: Final = ZoneInfo("Europe/London")

Resolver = Callable[[str], Sequence[str]]
"""A host name to the IP addresses it resolves to (`socket.getaddrinfo`, or a fixed table)."""


class UnsafeUrl(InvalidValue):
    kind = "unsafe-webhook-url"
    title = "The webhook URL is not acceptable"


def check_webhook_url(url: str, resolve: Resolver, *, local_mode: bool) -> None:
    """Refuse (`UnsafeUrl`, field `url`) a URL webhooks must not be sent to; see the module."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in {"https", "http"} or not host:
        raise UnsafeUrl("must be an absolute https URL", field="url")
    if parts.username or parts.password:
        raise UnsafeUrl("must not carry credentials", field="url")
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host)]
    except (OSError, ValueError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve: {exc}", field="url") from exc
    if not addresses:
        raise UnsafeUrl(f"the host {host!r} does not resolve", field="url")
    loopback = all(a.is_loopback for a in addresses)
    if local_mode and loopback:
        return  # the local stack: http or https to this machine
    if parts.scheme != "https":
        raise UnsafeUrl(
            "must be https (http only to a loopback host, and only in local mode)", field="url"
        )
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise UnsafeUrl(
                f"the host {host!r} resolves to {address}, a private, loopback, link-local or "
                "reserved address: webhooks go to public addresses only",
                field="url",
            )


@dataclass(frozen=True)
class RetrySchedule:
    steps: tuple[timedelta, ...]
    max_attempts: int
    jitter: float = 0.2

    def after(self, attempt: int, rnd: random.Random | None = None) -> timedelta | None:
        """How long to wait after failed try `attempt` (from 1); None: no more tries."""
        if attempt >= self.max_attempts:
            return None
        base = self.steps[min(attempt, len(self.steps)) - 1]
        spread = (rnd or random).uniform(-self.jitter, self.jitter)
        return base * (1 + spread)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def holds(self, instant: datetime) -> bool:
        wall = instant.astimezone(UK).time()
        if self.start <= self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def ends_after(self, instant: datetime) -> datetime:
        """The first instant at or after `instant` outside the quiet hours."""
        if not self.holds(instant):
            return instant
        local = instant.astimezone(UK)
        end = datetime.combine(local.date(), self.end, tzinfo=UK)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=UK)
        return end.astimezone(instant.tzinfo)


def deliver_at(now: datetime, quiet: QuietHours | None, *, urgent: bool) -> datetime:
    """When a notification reaches someone: now, or when their quiet hours end."""
    if urgent or quiet is None:
        return now
    return quiet.ends_after(now)
