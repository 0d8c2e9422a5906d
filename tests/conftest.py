"""Shared fixtures: the real local stack, brought up once per session or reused."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psycopg
import pytest
from plimsoll_events.kafka import KafkaAccess

ROOT = Path(__file__).resolve().parents[1]
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack.py"


def load_stack_module() -> ModuleType:
    """deploy/local/stack.py (a script, not a package), loaded by path once: the session's
    fixture and the fault tests' service (faults/servers.py) share it."""
    if "plimsoll_local_stack" in sys.modules:
        return sys.modules["plimsoll_local_stack"]
    spec = importlib.util.spec_from_file_location("plimsoll_local_stack", STACK_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_stack(*args: str, env: dict[str, str] | None = None, timeout: float = 900):
    return subprocess.run(
        [sys.executable, str(STACK_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass(frozen=True)
class Stack:
    kafka_bootstrap: str
    kafka_security: dict[str, Any]
    keycloak_issuer: str
    postgres: dict[str, str]
    services: dict[str, str]
    secrets: dict[str, str]
    module: ModuleType

    @property
    def kafka(self) -> KafkaAccess:
        """Kafka as the tests reach it: the stack's admin, a super user."""
        return self.kafka_as("admin")

    def kafka_as(self, principal: str) -> KafkaAccess:
        """Kafka as a principal of `endpoints.json`'s kafka_security: admin or a service."""
        entry = self.kafka_security["principals"][principal]
        return KafkaAccess(
            self.kafka_bootstrap,
            entry["username"],
            self.secrets[entry["password_secret"]],
            mechanism=self.kafka_security["sasl_mechanism"],
        )

    def token(self, username: str) -> str:
        """An access token for a demo user, by password grant on the public client."""
        response = httpx.post(
            f"{self.keycloak_issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "plimsoll-web",
                "username": username,
                "password": f"{username}-local-only",
                "scope": "openid",
            },
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def service_token(self, service: str) -> str:
        response = httpx.post(
            f"{self.keycloak_issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": f"plimsoll-{service}",
                "client_secret": self.secrets[f"{service}_client_secret"],
            },
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    module = load_stack_module()
    status = run_stack("status")
    already_up = status.returncode == 0
    # Stop the stack afterwards only if this session started all of it: a part that was
    # already running (someone's stack, perhaps restarting one service) is not ours.
    started_all = all(line.split()[1] == "down" for line in status.stdout.splitlines())
    if not already_up:
        done = run_stack("up")
        sys.stdout.write(done.stdout)
        if done.returncode != 0:
            pytest.fail(f"the stack did not come up: {done.stderr.strip()}", pytrace=False)
    endpoints = json.loads((module.STATE / "endpoints.json").read_text())
    secrets = json.loads((module.STATE / "secrets.json").read_text())
    yield Stack(
        kafka_bootstrap=endpoints["kafka_bootstrap"],
        kafka_security=endpoints["kafka_security"],
        keycloak_issuer=endpoints["keycloak_issuer"],
        postgres=endpoints["postgres"],
        services=endpoints["services"],
        secrets=secrets,
        module=module,
    )
    if started_all and not os.environ.get("PLIMSOLL_KEEP_STACK"):
        run_stack("down")


@pytest.fixture
def scratch_database(stack) -> Iterator[str]:
    """A new, empty database for one test; its SQLAlchemy URL. Dropped afterwards."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin_url = f"postgresql://plimsoll@127.0.0.1:{stack.module.PG_PORT}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield f"postgresql+psycopg://plimsoll@127.0.0.1:{stack.module.PG_PORT}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
