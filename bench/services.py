"""A service under benchmark: its process on a scratch database, a demo user's tokens, and
the percentiles its timings are read by. One way for every service's benchmarks."""

import math
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Generic, TypeVar

import httpx

from bench.harness import ROOT, Settings, endpoints

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


def _wait_ready(
    service: str,
    base_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    checks: tuple[str, ...],
) -> float:
    """Until the service answers and the named readiness checks are ok; how long that took."""
    began = time.perf_counter()
    deadline = began + STARTUP_TIMEOUT
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {service} service exited; see {log_path}")
        try:
            answer = httpx.get(f"{base_url}/health/ready", timeout=10)
            found = answer.json().get("checks", {})
            if all(found.get(check, {}).get("status") == "ok" for check in checks):
                return time.perf_counter() - began
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the {service} service was not ready in {STARTUP_TIMEOUT}s; {log_path}")


@contextmanager
def service_process(
    service: str,
    database_url: str,
    log_path: Path,
    settings: dict[str, str] | None = None,
    checks: tuple[str, ...] = ("database",),
) -> Iterator[tuple[str, float]]:
    """A service (uvicorn, as the stack starts it) on `database_url`: its base URL and how long
    it took to be ready. Its Kafka is a closed port unless `settings` name one: a benchmark's
    copy must never join the running stack's consumer groups."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIMSOLL_")}
    env.update(
        PLIMSOLL_DATABASE_URL=database_url,
        PLIMSOLL_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
        PLIMSOLL_KEYCLOAK_ISSUER=str(endpoints()["keycloak_issuer"]),
        PLIMSOLL_SERVICE_NAME=service,
    )
    env.update(settings or {})
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"),
        "--factory",
        f"plimsoll_{service}.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield base_url, _wait_ready(service, base_url, process, log_path, checks)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


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
