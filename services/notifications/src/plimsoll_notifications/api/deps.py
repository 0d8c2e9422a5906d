"""What the notifications routes depend on: the app's components and who may call."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from plimsoll_platform.access import Caller, may
from plimsoll_platform.api import held
from plimsoll_platform.clock import Clock
from plimsoll_platform.roles import Role

from plimsoll_notifications.dispatcher import Dispatcher
from plimsoll_notifications.domain.rules import Rules
from plimsoll_notifications.handlers import NotificationHandlers
from plimsoll_notifications.queries import NotificationQueries
from plimsoll_notifications.sweeps import Sweeps


@dataclass(frozen=True)
class Time:
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class RulesInForce:
    rules: Rules


HandlersDep = Annotated[NotificationHandlers, Depends(held(NotificationHandlers))]
QueriesDep = Annotated[NotificationQueries, Depends(held(NotificationQueries))]
SweepsDep = Annotated[Sweeps, Depends(held(Sweeps))]
DispatcherDep = Annotated[Dispatcher, Depends(held(Dispatcher))]
TimeDep = Annotated[Time, Depends(held(Time))]
RulesDep = Annotated[RulesInForce, Depends(held(RulesInForce))]

SignedIn = Annotated[Caller, Depends(may(*Role))]
"""Anyone with a token of the realm: their own inbox and preferences, the rules."""
Partners = Annotated[Caller, Depends(may(Role.ADMIN, Role.SERVICE))]
"""Admins and services: partners' webhook subscriptions; the sweeps on demand."""
HistoryReader = Annotated[Caller, Depends(may(Role.ADMIN, Role.SERVICE, Role.AUDITOR, *Role))]
"""Who was told what: auditors, admins, services; anyone else of their own notifications."""
