"""Servers of a test's own, for faults the shared stack must never see: a private
PostgreSQL cluster to restart, and a TCP proxy that can lose a reply on purpose."""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Event

import psycopg

BIN = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1]).parent
USER = "plimsoll"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(*command: str, timeout: float = 60) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        check=True,
        capture_output=True,
        timeout=timeout,
    )


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of one test module's own: restart it at will (durability on)."""

    home: Path
    port: int

    @property
    def data(self) -> Path:
        return self.home / "data"

    def conninfo(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"db_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is terminated, the server comes back."""
        # With a log file: the server must not inherit (and hold open) our output pipes.
        _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w",
            "restart",
        )  # fmt: skip

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def start(self) -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    home = Path(tempfile.mkdtemp(prefix="plimsoll-pg-", dir="/tmp"))
    shutil.chown(home, "postgres", "postgres")
    server = PrivatePostgres(home, free_port())
    _as_postgres(
        str(BIN / "initdb"), "-D", str(server.data), "-U", USER, "--auth=trust", "-E", "UTF8",
        "--no-locale",
    )  # fmt: skip
    settings = (
        f"port = {server.port}\nlisten_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{home}'\nshared_buffers = 32MB\nmax_connections = 100\n"
    )
    _as_postgres("sh", "-c", f"cat >> {server.data / 'postgresql.conf'} <<'EOF'\n{settings}EOF")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


class ReplyLosingProxy:
    """Forwards TCP to PostgreSQL; once armed, the next statement reaches the server and is
    executed, but its reply (up to ReadyForQuery) is dropped and the connection closed: a
    commit whose answer is lost, as when a network or the server fails at the worst moment."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.armed = threading.Event()
        self.replies_lost = 0
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closing = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            lose = threading.Event()
            for pump in (self._upstream, self._downstream):
                threading.Thread(target=pump, args=(client, server, lose), daemon=True).start()

    def _upstream(self, client: socket.socket, server: socket.socket, lose: Event) -> None:
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                if self.armed.is_set():
                    self.armed.clear()
                    lose.set()
                server.sendall(chunk)
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_WR)

    def _downstream(self, client: socket.socket, server: socket.socket, lose: Event) -> None:
        dropped = b""
        with contextlib.suppress(OSError):
            while chunk := server.recv(65536):
                if not lose.is_set():
                    client.sendall(chunk)
                    continue
                dropped += chunk
                if _has_ready_for_query(dropped):  # the server has committed and answered
                    self.replies_lost += 1
                    break
        for end in (client, server):
            with contextlib.suppress(OSError):
                # shutdown, not only close: the other pump thread is blocked reading it.
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()


def _has_ready_for_query(stream: bytes) -> bool:
    """Whether the backend messages in ``stream`` include a whole ReadyForQuery ('Z')."""
    at = 0
    while at + 5 <= len(stream):
        kind = stream[at : at + 1]
        (length,) = struct.unpack("!I", stream[at + 1 : at + 5])
        if at + 1 + length > len(stream):
            return False
        if kind == b"Z":
            return True
        at += 1 + length
    return False
