"""The directory's cache: a burst asks Keycloak once per question, a change is seen once the
answer is older than the TTL, and a failure is never cached. Keycloak's admin client is
replaced by a stand-in that counts the questions (the real one is in the stack tests)."""

from __future__ import annotations

from typing import Any

import pytest
from keycloak.exceptions import KeycloakConnectionError
from plimsoll_notifications import directory as directory_module
from plimsoll_notifications.directory import DirectoryUnavailable, KeycloakDirectory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Admin:
    """Users by id, each with attributes and realm roles; counts what it is asked."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, list[str]] = {}
        self.user_queries = 0
        self.role_queries = 0
        self.down = False

    def add(self, user_id: str, username: str, *, team: str, roles: list[str], **extra: Any):
        self.users[user_id] = {
            "id": user_id,
            "username": username,
            "email": f"{username}@example.org",
            "attributes": {"team": [team]},
            **extra,
        }
        self.roles[user_id] = roles

    def get_users(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        self.user_queries += 1
        if self.down:
            raise KeycloakConnectionError("connection refused")
        name, _, value = str(query.get("q", ":")).partition(":")
        return [u for u in self.users.values() if value in u["attributes"].get(name, [])]

    def get_composite_realm_roles_of_user(self, user_id: str) -> list[dict[str, str]]:
        self.role_queries += 1
        return [{"name": role} for role in self.roles[user_id]]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(directory_module.time, "monotonic", clock)
    return clock


@pytest.fixture
def admin() -> Admin:
    admin = Admin()
    admin.add("u1", "mo.manager", team="T-1", roles=["manager"])
    admin.add("u2", "pat.practitioner", team="T-1", roles=["practitioner"])
    return admin


def test_a_burst_asks_keycloak_once(admin: Admin, clock: Clock) -> None:
    directory = KeycloakDirectory(admin, ttl_seconds=60)
    for _ in range(20):
        [manager] = directory.in_team("T-1", "manager")
        assert manager.username == "mo.manager"
        assert manager.email == "mo.manager@example.org"
    assert admin.user_queries == 1
    assert admin.role_queries == 2  # each member's roles, once


def test_a_change_is_seen_once_the_answer_is_older_than_the_ttl(admin: Admin, clock: Clock) -> None:
    directory = KeycloakDirectory(admin, ttl_seconds=60)
    assert [p.username for p in directory.in_team("T-1", "manager")] == ["mo.manager"]
    admin.add("u3", "max.manager", team="T-1", roles=["manager"])
    clock.now += 59.9
    assert [p.username for p in directory.in_team("T-1", "manager")] == ["mo.manager"]
    clock.now += 0.2
    assert sorted(p.username for p in directory.in_team("T-1", "manager")) == [
        "max.manager",
        "mo.manager",
    ]
    assert admin.user_queries == 2


def test_keycloak_down_is_unavailable_and_not_remembered(admin: Admin, clock: Clock) -> None:
    directory = KeycloakDirectory(admin, ttl_seconds=60)
    admin.down = True
    with pytest.raises(DirectoryUnavailable, match="did not answer"):
        directory.in_team("T-1", "manager")
    admin.down = False
    assert [p.username for p in directory.in_team("T-1", "manager")] == ["mo.manager"]
    assert admin.user_queries == 2


def test_disabled_users_and_service_accounts_are_nobody(admin: Admin, clock: Clock) -> None:
    admin.add("u4", "gone.manager", team="T-1", roles=["manager"], enabled=False)
    admin.add("u5", "service-account-plimsoll-x", team="T-1", roles=["manager"])
    directory = KeycloakDirectory(admin, ttl_seconds=60)
    assert [p.username for p in directory.in_team("T-1", "manager")] == ["mo.manager"]
