"""Commands the service sends itself (a process manager's), decided again on a lost race.

A user's command that loses a race is answered 409 and the user decides again. A
command the service sends itself (re-weighing a case after a scheme change,
answering a workload agreement) has nobody to answer: it is decided again on
the stream as it now is, a few times; if the stream keeps changing, it fails
with `StillChanging`, a transient failure (a `TimeoutError`: see
`plimsoll_events.faults.is_transient`), so the process manager retries the
whole step later rather than set the event aside as if it were at fault.
"""

from collections.abc import Callable
from typing import Final, TypeVar

from plimsoll_events.store import ConcurrencyError

ATTEMPTS: Final = 10

T = TypeVar("T")


class StillChanging(TimeoutError):
    """A stream kept changing under a command the service sends itself (see the module)."""


def decided(command: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """`command()`, run again on each `ConcurrencyError`, at most `attempts` times."""
    for _ in range(attempts - 1):
        try:
            return command()
        except ConcurrencyError:
            continue
    try:
        return command()
    except ConcurrencyError as lost:
        raise StillChanging(f"{lost} (after {attempts} attempts); try again later") from lost
