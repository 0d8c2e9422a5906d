"""The API kit: idempotency keys scoped to the caller and route with a request fingerprint,
problem responses, held components, and metrics labels that stay bounded."""

import asyncio
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from plimsoll_events.handling import Idempotency
from plimsoll_platform.api import IdempotencyKey, attach, held, problem_responses
from plimsoll_platform.app import create_service_app
from plimsoll_platform.auth import Principal
from plimsoll_platform.metrics import HTTP_REQUESTS, install_metrics
from plimsoll_platform.problems import install_problem_handlers
from plimsoll_platform.settings import ServiceSettings
from starlette.exceptions import HTTPException as StarletteHTTPException

PAT = Principal(subject="sub-pat", username="pat", roles=frozenset({"practitioner"}))
MO = Principal(subject="sub-mo", username="mo", roles=frozenset({"manager"}))


class Ledger:
    """Something the app holds."""

    def __init__(self) -> None:
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True


def _client() -> tuple[TestClient, FastAPI]:
    app = FastAPI()
    app.state.held, app.state.lifecycle = {}, []
    install_problem_handlers(app)

    @app.middleware("http")
    async def as_principal(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.principal = {"pat": PAT, "mo": MO}[request.headers["x-who"]]
        return await call_next(request)

    @app.post("/hours", responses=problem_responses({404: "No such practitioner"}, command=True))
    def log(
        key: IdempotencyKey, ledger: Annotated[Ledger, Depends(held(Ledger))]
    ) -> dict[str, str | None]:
        return {
            "key": None if key is None else key.key,
            "fingerprint": None if key is None else key.fingerprint,
        }

    attach(app, Ledger())
    return TestClient(app), app


def _key(client: TestClient, who: str, body: dict, key: str = "k-1", path: str = "/hours"):
    response = client.post(path, json=body, headers={"x-who": who, "Idempotency-Key": key})
    assert response.status_code == 200, response.text
    return Idempotency(**response.json())


def test_a_key_is_scoped_to_the_caller_and_the_route():
    client, _ = _client()
    pat, mo = _key(client, "pat", {"minutes": 60}), _key(client, "mo", {"minutes": 60})
    assert pat.key != mo.key
    assert pat.fingerprint == mo.fingerprint
    assert "sub-pat" in pat.key


def test_the_same_key_on_another_request_has_another_fingerprint():
    client, _ = _client()
    first = _key(client, "pat", {"minutes": 60})
    again = _key(client, "pat", {"minutes": 60})
    other = _key(client, "pat", {"minutes": 90})
    assert first == again
    assert other.key == first.key
    assert other.fingerprint != first.fingerprint


def test_a_key_outside_printable_ascii_or_too_long_is_422():
    client, _ = _client()
    for key in ("x" * 256, "tab\there"):
        response = client.post("/hours", json={}, headers={"x-who": "pat", "Idempotency-Key": key})
        assert response.status_code == 422, key


def test_held_components_with_a_lifecycle_run_with_the_app():
    settings = ServiceSettings(
        service_name="unit",
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        kafka_bootstrap="127.0.0.1:1",
        keycloak_issuer="http://127.0.0.1:1/realms/plimsoll",
    )
    app = create_service_app(settings, title="unit", description="")
    ledger = Ledger()
    attach(app, ledger)
    with TestClient(app):
        assert ledger.started
        assert not ledger.stopped
    assert ledger.stopped
    assert asyncio.run(held(Ledger)(_request_of(app))) is ledger


def _request_of(app: FastAPI) -> Request:
    return Request({"type": "http", "app": app, "headers": []})


def test_every_route_documents_its_problems_in_the_services_words():
    _, app = _client()
    responses = app.openapi()["paths"]["/hours"]["post"]["responses"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(responses)
    assert responses["404"]["description"] == "No such practitioner"
    assert "application/problem+json" in responses["409"]["content"]


def test_made_up_http_methods_share_one_metrics_label():
    app = FastAPI()
    install_metrics(app, "unit-metrics")
    client = TestClient(app)
    for method in ("BREW", "WHEN", "FOO"):
        client.request(method, "/nowhere")
    labels = {
        sample.labels["method"]
        for metric in HTTP_REQUESTS.collect()
        for sample in metric.samples
        if sample.labels.get("service") == "unit-metrics"
    }
    assert labels == {"OTHER"}


def test_requests_are_counted_by_route_template_and_status_even_when_the_app_raises():
    app = FastAPI()
    install_metrics(app, "unit-routes")

    @app.get("/practitioners/{practitioner_id}")
    def read(practitioner_id: str) -> str:
        if practitioner_id == "P-BROKEN":
            raise RuntimeError("a bug")
        return practitioner_id

    client = TestClient(app, raise_server_exceptions=False)
    for practitioner_id in ("P-1", "P-2", "P-BROKEN"):
        client.get(f"/practitioners/{practitioner_id}")
    counted = {
        (sample.labels["route"], sample.labels["status"]): sample.value
        for metric in HTTP_REQUESTS.collect()
        for sample in metric.samples
        if sample.labels.get("service") == "unit-routes" and sample.name.endswith("_total")
    }
    assert counted == {
        ("/practitioners/{practitioner_id}", "200"): 2,
        ("/practitioners/{practitioner_id}", "500"): 1,
    }


def test_a_method_a_path_does_not_serve_is_405_naming_every_method_it_does():
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/schemes/{kind}")
    def read(kind: str) -> str:
        return kind

    @app.put("/schemes/{kind}")
    def change(kind: str) -> str:
        return kind

    response = TestClient(app).delete("/schemes/probation")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT"}


def test_a_body_that_cannot_be_read_is_422_like_any_invalid_body():
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/broken")
    def broken() -> None:
        # What FastAPI raises for a body it cannot read at all.
        raise StarletteHTTPException(400, "There was an error parsing the body")

    refused = TestClient(app).post("/broken")
    assert refused.status_code == 422
    assert refused.json()["invalid-params"][0]["name"] == "body"
