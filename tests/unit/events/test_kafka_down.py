"""Kafka clients made while no broker answers leave nothing running behind them."""

import socket
import threading

import pytest
from kafka.errors import KafkaError
from plimsoll_events.kafka import KafkaAccess
from plimsoll_platform.health import KafkaCheck

QUICK = {"bootstrap_timeout_ms": 200, "request_timeout_ms": 200}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kafka_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kafka-io-")]


@pytest.fixture
def nobody_listening() -> KafkaAccess:
    return KafkaAccess(f"127.0.0.1:{closed_port()}")


def test_an_admin_client_that_reaches_no_broker_stops_its_network_thread(nobody_listening):
    before = kafka_threads()
    for _ in range(3):
        with pytest.raises(KafkaError):
            nobody_listening.admin(**QUICK)
    assert kafka_threads() == before


def test_readiness_probes_while_kafka_is_down_leave_no_thread_behind(nobody_listening):
    check = KafkaCheck(nobody_listening, timeout_ms=200)
    before = kafka_threads()
    for _ in range(3):
        with pytest.raises(KafkaError):
            check()
    assert kafka_threads() == before
