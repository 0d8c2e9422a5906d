"""The local Plimsoll stack, without containers: `up`, `down`, `status`, `logs`, `reset`.

Starts real servers on loopback and non-default ports: PostgreSQL from the
distribution's packages, Apache Kafka (KRaft) from its Maven Central jars,
Keycloak from its Maven Central distribution, then the Plimsoll services.
Whatever is missing is installed first. Every wait has a deadline; on any
failure the script says what failed in one line, stops what it started in this
run, and exits non-zero.

Runtime state (data, logs, pids, endpoints.json, generated secrets) lives in
`.stack/`; downloads live in `.cache/`, which `reset` keeps.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plimsoll_events.kafka import KafkaAccess

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("PLIMSOLL_STACK_DIR", ROOT / ".stack"))
CACHE = Path(os.environ.get("PLIMSOLL_CACHE_DIR", ROOT / ".cache"))
LOGS = STATE / "logs"
PIDS = STATE / "pids"
HOST = "127.0.0.1"

KAFKA_VERSION = "4.1.1"
KEYCLOAK_VERSION = "26.4.7"
REALM = "plimsoll"
SERVICES = ("allocation", "timesheet", "wellbeing", "notifications", "audit")
APP_ROLES = ("audit_app",)


def port(name: str, default: int) -> int:
    return int(os.environ.get(f"PLIMSOLL_{name}_PORT", default))


PG_PORT = port("PG", 55432)
KAFKA_PORT = port("KAFKA", 59092)
KAFKA_CONTROLLER_PORT = port("KAFKA_CONTROLLER", 59093)
KEYCLOAK_PORT = port("KEYCLOAK", 58080)
KEYCLOAK_MANAGEMENT_PORT = port("KEYCLOAK_MANAGEMENT", 59000)
SMTP_PORT = port("SMTP", 58025)
SERVICE_PORTS = {s: port(s.upper(), 58101 + i) for i, s in enumerate(SERVICES)}

KAFKA_BOOTSTRAP = f"{HOST}:{KAFKA_PORT}"
# Clients authenticate with SASL/SCRAM as one principal each; ACLs decide what each may do.
KAFKA_PROTOCOL = "SASL_PLAINTEXT"
KAFKA_MECHANISM = "SCRAM-SHA-512"
KAFKA_BROKER_USER = "broker"  # the broker's own principal (inter-broker and controller links)
KAFKA_ADMIN_USER = "admin"  # super user of the stack script, tests, benchmarks and the demo
KAFKA_ACLS = ROOT / "deploy/local/kafka-acls.toml"
# Written beside Kafka's storage once formatted. Storage formatted otherwise (before SASL, or
# with other broker/admin passwords) holds no usable credentials and is formatted again.
KAFKA_SECURITY_GENERATION = "sasl-scram-sha-512/1"
KEYCLOAK_ISSUER = f"http://{HOST}:{KEYCLOAK_PORT}/realms/{REALM}"


class StackError(Exception):
    """One line saying what failed and how to fix it."""


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def run(
    cmd: list[str],
    *,
    what: str,
    timeout: float = 600,
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input,
            env=env,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise StackError(f"{what}: {cmd[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: no result after {timeout:.0f}s ({' '.join(cmd)})") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise StackError(f"{what} failed (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def wait_until(what: str, probe: Callable[[], bool], timeout: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.5)
    hint = f"; see {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log}" if log else ""
    raise StackError(f"{what} did not become ready within {timeout:.0f}s{hint}")


def port_in_use(number: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, number)) == 0


def require_free(number: int, what: str, variable: str) -> None:
    if port_in_use(number):
        raise StackError(
            f"port {number} for {what} is already in use by another program: "
            f"stop it or set {variable} to a free port"
        )


def is_root() -> bool:
    return os.geteuid() == 0


_apt_updated = False


def apt_install(*packages: str) -> None:
    global _apt_updated
    if not is_root():
        raise StackError(
            f"missing {' '.join(packages)}: run `sudo apt-get install -y {' '.join(packages)}`"
        )
    say(f"installing {' '.join(packages)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        run(["apt-get", "update", "-q"], what="apt-get update", env=env)
        _apt_updated = True
    run(
        ["apt-get", "install", "-y", "-q", *packages],
        what=f"apt-get install {' '.join(packages)}",
        env=env,
    )


# --- processes we start ------------------------------------------------------------------------


def pid_file(name: str) -> Path:
    return PIDS / f"{name}.pid"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A process that has exited but that nobody has reaped yet (its parent, the `up`
    # that started it, is long gone) still answers signals: it is not running.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    return pid if pid and alive(pid) else None


def spawn(
    name: str, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    process = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,  # survives `make`, and is stopped as one process group
    )
    pid_file(name).write_text(str(process.pid))
    return process.pid


def stop_process(name: str, grace: float = 30) -> bool:
    pid = running_pid(name)
    pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


# --- a Plimsoll service's process --------------------------------------------------------------
# One way to start a service, for the stack's own (`Service`), a benchmark's copy on a scratch
# database (bench/services.py) and the fault tests' service on private servers
# (tests/faults/servers.py): what is measured and broken there is what the stack runs.


def service_command(service: str, port: int) -> list[str]:
    return [
        str(ROOT / ".venv" / "bin" / "uvicorn"),
        "--factory",
        f"plimsoll_{service}.main:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
    ]


def service_settings(
    service: str, database_url: str, kafka_bootstrap: str, keycloak_issuer: str, **extra: str
) -> dict[str, str]:
    """The PLIMSOLL_* variables every service needs, then `extra` (which may replace them)."""
    return {
        "PLIMSOLL_SERVICE_NAME": service,
        "PLIMSOLL_DATABASE_URL": database_url,
        "PLIMSOLL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PLIMSOLL_KEYCLOAK_ISSUER": keycloak_issuer,
        **extra,
    }


class ServiceProcess:
    """A service as a child of this process, for a caller that owns it (a benchmark, the fault
    tests), where the stack's services are daemons with pid files. It inherits this process's
    environment without any PLIMSOLL_* variable, so that only `settings` say what it connects
    to: never the stack's servers by accident. `start` again after `kill` or `stop` keeps the
    port (clients just retry) and the log."""

    def __init__(self, service: str, port: int, settings: dict[str, str], log: Path) -> None:
        self.service, self.port, self.log = service, port, log
        self.base_url = f"http://{HOST}:{port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PLIMSOLL_")}
        self.env = inherited | settings
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                service_command(self.service, self.port),
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, checks: tuple[str, ...], timeout: float) -> float:
        """Until /health/ready says the named checks are ok; how long that took. A process that
        exits (a bad setting, a port taken) fails at once rather than at the deadline."""
        import httpx

        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.process is None or self.process.poll() is not None:
                raise StackError(f"the {self.service} service exited; see {self.log}")
            try:
                found = httpx.get(f"{self.base_url}/health/ready", timeout=5).json()["checks"]
                if all(found.get(check, {}).get("status") == "ok" for check in checks):
                    return time.monotonic() - began
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise StackError(f"the {self.service} service was not ready in {timeout:.0f}s; {self.log}")

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, whatever was in flight is cut."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def stop(self, grace: float = 20) -> None:
        """SIGTERM, so that it shuts down cleanly; SIGKILL after `grace` seconds."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


# --- components --------------------------------------------------------------------------------


@dataclass
class Component:
    name: str

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    def running(self) -> bool:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def install(self) -> None:
        """Make sure everything needed to start is on the machine."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> bool:
        return stop_process(self.name)

    def url(self) -> str:
        raise NotImplementedError


INCLUDE = "include 'plimsoll.conf'"


class Postgres(Component):
    """A private cluster owned by the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        super().__init__("postgres")
        self.home = self._home()
        self.data = self.home / "data"
        self.sockets = self.home / "run"

    @property
    def log(self) -> Path:
        # Beside the cluster, where the postgres user can always write.
        return self.home / "postgres.log"

    @staticmethod
    def _home() -> Path:
        home = STATE / "postgres"
        if is_root() and not _postgres_can_reach(STATE):
            # A checkout under a private folder (e.g. /root) is not reachable by the
            # postgres user: keep the cluster in a world-traversable place instead.
            digest = hashlib.sha256(str(STATE).encode()).hexdigest()[:12]
            home = Path("/var/tmp") / f"plimsoll-{digest}" / "postgres"  # noqa: S108
        return home

    def bin(self, tool: str) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
        if not found:
            raise StackError(f"PostgreSQL's {tool} not found after install")
        return str(found[-1])

    def as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if is_root() else cmd

    def install(self) -> None:
        if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
            apt_install("postgresql")

    def running(self) -> bool:
        pid_path = self.data / "postmaster.pid"
        if not pid_path.exists():
            return False
        pid = int(pid_path.read_text().splitlines()[0])
        return alive(pid)

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url_for("postgres", "plimsoll"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def url_for(self, database: str, user: str) -> str:
        return f"postgresql://{user}@{HOST}:{PG_PORT}/{database}"

    def url(self) -> str:
        return f"{HOST}:{PG_PORT}"

    def _initdb(self) -> None:
        say("creating the PostgreSQL cluster")
        self.home.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if is_root():
            shutil.chown(self.home, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        run(
            self.as_owner(
                [
                    self.bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "plimsoll",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ]
            ),
            what="initdb",
        )

    def _configure(self) -> None:
        """Rewritten at every start, so a change here needs no `make reset`."""
        settings = {
            # Loopback only, trust auth: a developer's private cluster.
            "port": str(PG_PORT),
            "listen_addresses": f"'{HOST}'",
            "unix_socket_directories": f"'{self.sockets}'",
            "max_connections": "300",
            # Room for an event store's write load. Durability stays on: fsync and
            # synchronous_commit keep their defaults.
            "shared_buffers": "512MB",
            "wal_buffers": "32MB",
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
        }
        text = "".join(f"{name} = {value}\n" for name, value in settings.items())
        conf = self.data / "plimsoll.conf"
        run(self.as_owner(["sh", "-c", f"cat > {conf}"]), what="configure PostgreSQL", input=text)
        main_conf = self.data / "postgresql.conf"
        if INCLUDE not in main_conf.read_text():
            run(
                self.as_owner(["sh", "-c", f"cat >> {main_conf}"]),
                what="configure PostgreSQL",
                input=f"\n{INCLUDE}\n",
            )

    def start(self) -> None:
        require_free(PG_PORT, "PostgreSQL", "PLIMSOLL_PG_PORT")
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._configure()
        run(
            self.as_owner(
                [
                    self.bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            what="starting PostgreSQL",
            timeout=90,
        )

    def stop(self) -> bool:
        if not self.running():
            return False
        run(
            self.as_owner([self.bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            what="stopping PostgreSQL",
            timeout=90,
        )
        return True

    def create_databases(self) -> None:
        import psycopg

        with psycopg.connect(self.url_for("postgres", "plimsoll"), autocommit=True) as conn:
            for service in SERVICES:
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (service,))
                if exists.fetchone() is None:
                    conn.execute(f'create role "{service}" login')
                exists = conn.execute("select 1 from pg_database where datname = %s", (service,))
                if exists.fetchone() is None:
                    conn.execute(f'create database "{service}" owner "{service}"')
            # The audit service runs as a role apart from its database's owner, so that its
            # log tables can be granted SELECT and INSERT only (the service grants them).
            for role in APP_ROLES:
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,))
                if exists.fetchone() is None:
                    conn.execute(f'create role "{role}" login')

    def republish_from_start(self) -> None:
        """Rewind every service's relays (relay_positions, plimsoll_events.relay) to the first
        event: Kafka's topics were emptied, and the event stores are the source of truth. A
        relay resends at least once by design, so rewinding it is safe."""
        import psycopg

        for service in SERVICES:
            with psycopg.connect(self.url_for(service, "plimsoll"), autocommit=True) as conn:
                found = conn.execute("select to_regclass('public.relay_positions')").fetchone()
                if found and found[0]:
                    conn.execute("update relay_positions set position = 0")


def _postgres_can_reach(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], check=False
    )
    return probe.returncode == 0


def java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    except FileNotFoundError:
        return 0
    version = out.split('"')[1] if '"' in out else "0"
    return int(version.split(".")[0])


def find_java(minimum: int) -> str:
    """The machine's `java` if new enough, else a newer JDK under /usr/lib/jvm."""
    candidates = [shutil.which("java") or "java"]
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    for java in candidates:
        if java_major(java) >= minimum:
            return java
    if is_root():
        apt_install("openjdk-17-jre-headless")
        if java_major("java") >= minimum:
            return "java"
    raise StackError(f"no Java {minimum}+ found: apt-get install -y openjdk-17-jre-headless")


def maven() -> str:
    if shutil.which("mvn") is None:
        apt_install("maven")
    return "mvn"


class Kafka(Component):
    """One combined broker and controller node in KRaft mode, clients on SASL/SCRAM only.

    Listeners: SASL_PLAINTEXT (SCRAM-SHA-512) for clients and between brokers, and the
    controller's own listener with SASL/PLAIN for the broker's principal alone (KRaft checks
    SCRAM on broker listeners only, KAFKA-15513). With PLAINTEXT there, the broker would reach
    the controller as User:ANONYMOUS, which the authorizer refuses unless it is a super user,
    and then so would be anyone who can reach the port.
    """

    def __init__(self) -> None:
        super().__init__("kafka")
        self.lib = CACHE / f"kafka-{KAFKA_VERSION}" / "lib"
        self.home = STATE / "kafka"
        self.data = self.home / "data"
        self.marker = self.home / "security"
        # Left by `reformat` until the services' relays are rewound (Postgres.republish_from_start).
        self.republish_pending = self.home / "republish-pending"

    def install(self) -> None:
        self.java = find_java(17)
        if (self.lib / ".complete").exists():
            return
        say(f"resolving Apache Kafka {KAFKA_VERSION} from Maven Central")
        self.lib.mkdir(parents=True, exist_ok=True)
        run(
            [
                maven(),
                "-q",
                "-B",
                "-f",
                str(ROOT / "deploy/local/kafka-broker/pom.xml"),
                f"-Dkafka.version={KAFKA_VERSION}",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.lib}",
            ],
            what="downloading Kafka's jars with Maven (is Maven Central reachable?)",
        )
        (self.lib / ".complete").touch()

    def running(self) -> bool:
        return running_pid(self.name) is not None

    def ready(self) -> bool:
        password = stored_secrets().get(f"kafka_{KAFKA_ADMIN_USER}_password")
        if password is None:  # a stack from before SASL: `up` has not secured it yet
            return False
        try:
            with kafka_access(KAFKA_ADMIN_USER, password).admin(
                bootstrap_timeout_ms=2000, request_timeout_ms=2000
            ) as admin:
                admin.list_topics()
            return True
        except Exception:
            return False

    def url(self) -> str:
        return KAFKA_BOOTSTRAP

    def security_marker(self) -> str:
        """What the storage's credentials were made from: the generation, and a digest of the
        broker's and admin's passwords (never the passwords)."""
        secret = load_secrets()
        digest = hashlib.sha256(
            "\n".join(
                secret[f"kafka_{u}_password"] for u in (KAFKA_BROKER_USER, KAFKA_ADMIN_USER)
            ).encode()
        ).hexdigest()[:16]
        return f"{KAFKA_SECURITY_GENERATION} {digest}\n"

    def storage_outdated(self) -> bool:
        """Formatted, but not with this generation's credentials (e.g. before SASL)."""
        if not (self.data / "meta.properties").exists():
            return False
        marker = self.marker.read_text() if self.marker.exists() else ""
        return marker != self.security_marker()

    def reformat(self) -> None:
        """Drop the storage: `start` formats it again, and the services refill the topics."""
        self.stop()
        shutil.rmtree(self.data)
        self.marker.unlink(missing_ok=True)
        self.republish_pending.touch()

    def _properties(self) -> str:
        secret = load_secrets()
        broker_password = secret[f"kafka_{KAFKA_BROKER_USER}_password"]
        scram_login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{KAFKA_BROKER_USER}" password="{broker_password}";'
        )
        # Client side (broker to controller) and server side (its one user) in one line.
        plain_login = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{KAFKA_BROKER_USER}" password="{broker_password}" '
            f'user_{KAFKA_BROKER_USER}="{broker_password}";'
        )
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{HOST}:{KAFKA_CONTROLLER_PORT}",
                f"listeners=SASL_PLAINTEXT://{HOST}:{KAFKA_PORT},CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT}",
                f"advertised.listeners=SASL_PLAINTEXT://{HOST}:{KAFKA_PORT}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=SASL_PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
                # Clients and brokers: SCRAM only.
                f"sasl.enabled.mechanisms={KAFKA_MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={KAFKA_MECHANISM}",
                f"listener.name.sasl_plaintext.{KAFKA_MECHANISM.lower()}.sasl.jaas.config={scram_login}",
                # Controller: PLAIN, one static user, the broker.
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                f"listener.name.controller.plain.sasl.jaas.config={plain_login}",
                # Nothing is allowed that no ACL allows, except to the broker and the admin.
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=false",
                f"super.users=User:{KAFKA_BROKER_USER};User:{KAFKA_ADMIN_USER}",
                f"log.dirs={self.data}",
                "num.partitions=3",
                # One node: every internal topic has one replica.
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "group.initial.rebalance.delay.ms=0",
                # Event topics are created explicitly with their own settings.
                "auto.create.topics.enable=false",
                "",
            ]
        )

    def _configure(self) -> Path:
        config = self.home / "server.properties"
        self.home.mkdir(parents=True, exist_ok=True)
        write_private(config, self._properties())  # it holds the broker's password
        if not (self.data / "meta.properties").exists():
            cluster_id = run(
                self._java("kafka.tools.StorageTool", "random-uuid"), what="kafka random-uuid"
            )
            secret = load_secrets()
            # The broker and the admin exist from the start (nobody could create them later:
            # creating a user takes an authenticated admin); the services' users come later,
            # through the admin (`secure`).
            scram = [
                arg
                for user in (KAFKA_BROKER_USER, KAFKA_ADMIN_USER)
                for arg in (
                    "--add-scram",
                    f"{KAFKA_MECHANISM}=[name={user},password={secret[f'kafka_{user}_password']}]",
                )
            ]
            run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id.strip(),
                    "-c",
                    str(config),
                    *scram,
                ),
                what="formatting Kafka storage",
            )
            self.marker.write_text(self.security_marker())
        return config

    def _java(self, main: str, *args: str, heap: str = "-Xmx256m") -> list[str]:
        log_config = ROOT / "deploy/local/kafka-broker/log4j2.yaml"
        return [
            self.java,
            heap,
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp",
            f"{self.lib}/*",
            main,
            *args,
        ]

    def start(self) -> None:
        require_free(KAFKA_PORT, "Kafka", "PLIMSOLL_KAFKA_PORT")
        require_free(
            KAFKA_CONTROLLER_PORT, "the Kafka controller", "PLIMSOLL_KAFKA_CONTROLLER_PORT"
        )
        config = self._configure()
        spawn(self.name, self._java("kafka.Kafka", str(config), heap="-Xmx1g"))

    def secure(self) -> None:
        """Give every service its SCRAM user, and make the ACLs those of kafka-acls.toml."""
        from kafka.admin import (
            ACL,
            ACLFilter,
            ACLOperation,
            ACLPermissionType,
            ACLResourcePatternType,
            ResourcePattern,
            ResourcePatternFilter,
            ResourceType,
            UserScramCredentialUpsertion,
        )

        wanted = kafka_acls(read_acl_table())
        secret = load_secrets()
        principals = {f"User:{s}" for s in SERVICES}
        admin = kafka_access(KAFKA_ADMIN_USER).admin()
        try:
            # Users: add the missing ones (a stack formatted before a service existed).
            known = set(admin.describe_user_scram_credentials())
            missing = [s for s in SERVICES if s not in known]
            if missing:
                failed = admin.alter_user_scram_credentials(
                    [
                        UserScramCredentialUpsertion(
                            s, KAFKA_MECHANISM, secret[f"kafka_{s}_password"]
                        )
                        for s in missing
                    ]
                )
                if any(failed.values()):
                    raise StackError(f"creating Kafka users failed: {failed}")
            # ACLs: the table is the whole truth for the services' principals.
            every = ACLFilter(
                None,
                None,
                ACLOperation.ANY,
                ACLPermissionType.ANY,
                ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
            )
            ours = [a for a in admin.describe_acls(every)[0] if a.principal in principals]
            present = {acl_entry(a) for a in ours}

            def acl(entry: AclEntry) -> Any:
                principal, resource, name, pattern, operation = entry
                return ACL(
                    principal,
                    "*",
                    ACLOperation[operation],
                    ACLPermissionType.ALLOW,
                    ResourcePattern(ResourceType[resource], name, ACLResourcePatternType[pattern]),
                )

            if wanted - present:
                created = admin.create_acls([acl(e) for e in sorted(wanted - present)])
                if created["failed"]:
                    raise StackError(f"creating Kafka ACLs failed: {created['failed'][0]}")
            stray = [a for a in ours if acl_entry(a) not in wanted]
            if stray:
                for _, _, error in admin.delete_acls(stray):
                    if error.errno:
                        raise StackError(f"removing stray Kafka ACLs failed: {error}")
        except StackError:
            raise
        except Exception as exc:
            raise StackError(
                f"securing Kafka (users and ACLs) failed: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            admin.close()


# --- Kafka's principals and ACLs ---------------------------------------------------------------

# (principal, resource type, resource name, pattern type, operation), all ALLOW from any host.
AclEntry = tuple[str, str, str, str, str]
ACL_RIGHTS = {"owns", "reads", "groups"}


def read_acl_table() -> dict[str, dict[str, Any]]:
    """deploy/local/kafka-acls.toml, checked: one table per service, owning its own topic."""
    from plimsoll_events.catalogue import topic_for

    where = KAFKA_ACLS.relative_to(ROOT)
    try:
        table = tomllib.loads(KAFKA_ACLS.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StackError(f"cannot read {where}: {exc}") from exc
    if set(table) != set(SERVICES):
        raise StackError(f"{where} must have one table per service ({', '.join(SERVICES)})")
    for service, rights in table.items():
        if set(rights) != ACL_RIGHTS:
            raise StackError(
                f"{where}: [{service}] must set exactly {', '.join(sorted(ACL_RIGHTS))}"
            )
        if rights["owns"] != topic_for(service):
            raise StackError(f"{where}: [{service}] owns {topic_for(service)}, its own topic")
    return table


def kafka_acls(table: dict[str, dict[str, Any]]) -> set[AclEntry]:
    """The ACLs the table means (see the comment at the top of kafka-acls.toml)."""
    from plimsoll_events.catalogue import dead_letter_topic

    wanted: set[AclEntry] = set()
    for service, rights in table.items():
        principal = f"User:{service}"
        owns = rights["owns"]
        for operation in ("WRITE", "DESCRIBE", "CREATE"):
            wanted.add((principal, "TOPIC", owns, "LITERAL", operation))
            wanted.add((principal, "TOPIC", f"{owns}.", "PREFIXED", operation))
        for topic in rights["reads"]:
            wanted.add((principal, "TOPIC", topic, "LITERAL", "READ"))
            if topic != owns:  # its own dead letters are under its own prefix already
                wanted.add((principal, "TOPIC", dead_letter_topic(topic), "LITERAL", "WRITE"))
        for group in rights["groups"]:
            wanted.add((principal, "GROUP", group, "PREFIXED", "READ"))
    return wanted


def acl_entry(acl: Any) -> AclEntry | None:
    """A kafka-python ACL as an entry; None for one no table can mean (a DENY, one host)."""
    if acl.host != "*" or acl.permission_type.name != "ALLOW":
        return None
    pattern = acl.resource_pattern
    return (
        acl.principal,
        pattern.resource_type.name,
        pattern.resource_name,
        pattern.pattern_type.name,
        acl.operation.name,
    )


def kafka_access(user: str, password: str | None = None) -> KafkaAccess:
    """How `user` reaches the stack's Kafka (password from secrets.json unless given)."""
    from plimsoll_events.kafka import KafkaAccess

    if password is None:
        password = load_secrets()[f"kafka_{user}_password"]
    return KafkaAccess(KAFKA_BOOTSTRAP, user, password, KAFKA_MECHANISM)


class Keycloak(Component):
    """Keycloak in dev mode with the realm imported from deploy/local/keycloak."""

    def __init__(self) -> None:
        super().__init__("keycloak")
        self.archive = CACHE / f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
        self.home = STATE / "keycloak" / f"keycloak-{KEYCLOAK_VERSION}"

    def install(self) -> None:
        self.java = find_java(17)
        if self.archive.exists():
            return
        say(f"downloading Keycloak {KEYCLOAK_VERSION} from Maven Central (about 160 MB)")
        CACHE.mkdir(parents=True, exist_ok=True)
        run(
            [
                maven(),
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip",
                f"-DoutputDirectory={CACHE}",
            ],
            what="downloading Keycloak with Maven (is Maven Central reachable?)",
            cwd=CACHE,
        )

    def running(self) -> bool:
        return running_pid(self.name) is not None

    def ready(self) -> bool:
        return http_ok(f"{KEYCLOAK_ISSUER}/.well-known/openid-configuration")

    def url(self) -> str:
        return KEYCLOAK_ISSUER

    def start(self) -> None:
        require_free(KEYCLOAK_PORT, "Keycloak", "PLIMSOLL_KEYCLOAK_PORT")
        require_free(
            KEYCLOAK_MANAGEMENT_PORT, "Keycloak management", "PLIMSOLL_KEYCLOAK_MANAGEMENT_PORT"
        )
        if not (self.home / "bin" / "kc.sh").exists():
            say("unpacking Keycloak")
            with zipfile.ZipFile(self.archive) as archive:
                archive.extractall(self.home.parent)
            for script in (self.home / "bin").glob("*.sh"):
                script.chmod(0o755)
        imports = self.home / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        shutil.copy(
            ROOT / "deploy/local/keycloak/realm-plimsoll.json", imports / "realm-plimsoll.json"
        )
        client_secrets = load_secrets()
        env = {
            "JAVA_HOME": str(Path(self.java).resolve().parents[1]),
            "JAVA_OPTS_KC_HEAP": "-Xms256m -Xmx768m",
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": client_secrets["keycloak_admin_password"],
            **{
                f"PLIMSOLL_{s.upper()}_CLIENT_SECRET": client_secrets[f"{s}_client_secret"]
                for s in SERVICES
            },
        }
        spawn(
            self.name,
            [
                str(self.home / "bin" / "kc.sh"),
                "start-dev",
                f"--http-host={HOST}",
                f"--http-port={KEYCLOAK_PORT}",
                f"--http-management-port={KEYCLOAK_MANAGEMENT_PORT}",
                "--health-enabled=true",
                "--import-realm",
            ],
            env=env,
        )


class Smtp(Component):
    """A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts in a
    maildir, `.stack/smtp/maildir`: what the notifications service e-mails, read back by the
    tests and the demo. Production points the service at any SMTP relay instead."""

    def __init__(self) -> None:
        super().__init__("smtp")
        self.maildir = STATE / "smtp" / "maildir"

    def running(self) -> bool:
        return running_pid(self.name) is not None

    def ready(self) -> bool:
        import smtplib

        try:
            with smtplib.SMTP(HOST, SMTP_PORT, timeout=2) as client:
                return client.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def url(self) -> str:
        return f"smtp://{HOST}:{SMTP_PORT}"

    def start(self) -> None:
        require_free(SMTP_PORT, "the SMTP server", "PLIMSOLL_SMTP_PORT")
        for folder in ("cur", "new", "tmp"):
            (self.maildir / folder).mkdir(parents=True, exist_ok=True)
        spawn(
            self.name,
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "--nosetuid",
                "--listen",
                f"{HOST}:{SMTP_PORT}",
                "--class",
                "aiosmtpd.handlers.Mailbox",
                str(self.maildir),
            ],
        )


class Service(Component):
    """A Plimsoll service under uvicorn, with its own database: a daemon with a pid file, like
    the servers, given this environment as it is (settings exported for `make up`, such as
    PLIMSOLL_LOG_LEVEL or PLIMSOLL_OTLP_ENDPOINT, reach every service)."""

    def __init__(self, service: str, postgres: Postgres) -> None:
        super().__init__(service)
        self.port = SERVICE_PORTS[service]
        self.postgres = postgres

    def running(self) -> bool:
        return running_pid(self.name) is not None

    def ready(self) -> bool:
        return http_ok(f"{self.url()}/health/ready")

    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def database_url(self) -> str:
        return self.postgres.url_for(self.name, self.name).replace(
            "postgresql://", "postgresql+psycopg://"
        )

    def start(self) -> None:
        require_free(self.port, f"the {self.name} service", f"PLIMSOLL_{self.name.upper()}_PORT")
        command = service_command(self.name, self.port)
        if not Path(command[0]).exists():
            raise StackError("the Python environment is missing: run `make install`")
        passwords = load_secrets()
        extra = {
            # Each service is its own principal on Kafka, limited by kafka-acls.toml.
            "PLIMSOLL_KAFKA_USERNAME": self.name,
            "PLIMSOLL_KAFKA_PASSWORD": passwords[f"kafka_{self.name}_password"],
            "PLIMSOLL_CLIENT_ID": f"plimsoll-{self.name}",
            "PLIMSOLL_CLIENT_SECRET": passwords[f"{self.name}_client_secret"],
        }
        if self.name == "notifications":
            # E-mail to the stack's SMTP server; webhooks to loopback receivers over http.
            extra |= {
                "PLIMSOLL_SMTP_HOST": HOST,
                "PLIMSOLL_SMTP_PORT": str(SMTP_PORT),
                "PLIMSOLL_WEBHOOK_LOCAL_MODE": "true",
                "PLIMSOLL_APP_BASE_URL": self.url(),
            }
        settings = service_settings(
            self.name, self.database_url(), KAFKA_BOOTSTRAP, KEYCLOAK_ISSUER, **extra
        )
        spawn(self.name, command, env=settings, cwd=ROOT)


SECRETS = (
    *(f"{s}_client_secret" for s in SERVICES),
    "keycloak_admin_password",
    *(f"kafka_{user}_password" for user in (KAFKA_BROKER_USER, KAFKA_ADMIN_USER, *SERVICES)),
)


def stored_secrets() -> dict[str, str]:
    """secrets.json as it is (empty before the first `up`); never writes."""
    path = STATE / "secrets.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def load_secrets() -> dict[str, str]:
    """Local-only secrets, generated once per stack and never committed. A key added since
    the stack was made (e.g. the Kafka passwords) is generated then; the others are kept."""
    values = stored_secrets()
    missing = [name for name in SECRETS if name not in values]
    if missing:
        values |= {name: secrets.token_urlsafe(24) for name in missing}
        write_private(STATE / "secrets.json", json.dumps(values, indent=2))
    return values


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, whole or not at all (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)
    partial.replace(path)


# --- commands ----------------------------------------------------------------------------------

READY_TIMEOUTS = {"postgres": 90.0, "kafka": 120.0, "keycloak": 300.0, "smtp": 30.0}
SERVICE_READY_TIMEOUT = 60.0


def components() -> tuple[Postgres, list[Component]]:
    postgres = Postgres()
    return postgres, [
        postgres,
        Kafka(),
        Keycloak(),
        Smtp(),
        *(Service(s, postgres) for s in SERVICES),
    ]


SERVERS = 4
"""How many of `components()` are servers (PostgreSQL, Kafka, Keycloak, SMTP); the rest are
the services, started once the servers are ready."""


def up() -> None:
    started: list[Component] = []
    postgres, parts = components()
    kafka = parts[1]
    assert isinstance(kafka, Kafka)
    began = time.monotonic()
    try:
        for part in parts:
            part.install()
        if kafka.storage_outdated():
            # Its services connect without credentials: they restart with them.
            for part in parts[SERVERS:]:
                part.stop()
            kafka.reformat()
            say(
                "Kafka's storage predates SASL/SCRAM or these credentials: formatted it again "
                "(local topics reset; the services publish their event stores again)"
            )
        # Start the servers together, then wait for each: Keycloak's build step is the long pole.
        for part in parts[:SERVERS]:
            if not part.running():
                say(f"starting {part.name}")
                part.start()
                started.append(part)
        for part in parts[:SERVERS]:
            wait_until(part.name, part.ready, READY_TIMEOUTS[part.name], part.log)
        kafka.secure()
        postgres.create_databases()
        if kafka.republish_pending.exists():
            postgres.republish_from_start()
            kafka.republish_pending.unlink()
        for part in parts[SERVERS:]:
            if not part.running():
                say(f"starting {part.name}")
                part.start()
                started.append(part)
        for part in parts[SERVERS:]:
            wait_until(
                f"the {part.name} service",
                part.ready,
                SERVICE_READY_TIMEOUT,
                part.log,
            )
    except (StackError, KeyboardInterrupt) as exc:
        for part in reversed(started):
            part.stop()
        raise StackError(str(exc) or "interrupted") from exc
    write_endpoints(postgres, parts)
    elapsed = time.monotonic() - began
    say(f"up in {elapsed:.1f}s ({len(started)} started); endpoints in .stack/endpoints.json")


def write_endpoints(postgres: Postgres, parts: list[Component]) -> None:
    services = [p for p in parts if isinstance(p, Service)]
    endpoints = {
        "kafka_bootstrap": KAFKA_BOOTSTRAP,
        # How to connect as whom; the passwords stay in secrets.json, under these keys.
        "kafka_security": {
            "security_protocol": KAFKA_PROTOCOL,
            "sasl_mechanism": KAFKA_MECHANISM,
            "principals": {
                user: {"username": user, "password_secret": f"kafka_{user}_password"}
                for user in (KAFKA_ADMIN_USER, *SERVICES)
            },
        },
        "keycloak_issuer": KEYCLOAK_ISSUER,
        "postgres": {s.name: s.database_url() for s in services},
        "services": {s.name: s.url() for s in services},
        "smtp": {"host": HOST, "port": SMTP_PORT, "maildir": str(STATE / "smtp" / "maildir")},
    }
    (STATE / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")


def down() -> None:
    _, parts = components()
    for part in reversed(parts):
        if part.stop():
            say(f"stopped {part.name}")
    (STATE / "endpoints.json").unlink(missing_ok=True)


def status() -> int:
    _, parts = components()
    healthy = True
    for part in parts:
        state = (
            "ready"
            if part.running() and part.ready()
            else ("starting" if part.running() else "down")
        )
        healthy &= state == "ready"
        print(f"{part.name:<14} {state:<9} {part.url()}")
    return 0 if healthy else 3


def logs(lines: int, problems: bool = False) -> None:
    """The last `lines` of each log; with `problems`, of its warnings and errors only, each cut
    short (what CI prints when the tests fail, to say what the servers saw)."""
    for path in (part.log for part in components()[1]):
        if not path.exists():
            continue
        shown = path.read_text(errors="replace").splitlines()
        if problems:
            shown = [line[:400] for line in shown if _is_problem(line)]
        print(f"==> {path} <==")
        print("\n".join(shown[-lines:]))


def _is_problem(line: str) -> bool:
    # kafka-python's note that its I/O loop waited on a busy interpreter is noise here.
    marks = ('"level": "warning"', '"level": "error"', " WARN ", " ERROR ")
    return any(mark in line for mark in marks) and "blocking the event loop" not in line


def reset() -> None:
    down()
    postgres = Postgres()
    for folder in {STATE, postgres.home.parent}:
        shutil.rmtree(folder, ignore_errors=True)
    say("state removed (downloads in .cache/ kept)")


@contextlib.contextmanager
def exclusive(timeout: float = 600) -> Iterator[None]:
    """One `up`, `down` or `reset` at a time: two at once would race for pid files and ports."""
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "stack.lock").open("w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StackError(
                        "another `make up/down/reset` has held the stack for 10 min"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down", "status", "logs", "reset"])
    parser.add_argument("--lines", type=int, default=40, help="lines of each log for `logs`")
    parser.add_argument("--problems", action="store_true", help="`logs`: warnings and errors only")
    args = parser.parse_args()
    try:
        if args.command == "status":
            return status()
        if args.command == "logs":
            logs(args.lines, args.problems)
            return 0
        with exclusive():
            {"up": up, "down": down, "reset": reset}[args.command]()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
