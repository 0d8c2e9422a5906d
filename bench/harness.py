"""What every benchmark shares: the local stack's servers, a scratch database,
the durability check, and timing.

Durability is not negotiable on either side of a comparison: each benchmark
checks ``synchronous_commit`` and ``fsync`` are ``on`` in its scratch database
before and after it measures, and refuses to report otherwise.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import sha256
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from plimsoll_events.kafka import KafkaAccess
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SUPERUSER = "plimsoll"
DEFAULT_PG = ("127.0.0.1", 55432)
DEFAULT_KAFKA = "127.0.0.1:59092"


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure; ``quick`` keeps the whole suite under a minute."""

    quick: bool
    seconds: float  # per timed run, per side
    warmup_seconds: float  # untimed, per side, before the first timed run
    runs: int  # timed runs per side; the median is reported
    import_events: int  # events per batch_import run
    stream_length: int = 10  # events per stream in batch_import

    @classmethod
    def for_mode(cls, *, quick: bool) -> Settings:
        if quick:
            return cls(quick=True, seconds=1.5, warmup_seconds=0.5, runs=1, import_events=20_000)
        return cls(quick=False, seconds=5.0, warmup_seconds=1.0, runs=5, import_events=200_000)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "seconds_per_run": self.seconds,
            "warmup_seconds": self.warmup_seconds,
            "runs": self.runs,
        }


# --- the local stack ------------------------------------------------------------------------


def local_stack() -> ModuleType:
    """deploy/local/stack.py, a script rather than a package, loaded by path once as the tests
    load it (tests/conftest.py): for the service process it starts (`ServiceProcess`)."""
    name = "plimsoll_local_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "local" / "stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def stack_dir() -> Path:
    return Path(os.environ.get("PLIMSOLL_STACK_DIR", ROOT / ".stack"))


def endpoints() -> dict[str, Any]:
    """``.stack/endpoints.json`` as ``make up`` wrote it (empty when the stack is not up)."""
    path = stack_dir() / "endpoints.json"
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = SUPERUSER

    def conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, dbname=dbname
        )


def postgres_server() -> PostgresServer:
    """The stack's PostgreSQL, reached as its superuser (trust auth on loopback)."""
    urls = endpoints().get("postgres") or {}
    for url in urls.values() if isinstance(urls, dict) else ():
        parsed = make_url(str(url))
        if parsed.host and parsed.port:
            return PostgresServer(parsed.host, parsed.port)
    port = int(os.environ.get("PLIMSOLL_PG_PORT", DEFAULT_PG[1]))
    return PostgresServer(DEFAULT_PG[0], port)


def kafka() -> KafkaAccess:
    """The stack's Kafka (for the relay and projection benchmarks), as the stack's admin:
    the broker takes SASL/SCRAM clients only, and benchmarks make topics of their own."""
    found = endpoints()
    security = found.get("kafka_security") or {}
    admin = security.get("principals", {}).get("admin", {})
    try:
        stored = json.loads((stack_dir() / "secrets.json").read_text())
        password = str(stored[admin.get("password_secret", "kafka_admin_password")])
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise SystemExit(
            f"bench: no Kafka admin password in {stack_dir() / 'secrets.json'}: run `make up`"
        ) from exc
    return KafkaAccess(
        str(found.get("kafka_bootstrap") or DEFAULT_KAFKA),
        str(admin.get("username", "admin")),
        password,
        mechanism=str(security.get("sasl_mechanism", "SCRAM-SHA-512")),
    )


@dataclass(frozen=True)
class ScratchDatabase:
    server: PostgresServer
    name: str

    @property
    def conninfo(self) -> str:
        return self.server.conninfo(self.name)

    @property
    def sqlalchemy_url(self) -> str:
        s = self.server
        return f"postgresql+psycopg://{s.user}@{s.host}:{s.port}/{self.name}"


@contextmanager
def scratch_database(benchmark: str) -> Iterator[ScratchDatabase]:
    """A new, empty database ``bench_<benchmark>_<random>``, dropped afterwards."""
    server = postgres_server()
    name = f"bench_{benchmark}_{secrets.token_hex(4)}"
    ident = sql.Identifier(name)
    try:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(ident))
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"error: PostgreSQL at {server.host}:{server.port} is not reachable ({exc}); "
            "run `make up` first"
        ) from exc
    try:
        yield ScratchDatabase(server, name)
    finally:
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(ident))


# --- durability -----------------------------------------------------------------------------


class DurabilityError(RuntimeError):
    """The server would not flush commits to disk: a benchmark result would be meaningless."""


REPORTED_SETTINGS = (
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "full_page_writes",
    "commit_delay",
    "server_version",
)


def settle(db: ScratchDatabase) -> float:
    """Vacuum and analyse a freshly loaded database, then checkpoint; how long it took.

    After a bulk load autovacuum and the checkpointer have minutes of work to do. Done
    here, untimed, as a deployment settles after its migration; left to themselves they
    run beside the timed requests and their tail is the maintenance's, not the service's.
    """
    began = time.perf_counter()
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("vacuum (analyze)")
        conn.execute("checkpoint")
    return time.perf_counter() - began


def check_durability(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The flush settings of ``conn``'s session; raises unless commits are durable."""
    settings: dict[str, str] = {}
    for name in REPORTED_SETTINGS:
        row = conn.execute("select current_setting(%s)", (name,)).fetchone()
        settings[name] = str(row[0]) if row else ""
    for name in ("synchronous_commit", "fsync"):
        if settings[name] != "on":
            raise DurabilityError(f"{name} is {settings[name]!r}, not 'on': refusing to benchmark")
    return settings


def durability(conninfo: str) -> dict[str, str]:
    """:func:`check_durability` in a new session on ``conninfo`` (sees database/role settings)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return check_durability(conn)


# --- timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    operations: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0


def timed_loop(operation: Callable[[], object], seconds: float) -> Rate:
    """Call ``operation`` back to back for ``seconds`` in this thread."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline:
        operation()
        count += 1
        now = time.perf_counter()
    return Rate(count, now - start)


def timed_threads(operations: Sequence[Callable[[], object]], seconds: float) -> Rate:
    """One thread per operation, released together, each calling its own back to back.

    The clock runs from the release to the moment the last thread has finished
    its last call; every call completed in that span is counted.
    """
    counts = [0] * len(operations)
    errors: list[BaseException] = []
    started: list[float] = []
    barrier = threading.Barrier(len(operations), action=lambda: started.append(time.perf_counter()))

    def worker(index: int, operation: Callable[[], object]) -> None:
        try:
            barrier.wait()
            deadline = started[0] + seconds
            n = 0
            while time.perf_counter() < deadline:
                operation()
                n += 1
            counts[index] = n
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [
        threading.Thread(target=worker, args=(i, op), name=f"bench-writer-{i}", daemon=True)
        for i, op in enumerate(operations)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = time.perf_counter()
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        raise (real or errors)[0]
    return Rate(sum(counts), end - started[0])


CPYTHON_SWITCH_INTERVAL = 0.005


@contextmanager
def cpython_switch_interval() -> Iterator[None]:
    """CPython's own GIL switch interval, for a baseline that is not Plimsoll's machinery
    (bench/run.py sets the services' shorter one, `plimsoll_events.gil`, for the rest)."""
    ours = sys.getswitchinterval()
    sys.setswitchinterval(CPYTHON_SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(ours)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 1) for v in values]


def environment() -> dict[str, Any]:
    """The machine and library versions a result was measured with."""

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    stack = local_stack()
    return {
        **source_under_test(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        # Includes the benchmark's own load; much above it means other work shared the machine.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        # The local stack's services share the machine when running (idle, ~15% of a core).
        "stack_services_running": sorted(
            s for s in stack.SERVICES if stack.running_pid(s) is not None
        ),
        "psycopg": version("psycopg"),
        "sqlalchemy": version("sqlalchemy"),
        "eventsourcing": version("eventsourcing"),
    }


EVENTS_SOURCE = ROOT / "libs" / "events" / "src" / "plimsoll_events"


@functools.cache
def source_under_test() -> dict[str, Any]:
    """Which code was measured: the commit, and a digest of plimsoll_events as it is on disk
    (it may hold uncommitted changes; ``plimsoll_events_modified`` says so).

    Cached: :mod:`bench.run` calls it at start, when the measured code was imported.
    """
    digest = sha256()
    for path in sorted(EVENTS_SOURCE.rglob("*.py")):
        digest.update(str(path.relative_to(EVENTS_SOURCE)).encode() + b"\0")
        digest.update(path.read_bytes())

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--", str(EVENTS_SOURCE))
    return {
        "git_commit": git("rev-parse", "--short=12", "HEAD"),
        "plimsoll_events_modified": bool(status) if status is not None else None,
        "plimsoll_events_sha256": digest.hexdigest()[:16],
    }
