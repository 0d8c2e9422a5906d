"""A service under benchmark: its process on a scratch database, a demo user's tokens, and
the percentiles its timings are read by. One way for every service's benchmarks."""

import math
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Generic, TypeVar

import httpx

from bench.harness import Settings, endpoints, local_stack

WEB_CLIENT = "plimsoll-web"
STARTUP_TIMEOUT = 180.0
Loaded = TypeVar("Loaded")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank, of values already sorted."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Tokens:
    """A demo user's access token from Keycloak (password grant), renewed before expiry."""

    def __init__(self, issuer: str, username: str, password: str) -> None:
        self.issuer, self.username, self.password = issuer, username, password
        self._token, self._expires = "", 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() > self._expires - 60:
            answer = httpx.post(
                f"{self.issuer}/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": WEB_CLIENT,
                    "username": self.username,
                    "password": self.password,
                },
                timeout=30,
            )
            answer.raise_for_status()
            body = answer.json()
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body.get("expires_in", 300))
        return {"Authorization": f"Bearer {self._token}"}


@contextmanager
def service_process(
    service: str,
    database_url: str,
    log_path: Path,
    settings: dict[str, str] | None = None,
    checks: tuple[str, ...] = ("database",),
) -> Iterator[tuple[str, float]]:
    """A service (uvicorn, as the stack starts it: deploy/local/stack.py's `ServiceProcess`,
    with the stack's command and settings) on `database_url`: its base URL and how long it took
    to be ready. Its Kafka is a closed port unless `settings` name one: a benchmark's copy must
    never join the running stack's consumer groups."""
    stack = local_stack()
    process = stack.ServiceProcess(
        service,
        free_port(),
        stack.service_settings(
            service,
            database_url,
            f"127.0.0.1:{free_port()}",
            str(endpoints()["keycloak_issuer"]),
            **(settings or {}),
        ),
        log_path,
    )
    process.start()
    try:
        yield process.base_url, process.wait_ready(checks, STARTUP_TIMEOUT)
    finally:
        process.stop()


class SharedLoad(Generic[Loaded]):
    """Within `shared()`, a module's benchmarks share one loaded service per mode (loading is
    the slow part); called on their own, each loads its own."""

    def __init__(self, load: Callable[[Settings], AbstractContextManager[Loaded]]) -> None:
        self._load = load
        self._scope: ExitStack | None = None
        self._loaded: dict[str, Loaded] = {}

    @contextmanager
    def shared(self) -> Iterator[None]:
        with ExitStack() as scope:
            self._scope = scope
            try:
                yield
            finally:
                self._scope = None
                self._loaded.clear()

    @contextmanager
    def loaded(self, settings: Settings) -> Iterator[Loaded]:
        if self._scope is None:
            with self._load(settings) as loaded:
                yield loaded
            return
        if settings.mode not in self._loaded:
            self._loaded[settings.mode] = self._scope.enter_context(self._load(settings))
        yield self._loaded[settings.mode]
