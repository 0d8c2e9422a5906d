"""Who reaches whose records: the scope rules of every service, in one place.

The token places the caller (`auth.Principal`):

* admins and service accounts reach everything (`roles.EVERYWHERE`);
* a head of service reaches their area, the region of their `region` claim;
* a manager reaches their own team (`team` claim);
* a practitioner reaches their own record (`practitioner_id` claim), where a
  route allows it;
* operations staff reach aggregates only, where a route serves them figures
  without names.

A route declares who may call it, once, as a dependency built by `may`:

    Reader = Annotated[Caller, Depends(may(*SCOPED, own_record=True))]

The dependency refuses a role the rule does not name (403 `forbidden`) before
anything is read. The route then reads the record it is about and asks the
`Caller` to check its place (`check_practitioner`, `check_record` for any other
record, `check_place`, `named_figures`, `check_region`): the record is read
once, for the answer and for the check.

A caller whose scope is not everywhere cannot tell a record outside their scope
from one that does not exist: both are 403 `outside-scope`, naming only the
caller's own team or region, never the other record's. Admins and service
accounts get 404 for what does not exist.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as attribute
from typing import Final

from fastapi import Request
from plimsoll_events.refusals import NotFound, NotPermitted, OutsideScope

from plimsoll_platform.access_log import reads_of
from plimsoll_platform.auth import CurrentPrincipal, Principal
from plimsoll_platform.roles import EVERYWHERE, Role

_OWN: Final = "your own record"


@dataclass(frozen=True)
class Place:
    """Where a record sits: its team, and that team's region (None: not known yet)."""

    team_id: str
    region_id: str | None


class Forbidden(NotPermitted):
    """The caller's role does not allow the request at all, whatever the record."""

    kind = "forbidden"
    title = "Forbidden"


@dataclass(frozen=True)
class Rule:
    """Who may call a route: roles with a scope, the practitioner themself, ops' figures."""

    roles: frozenset[Role]
    own_record: bool = False
    aggregates: bool = False

    def admits(self, principal: Principal) -> bool:
        return (
            principal.has_any(*self.roles)
            or (self.own_record and Role.PRACTITIONER in principal.roles)
            or (self.aggregates and Role.OPS in principal.roles)
        )

    def describe(self) -> str:
        named = sorted(str(role) for role in self.roles)
        if self.own_record:
            named.append("the practitioner themself")
        if self.aggregates:
            named.append("ops (figures only)")
        return ", ".join(named)


@dataclass(frozen=True)
class Caller:
    """An admitted caller and the rule of the route they called.

    On a read (GET), each practitioner whose record the caller is let into is noted
    in `reads` (the access log: `access_log.ReadsRecorded` records who read whose
    data before the answer leaves); a route that serves named figures of several
    practitioners notes them with `served`.
    """

    principal: Principal
    rule: Rule
    reads: list[str] | None = attribute(default=None, compare=False, repr=False)

    def served(self, *practitioner_ids: str) -> None:
        """Note that the answer shows these practitioners' data (a team's names, say)."""
        if self.reads is not None:
            self.reads.extend(practitioner_ids)

    @property
    def actor_id(self) -> str:
        """Who the caller is in events and logs: their username, else the token subject."""
        return self.principal.username or self.principal.subject

    @property
    def everywhere(self) -> bool:
        """The caller reaches every record of the route (an admin or service it admits)."""
        return self.principal.has_any(*(EVERYWHERE & self.rule.roles))

    def is_practitioner(self, practitioner_id: str) -> bool:
        """The caller is this practitioner, and the route lets a practitioner act for themself."""
        principal = self.principal
        return (
            self.rule.own_record
            and Role.PRACTITIONER in principal.roles
            and principal.practitioner_id == practitioner_id
        )

    def reaches(self, place: Place) -> bool:
        """The caller's scope (by the route's roles) includes this place."""
        principal, roles = self.principal, self.rule.roles
        if self.everywhere:
            return True
        if (
            Role.HEAD_OF_SERVICE in roles
            and Role.HEAD_OF_SERVICE in principal.roles
            and principal.region is not None
            and place.region_id == principal.region
        ):
            return True
        return (
            Role.MANAGER in roles
            and Role.MANAGER in principal.roles
            and principal.team == place.team_id
        )

    def check_practitioner(
        self, practitioner_id: str, place: Place | None, *, field: str | None = None
    ) -> None:
        """Refuse unless the caller is the practitioner or reaches where they are placed.

        `place` None: nobody of that id is known (`NotFound` for admins and
        services; for everyone else the same refusal as a record outside scope).
        """
        if self.is_practitioner(practitioner_id) or (place is not None and self.reaches(place)):
            self.served(practitioner_id)
            return
        if place is None and self.everywhere:
            raise NotFound(f"no practitioner {practitioner_id!r}", field=field)
        raise OutsideScope(self._outside(practitioner_id), field=field)

    def check_record(self, record: str, place: Place | None, *, field: str | None = None) -> None:
        """`check_practitioner` for any other record, described as `record` ("case X1"):
        refuse unless the caller reaches the place it is held in; None: no such record."""
        if place is None:
            if self.everywhere:
                raise NotFound(f"no {record}", field=field)
        elif self.reaches(place):
            return
        scope = self._scope()
        outside = f"{record} is not yours" if scope == _OWN else f"{record} is not in {scope}"
        raise OutsideScope(outside, field=field)

    def check_place(
        self, place: Place, *, field: str | None = None, region_field: str | None = None
    ) -> None:
        """Refuse unless the caller reaches the place (a team named in a command, say).

        The refusal names `field`, or `region_field` (where the command names the
        region too) when the caller reaches by region here: a head of service."""
        if self.reaches(place):
            return
        principal = self.principal
        if region_field is not None and self._by_region:
            field = region_field
        if place.region_id is None and principal.has_any(Role.HEAD_OF_SERVICE):
            reason = (
                f"nobody is registered in team {place.team_id} yet, so its region is not "
                "known: an admin acts there"
            )
        else:
            reason = f"team {place.team_id} is outside {self._scope()}"
        raise OutsideScope(reason, field=field)

    def named_figures(self, place: Place) -> bool:
        """Whether the caller sees a team's or region's figures with names (True) or as
        aggregates only (False, ops); refuses everyone else outside their scope."""
        if self.reaches(place):
            return True
        if self.rule.aggregates and Role.OPS in self.principal.roles:
            return False
        raise OutsideScope(f"team {place.team_id} is outside {self._scope()}")

    def check_region(self, region_id: str, *, field: str | None = None) -> bool:
        """Whether the caller sees the region's figures with names (its head of service,
        admins, services) or as aggregates (ops); refuses everyone else."""
        principal = self.principal
        if self.everywhere or (
            Role.HEAD_OF_SERVICE in self.rule.roles
            and Role.HEAD_OF_SERVICE in principal.roles
            and principal.region == region_id
        ):
            return True
        if self.rule.aggregates and Role.OPS in principal.roles:
            return False
        raise OutsideScope(
            f"region {region_id} is outside {self._scope()}: a region is read by its head "
            "of service and admins",
            field=field,
        )

    @property
    def _by_region(self) -> bool:
        return (
            self.principal.has_any(Role.HEAD_OF_SERVICE) and Role.HEAD_OF_SERVICE in self.rule.roles
        )

    def _scope(self) -> str:
        principal = self.principal
        if self._by_region:
            if principal.region is None:
                return "your region: your account has none"
            return f"your region ({principal.region})"
        if principal.has_any(Role.MANAGER) and Role.MANAGER in self.rule.roles:
            return f"your team ({principal.team})"
        return _OWN

    def _outside(self, practitioner_id: str) -> str:
        if self._scope() == _OWN:
            return f"{practitioner_id} is not you: a practitioner reaches only their own record"
        return f"{practitioner_id} is not a practitioner in {self._scope()}"


def may(
    *roles: Role, own_record: bool = False, aggregates: bool = False
) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers with one of `roles` (each within its scope), the
    practitioner themself if `own_record`, ops for figures if `aggregates`; 403 for others."""
    rule = Rule(frozenset(roles), own_record, aggregates)

    async def admit(request: Request, principal: CurrentPrincipal) -> Caller:
        if not rule.admits(principal):
            raise Forbidden(f"this needs one of: {rule.describe()}")
        return Caller(principal, rule, reads=reads_of(request))

    return admit


SCOPED: Final = (Role.MANAGER, Role.HEAD_OF_SERVICE, Role.ADMIN, Role.SERVICE)
"""The roles that reach a team's records, each within its scope: a manager their team, a
head of service their region, admins and services everywhere."""
