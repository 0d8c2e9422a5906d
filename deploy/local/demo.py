"""A short smoke run of the local stack, printed as it goes.

The real demo (allocations, hours, supervisions, breaches, evidence) arrives
with the services; for now this shows the parts are real and talking.
"""

import json
import sys
import time
import uuid
from pathlib import Path

import httpx
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    endpoints = json.loads((ROOT / ".stack" / "endpoints.json").read_text())
    issuer = endpoints["keycloak_issuer"]

    step("Every service is live and ready")
    for name, base in endpoints["services"].items():
        ready = httpx.get(f"{base}/health/ready", timeout=10).json()
        print(f"  {name:<14} {base}  {ready['status']}  {ready['checks']}")

    step("Mo, a manager, signs in with Keycloak and asks a service who he is")
    token = httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "plimsoll-web",
            "username": "mo.manager",
            "password": "mo.manager-local-only",
        },
        timeout=10,
    ).json()["access_token"]
    me = httpx.get(
        f"{endpoints['services']['allocation']}/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    print(f"  allocation says: {me}")
    forged = token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)
    refused = httpx.get(
        f"{endpoints['services']['allocation']}/me",
        headers={"Authorization": f"Bearer {forged}"},
        timeout=10,
    )
    print(f"  a forged token gets {refused.status_code}: {refused.json()['detail']}")

    step("An event goes through Kafka and comes back")
    topic = f"demo-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=endpoints["kafka_bootstrap"])
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=endpoints["kafka_bootstrap"], enable_idempotence=True, acks="all"
    )
    sent = {"type": "smoke", "subject": "P-0001", "at": time.time()}
    producer.send(topic, key=b"P-0001", value=json.dumps(sent).encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=endpoints["kafka_bootstrap"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    received = next(iter(consumer))
    consumer.close()
    print(f"  sent {sent}\n  got  {json.loads(received.value)} (offset {received.offset})")

    step("Done. `make status` shows the stack; `make down` stops it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
