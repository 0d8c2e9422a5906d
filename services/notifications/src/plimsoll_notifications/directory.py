"""People and their addresses, from the realm's directory: Keycloak's admin API.

The service reads users (username, e-mail, attributes, realm roles) with its own service
account (client credentials of `plimsoll-notifications`), which the realm grants
`realm-management`'s `view-users` and nothing else: so it finds users by attribute
(`practitioner_id`, `team`, `region`) and reads their role mappings, but may not list a
role's members (that needs `view-realm`), nor change anything.

Answers are cached for `ttl_seconds` (a minute by default): a burst of notifications asks
Keycloak once per person, and a change in the directory is seen within the minute.
`DirectoryUnavailable` says Keycloak could not be asked (the caller tries again later; it is
never a reason to drop a notification); an empty answer says nobody fits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError
from plimsoll_platform.service_tokens import realm_of


class DirectoryUnavailable(Exception):
    """The directory could not be asked; try again later."""


@dataclass(frozen=True)
class Person:
    username: str
    email: str | None
    roles: frozenset[str]
    practitioner_id: str | None
    team: str | None
    region: str | None


class Directory(Protocol):
    def by_username(self, username: str) -> Person | None: ...

    def by_practitioner(self, practitioner_id: str) -> Person | None: ...

    def in_team(self, team_id: str, role: str) -> list[Person]: ...

    def in_region(self, region_id: str, role: str) -> list[Person]: ...

    def with_role(self, role: str) -> list[Person]: ...


class KeycloakDirectory:
    """`Directory` over Keycloak's admin API, cached (see the module)."""

    def __init__(self, admin: KeycloakAdmin, *, ttl_seconds: float = 60.0) -> None:
        self.admin = admin
        self.ttl_seconds = ttl_seconds
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()  # python-keycloak's session is not shared safely

    @classmethod
    def for_client(
        cls, issuer: str, client_id: str, client_secret: str, *, ttl_seconds: float = 60.0
    ) -> KeycloakDirectory:
        server_url, realm = realm_of(issuer)
        connection = KeycloakOpenIDConnection(
            server_url=server_url,
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            verify=True,
            timeout=10,
        )
        return cls(KeycloakAdmin(connection=connection), ttl_seconds=ttl_seconds)

    def by_username(self, username: str) -> Person | None:
        found = self._cached(
            ("username", username),
            lambda: self._people({"username": username, "exact": True}),
        )
        return next((p for p in found if p.username == username), None)

    def by_practitioner(self, practitioner_id: str) -> Person | None:
        found = self._by_attribute("practitioner_id", practitioner_id)
        return found[0] if len(found) == 1 else None

    def in_team(self, team_id: str, role: str) -> list[Person]:
        return [p for p in self._by_attribute("team", team_id) if role in p.roles]

    def in_region(self, region_id: str, role: str) -> list[Person]:
        return [p for p in self._by_attribute("region", region_id) if role in p.roles]

    def with_role(self, role: str) -> list[Person]:
        everyone = self._cached(("everyone", ""), lambda: self._people({"max": 1000}))
        return [p for p in everyone if role in p.roles]

    def _by_attribute(self, name: str, value: str) -> list[Person]:
        found = self._cached(
            (name, value), lambda: self._people({"q": f"{name}:{value}", "exact": True})
        )
        return [p for p in found if getattr(p, name) == value]

    def _cached(self, key: tuple[str, str], load: Callable[[], list[Person]]) -> list[Person]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl_seconds:
                return list(hit[1])
            try:
                value = load()
            except KeycloakError as exc:
                raise DirectoryUnavailable(f"Keycloak's admin API did not answer: {exc}") from exc
            except OSError as exc:
                raise DirectoryUnavailable(f"Keycloak could not be reached: {exc}") from exc
            self._cache[key] = (now, value)
            return list(value)

    def _people(self, query: dict[str, Any]) -> list[Person]:
        users: Sequence[dict[str, Any]] = self.admin.get_users(query)
        people = []
        for user in users:
            if not user.get("enabled", True) or user.get("username", "").startswith(
                "service-account-"
            ):
                continue
            roles = self._roles(str(user["id"]))
            attributes = user.get("attributes") or {}
            people.append(
                Person(
                    username=str(user["username"]),
                    email=user.get("email") or None,
                    roles=roles,
                    practitioner_id=_first(attributes, "practitioner_id"),
                    team=_first(attributes, "team"),
                    region=_first(attributes, "region"),
                )
            )
        return people

    def _roles(self, user_id: str) -> frozenset[str]:
        hit = self._cache.get(("roles", user_id))
        if hit is not None and time.monotonic() - hit[0] < self.ttl_seconds:
            return frozenset(hit[1])
        mapped = self.admin.get_composite_realm_roles_of_user(user_id)
        roles = frozenset(str(role["name"]) for role in mapped)
        self._cache[("roles", user_id)] = (time.monotonic(), roles)
        return roles


def _first(attributes: dict[str, Any], name: str) -> str | None:
    values = attributes.get(name) or []
    return str(values[0]) if values else None
