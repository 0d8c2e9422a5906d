"""`deploy/local/stack.py`: idempotent `up`, and clear failures that leave nothing half-started."""

import json
import socket

from conftest import run_stack
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)


def _pids(module) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(module.PIDS.glob("*.pid"))}


def test_second_up_changes_nothing(stack):
    before = _pids(stack.module)
    endpoints = (stack.module.STATE / "endpoints.json").read_text()
    done = run_stack("up")
    assert done.returncode == 0, done.stderr
    assert "(0 started)" in done.stdout
    assert _pids(stack.module) == before
    assert (stack.module.STATE / "endpoints.json").read_text() == endpoints
    assert set(json.loads(endpoints)) == {
        "kafka_bootstrap",
        "kafka_security",
        "keycloak_issuer",
        "postgres",
        "services",
        "smtp",
    }


def test_status_reports_every_part_ready(stack):
    done = run_stack("status")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "postgres",
        "kafka",
        "keycloak",
        "smtp",
        "allocation",
        "timesheet",
        "wellbeing",
        "notifications",
        "audit",
    ]
    assert all(line.split()[1] == "ready" for line in lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_taken_port_fails_in_one_line_and_stops_what_it_started(tmp_path):
    """PostgreSQL starts on a free port, Kafka's port is taken: PostgreSQL must be stopped again."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    state = tmp_path / "state"
    env = {
        "PLIMSOLL_STACK_DIR": str(state),
        "PLIMSOLL_PG_PORT": str(_free_port()),
        "PLIMSOLL_KAFKA_PORT": str(taken),
    }
    try:
        done = run_stack("up", env=env, timeout=300)
        status = run_stack("status", env=env)
    finally:
        blocker.close()
        run_stack("reset", env=env)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert errors == [
        f"error: port {taken} for Kafka is already in use by another program: "
        "stop it or set PLIMSOLL_KAFKA_PORT to a free port"
    ]
    assert "starting postgres" in done.stdout
    assert status.stdout.splitlines()[0].split()[:2] == ["postgres", "down"]


def test_up_makes_kafkas_acls_those_of_the_table(stack):
    """An ACL granted by hand to a service's principal goes, one removed comes back.

    Both are chosen so that the running services do not notice the moment between: a
    right nobody uses, and audit's right to dead-letter a notification it cannot read."""
    stray = ACL(
        "User:timesheet",
        "*",
        ACLOperation.DESCRIBE,
        ACLPermissionType.ALLOW,
        ResourcePattern(ResourceType.TOPIC, "plimsoll.audit", ACLResourcePatternType.LITERAL),
    )
    wanted = ACL(
        "User:audit",
        "*",
        ACLOperation.WRITE,
        ACLPermissionType.ALLOW,
        ResourcePattern(
            ResourceType.TOPIC, "plimsoll.notifications.dlq", ACLResourcePatternType.LITERAL
        ),
    )
    admin = KafkaAdminClient(**stack.kafka.options())
    try:
        assert not admin.create_acls([stray])["failed"]
        admin.delete_acls([wanted])
        done = run_stack("up")
        assert done.returncode == 0, done.stderr
        every = ACLFilter(
            None,
            None,
            ACLOperation.ANY,
            ACLPermissionType.ANY,
            ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        services = {f"User:{s}" for s in stack.module.SERVICES}
        present = {
            stack.module.acl_entry(acl)
            for acl in admin.describe_acls(every)[0]
            if acl.principal in services
        }
    finally:
        admin.close()
    assert present == stack.module.kafka_acls(stack.module.read_acl_table())
