"""Every service's OpenAPI document against its running server: schemathesis, every check.

For each service, `st run <service>/openapi.json --checks all` as a demo user who reaches most
of its routes: the examples, coverage and fuzzing phases, a bounded number of cases per
operation and a fixed seed, so a run is repeatable and all five take a few minutes. It finds
what outside judges would: undocumented statuses, schemas that do not say what the server
enforces (positive data refused, negative data accepted), responses that break their schema,
a 500 for anything. Run it alone with `.venv/bin/pytest tests/stack/openapi/test_schemathesis.py`.

The stateful phase is off: it replays one request's `Idempotency-Key` on the next request
with another body, which the API refuses (422) by design (a key names one command), so it
reports a correct refusal as a failure.

Write routes create data in the shared stack's stores (random ids: nothing another test
reads). Operations that would change what every other test relies on are excluded below,
each with why, or run as a user the service refuses (403), which still checks their schemas.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[3]
SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"
# The few operations whose refusals of schema-valid data are rules a schema cannot state.
HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"

MAX_EXAMPLES = 10
SEED = 20261201

# The user each service is tested as (who reaches most of its routes without changing what
# other tests rely on), and the operations left out, with why.
RUNS: dict[str, tuple[str, dict[str, str]]] = {
    # A head of service: registers, allocates (up to 120%), uploads, reads regions. Not an
    # admin: the admin alone changes weighting schemes, so that route stays 403 here.
    "allocation": ("hana.head", {}),
    # A manager: logs, corrects and withdraws time for their team.
    "timesheet": ("mo.manager", {}),
    # An admin reaches every route but the policy sides' (403: a policy is never adopted).
    "wellbeing": (
        "ada.admin",
        {
            # Run the sweeps as of any instant schemathesis draws (2199, say): every open
            # declaration and breach in the shared stack would be escalated and every
            # agreement ended, under the other tests' feet.
            "run_deadlines_deadlines_run_post": "sweeps the whole stack as of a drawn instant",
            "run_clock_duty_of_care_run_post": "judges the whole stack as of a drawn instant",
        },
    ),
    # A manager: the inbox and preferences; partners' webhooks and the sweeps are 403.
    "notifications": (
        "mo.manager",
        {
            # Server-sent events: the answer never ends, so every case waits out the
            # request timeout and schemathesis reports the server as gone.
            "stream_inbox_stream_get": "an endless event stream",
        },
    ),
    # An admin: entry bundles, checkpoints and evidence bundles.
    "audit": ("ada.admin", {}),
}


@pytest.mark.timeout(280)
@pytest.mark.parametrize("service", sorted(RUNS))
def test_the_service_keeps_its_openapi_promises(stack, service, tmp_path):
    user, excluded = RUNS[service]
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{stack.services[service]}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        # One worker: with two, Python 3.11.7's parser races between threads now and then
        # (SystemError "AST constructor recursion depth mismatch", CPython gh-106905).
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {stack.token(user)}",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    for operation_id in excluded:
        command += ["--exclude-operation-id", operation_id]
    # In a directory of its own: nothing (hypothesis, reports) is written into the repo.
    done = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=270,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(HERE)},
        check=False,
    )
    report = (done.stdout + done.stderr)[-30000:]
    assert done.returncode == 0, f"schemathesis found failures in {service}:\n{report}"
