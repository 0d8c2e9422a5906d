"""The override threshold and hard ceiling are the deployment's to set.

A second allocation service is started on the stack's database with
PLIMSOLL_OVERRIDE_THRESHOLD_PERCENT=50 and PLIMSOLL_HARD_CEILING_PERCENT=55; the
same allocation is judged by both.
"""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .allocation.api import allocate_case, assert_problem, open_case, register_practitioner

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _allocation_service(stack, tmp_path: Path, **settings: str) -> Iterator[httpx.Client]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIMSOLL_")}
    env |= {
        "PLIMSOLL_DATABASE_URL": stack.postgres["allocation"],
        "PLIMSOLL_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "PLIMSOLL_KAFKA_USERNAME": stack.kafka_as("allocation").username,
        "PLIMSOLL_KAFKA_PASSWORD": stack.kafka_as("allocation").password,
        "PLIMSOLL_KEYCLOAK_ISSUER": stack.keycloak_issuer,
        **{f"PLIMSOLL_{name.upper()}": value for name, value in settings.items()},
    }
    command = [str(ROOT / ".venv/bin/uvicorn"), "--factory", "plimsoll_allocation.main:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    log = (tmp_path / "allocation.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "allocation.log").read_text()
            try:
                if client.get("/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the second allocation service never got ready"
            time.sleep(0.5)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def strict_api(stack, tmp_path_factory) -> Iterator[httpx.Client]:
    yield from _allocation_service(
        stack,
        tmp_path_factory.mktemp("strict"),
        override_threshold_percent="50",
        hard_ceiling_percent="55",
    )


def test_the_deployment_sets_the_threshold_and_the_ceiling(api, strict_api, tokens):
    practitioner_id = register_practitioner(api, tokens)  # 2176 available points
    for _ in range(7):  # 7 x licence A1 (163) = 1141 points: 52.4%
        case_id = open_case(api, tokens, "licence", "A1")
        assert allocate_case(api, tokens, case_id, practitioner_id).status_code == 201
    case_id = open_case(api, tokens, "licence", "A1")  # would make 1304 points: 59.9%

    def impact(client: httpx.Client) -> dict:
        response = client.get(
            f"/practitioners/{practitioner_id}/impact",
            params={"case_id": case_id},
            headers=tokens("mo.manager"),
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert impact(api)["needs_override_reason"] is False
    strict = impact(strict_api)
    assert (strict["needs_override_reason"], strict["needs_head_of_service"]) == (True, True)
    refused = allocate_case(strict_api, tokens, case_id, practitioner_id, override_reason="cover")
    assert "55" in assert_problem(refused, 403, "practitioner_id")["detail"]
    assert allocate_case(api, tokens, case_id, practitioner_id).status_code == 201


def test_a_threshold_above_the_ceiling_stops_the_service_saying_why(stack, tmp_path):
    with pytest.raises(AssertionError) as failed:
        for _ in _allocation_service(
            stack, tmp_path, override_threshold_percent="130", hard_ceiling_percent="120"
        ):
            pass

    assert "PLIMSOLL_OVERRIDE_THRESHOLD_PERCENT (130) is above" in str(failed.value)
