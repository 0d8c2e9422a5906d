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
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from conftest import load_stack_module
from kafka.admin import KafkaAdminClient
from plimsoll_events.kafka import KafkaAccess
from stack.events.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
KAFKA_READY_SECONDS = 120.0
SERVICE_READY_SECONDS = 120.0

local_stack = load_stack_module()


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


class ServiceProcess(local_stack.ServiceProcess):
    """The allocation service with the stack's command and settings (deploy/local/stack.py's
    `ServiceProcess`, as the benchmarks' copies), on a private database and Kafka. The same
    port across restarts, so clients just retry."""

    def __init__(
        self, database_url: str, kafka_bootstrap: str, keycloak_issuer: str, log: Path
    ) -> None:
        port = free_port()
        settings = local_stack.service_settings(
            "allocation",
            database_url,
            kafka_bootstrap,  # plaintext: no username
            keycloak_issuer,
            PLIMSOLL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            # A private copy: no HMPPS topic, and no wellbeing topic to consume.
            PLIMSOLL_PUBLISH_HMPPS="false",
            PLIMSOLL_CONSUME_WORKLOAD_AGREEMENTS="false",
        )
        super().__init__("allocation", port, settings, log)

    def wait_ready(
        self,
        checks: tuple[str, ...] = ("database", "kafka"),
        timeout: float = SERVICE_READY_SECONDS,
    ) -> float:
        return super().wait_ready(checks, timeout)
