"""Errors leave every service as RFC 9457 problem details naming the field and the reason."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from plimsoll_platform.problems import InvalidParam, Problem, install_problem_handlers
from pydantic import BaseModel, Field


class Hours(BaseModel):
    practitioner_id: str
    contracted_hours: float = Field(ge=0, le=37.5)


def _client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/hours")
    def log_hours(body: Hours) -> Hours:
        return body

    @app.get("/conflict")
    def conflict() -> None:
        raise Problem(
            409,
            "Stream changed",
            "expected version 3, found 4",
            kind="concurrency-conflict",
            invalid_params=[InvalidParam(name="expected_version", reason="stale")],
        )

    return TestClient(app)


def test_invalid_body_names_each_field_and_reason():
    response = _client().post("/hours", json={"contracted_hours": 40})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["instance"] == "/hours"
    params = {p["name"]: p["reason"] for p in body["invalid-params"]}
    assert set(params) == {"practitioner_id", "contracted_hours"}
    assert "37.5" in params["contracted_hours"]
    assert params["practitioner_id"] == "Field required"


def test_raised_problem_keeps_its_type_and_status():
    response = _client().get("/conflict")
    assert response.status_code == 409
    body = response.json()
    assert body["type"].endswith("/concurrency-conflict")
    assert body["detail"] == "expected version 3, found 4"
    assert body["invalid-params"] == [{"name": "expected_version", "reason": "stale"}]


def test_unknown_route_is_a_problem_too():
    response = _client().get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"
