"""Servers the fault tests own, so that the shared stack never sees a fault: a private Kafka
broker to restart, and the allocation service as a process of their own, to kill -9.

PostgreSQL is `stack.events.servers.PrivatePostgres` (a cluster of the test module's own).
The broker is the stack's Kafka distribution (the jars `deploy/local/stack.py` installs in
`.cache/`, run by the same Java), one KRaft node, plaintext on loopback: the service connects
without SASL when `PLIMSOLL_KAFKA_USERNAME` is unset, and nobody else knows the port.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
from kafka.admin import KafkaAdminClient
from plimsoll_events.kafka import KafkaAccess
from stack.events.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
KAFKA_READY_SECONDS = 120.0
SERVICE_READY_SECONDS = 120.0


def _wait(what: str, probe, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} was not ready in {seconds}s; see {log}")


class PrivateKafka:
    """One KRaft node (broker and controller), plaintext, on ports and storage of its own.
    `restart` stops it (SIGTERM, a controlled shutdown) and starts it on the same ports and
    storage; `kill` is SIGKILL."""

    def __init__(self, home: Path, stack_module: ModuleType) -> None:
        self.home = home
        self.port = free_port()
        self.controller_port = free_port()
        self.java = stack_module.find_java(17)
        self.lib = stack_module.CACHE / f"kafka-{stack_module.KAFKA_VERSION}" / "lib"
        self.log = home / "kafka.log"
        self.config = home / "server.properties"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def access(self) -> KafkaAccess:
        return KafkaAccess(self.bootstrap)

    def _java(self, main: str, *args: str, heap: str = "-Xmx256m") -> list[str]:
        log_config = ROOT / "deploy/local/kafka-broker/log4j2.yaml"
        return [
            # A test broker starts often and carries little: the quick JIT tier and the
            # serial collector start it sooner on a small, busy machine.
            self.java, heap, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={log_config}",
            "-cp", f"{self.lib}/*", main, *args,
        ]  # fmt: skip

    def format(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.home / 'data'}",
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "default.replication.factor=1",
                    "min.insync.replicas=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        # What `kafka-storage random-uuid` prints (16 random bytes, base64url, never starting
        # with "-", which would read as an option), without starting a JVM for it.
        cluster = "-"
        while cluster.startswith("-"):
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(self.config)),
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.config), heap="-Xmx512m"),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        _wait("the private Kafka", self.ready, KAFKA_READY_SECONDS, self.log)

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the private Kafka exited; see {self.log}")
        try:
            admin = KafkaAdminClient(
                **self.access.options(), bootstrap_timeout_ms=2000, request_timeout_ms=2000
            )
        except Exception:
            return False
        try:
            admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            admin.close()

    def stop(self, sig: int = signal.SIGTERM, grace: float = 60) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def private_kafka(stack_module: ModuleType) -> Iterator[PrivateKafka]:
    home = Path(tempfile.mkdtemp(prefix="plimsoll-kafka-", dir="/tmp"))
    server = PrivateKafka(home, stack_module)
    try:
        server.format()
        server.start()
        yield server
    finally:
        server.stop(signal.SIGKILL, grace=30)
        shutil.rmtree(home, ignore_errors=True)


class ServiceProcess:
    """The allocation service under uvicorn, as the stack starts it (`Service.start` in
    deploy/local/stack.py; env logic as bench/services.py's `service_process`), on a private
    database and Kafka. The same port across restarts, so clients just retry."""

    def __init__(
        self, database_url: str, kafka_bootstrap: str, keycloak_issuer: str, log: Path
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLIMSOLL_")}
        self.env.update(
            PLIMSOLL_SERVICE_NAME="allocation",
            PLIMSOLL_DATABASE_URL=database_url,
            PLIMSOLL_KAFKA_BOOTSTRAP=kafka_bootstrap,  # plaintext: no username
            PLIMSOLL_KEYCLOAK_ISSUER=keycloak_issuer,
            PLIMSOLL_PUBLIC_BASE_URL=self.base_url,
            # A private copy: no HMPPS topic, and no wellbeing topic to consume.
            PLIMSOLL_PUBLISH_HMPPS="false",
            PLIMSOLL_CONSUME_WORKLOAD_AGREEMENTS="false",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            str(ROOT / ".venv" / "bin" / "uvicorn"), "--factory",
            "plimsoll_allocation.main:create_app", "--host", "127.0.0.1",
            "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def wait_ready(self, checks: tuple[str, ...] = ("database", "kafka")) -> float:
        """Until /health/ready says the named checks are ok; how long that took."""
        began = time.monotonic()

        def ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the allocation service exited; see {self.log}")
            try:
                found = httpx.get(f"{self.base_url}/health/ready", timeout=5).json()["checks"]
            except (httpx.HTTPError, ValueError, KeyError):
                return False
            return all(found.get(check, {}).get("status") == "ok" for check in checks)

        _wait("the allocation service", ready, SERVICE_READY_SECONDS, self.log)
        return time.monotonic() - began

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, whatever was in flight is cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
