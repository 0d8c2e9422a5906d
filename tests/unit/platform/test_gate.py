"""The gate: control characters, then the token, then the body's size, before any route reads a
body; and the keys it checks tokens with, refreshed outside the lock and rate-limited."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from plimsoll_platform.api import StrictBody
from plimsoll_platform.auth import CurrentPrincipal, TokenRejected, TokenVerifier
from plimsoll_platform.gate import Gate
from plimsoll_platform.problems import install_problem_handlers

ISSUER = "http://127.0.0.1:1/realms/plimsoll"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(kid: str = "k1", key=KEY, **claims) -> str:
    body = {
        "iss": ISSUER,
        "aud": "plimsoll",
        "sub": "u-1",
        # Long-lived: tokens made at import are used after the whole stack suite has run.
        "exp": time.time() + 86_400,
        "preferred_username": "mo.manager",
        "realm_access": {"roles": ["manager"]},
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def _verifier(issuer: str = ISSUER) -> TokenVerifier:
    verifier = TokenVerifier(issuer, "plimsoll")
    verifier._keys = {"k1": KEY.public_key()}
    return verifier


class Registration(StrictBody):
    practitioner_id: str


def _client(limit: int = 1000) -> tuple[TestClient, list[str]]:
    """An app behind the gate whose one command route notes each body it was given."""
    app = FastAPI()
    install_problem_handlers(app)
    seen: list[str] = []

    @app.post("/practitioners")
    def register(body: Registration, principal: CurrentPrincipal) -> dict[str, str]:
        seen.append(body.practitioner_id)
        return {"by": principal.username or ""}

    @app.get("/practitioners/{practitioner_id}")
    def read(practitioner_id: str, principal: CurrentPrincipal) -> dict[str, str]:
        return {"practitioner_id": practitioner_id}

    @app.post("/raw")
    async def raw(request: Request, principal: CurrentPrincipal) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.add_middleware(Gate, verifier=_verifier(), max_body_bytes=limit)
    return TestClient(app), seen


AUTH = {"Authorization": f"Bearer {_token()}"}


def test_no_token_is_401_before_the_body_is_read_or_parsed():
    client, seen = _client()
    huge = json.dumps({"practitioner_id": "P-1", "pad": "x" * 50_000})
    response = client.post(
        "/practitioners", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert seen == []


def test_a_forged_token_is_401_in_our_words():
    client, _ = _client()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {"Authorization": f"Bearer {_token(key=other)}"}
    response = client.post("/practitioners", json={"practitioner_id": "P-1"}, headers=forged)
    assert response.status_code == 401
    assert response.json()["detail"] == "the token's signature does not verify"


def test_a_body_over_the_limit_is_413_by_its_length_and_by_its_chunks():
    client, seen = _client(limit=100)
    long = {"practitioner_id": "P-" + "1" * 200}
    assert client.post("/practitioners", json=long, headers=AUTH).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 10

    chunked = client.post("/raw", content=chunks(), headers=AUTH)
    assert chunked.status_code == 413
    assert chunked.json()["type"].endswith("/body-too-large")
    assert seen == []
    assert client.post("/raw", content=b"x" * 100, headers=AUTH).json() == {"bytes": 100}


def test_control_characters_in_the_url_are_422_before_anything_else():
    client, _ = _client()
    for url in ("/practitioners/%00", "/practitioners/P%00X", "/practitioners/P-1?team_id=%00"):
        response = client.get(url)  # not even a token: the URL is refused first
        assert response.status_code == 422, url
        assert response.json()["invalid-params"][0]["reason"] == "contains a control character"
    assert client.get("/practitioners/P-1", headers=AUTH).status_code == 200


def test_a_service_opens_path_prefixes_and_the_longest_prefix_decides():
    app = FastAPI()

    @app.get("/tile/{path:path}")
    def tile(path: str) -> dict[str, str]:
        return {"tile": path}

    public = {"/tile/": True, "/tile/entries/": False}
    app.add_middleware(Gate, verifier=_verifier(), public=public)
    client = TestClient(app)
    assert client.get("/tile/0/000").status_code == 200
    assert client.get("/tile/entries/000").status_code == 401
    assert client.get("/tile/entries/000", headers=AUTH).status_code == 200


def test_operational_routes_need_no_token():
    app = FastAPI()

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "live"}

    app.add_middleware(Gate, verifier=_verifier())
    assert TestClient(app).get("/health/live").status_code == 200


class _SlowRealm(BaseHTTPRequestHandler):
    """A realm whose key set arrives only once `release` is set; counts the fetches."""

    release = threading.Event()
    fetches = 0

    def do_GET(self) -> None:
        type(self).fetches += 1
        self.release.wait(timeout=30)
        jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "k2", "use": "sig"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_realm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowRealm)
    _SlowRealm.fetches = 0
    _SlowRealm.release.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/realms/plimsoll"
    _SlowRealm.release.set()
    server.shutdown()


def test_known_keys_are_served_while_the_realm_is_slow_to_answer(slow_realm):
    verifier = _verifier(slow_realm)
    verifier.fetch_timeout_seconds = 30
    fetching = threading.Thread(
        target=lambda: verifier.verify(_token("k2", iss=slow_realm)), daemon=True
    )
    fetching.start()
    while _SlowRealm.fetches == 0:  # the fetch for k2 is under way, and held
        time.sleep(0.01)
    known: list[str | None] = []
    checking = threading.Thread(
        target=lambda: known.append(verifier.verify(_token("k1", iss=slow_realm)).username)
    )
    checking.start()
    checking.join(timeout=10)
    # Checked while the realm still holds the fetch: no lock is held across it.
    assert known == ["mo.manager"]
    assert fetching.is_alive()
    _SlowRealm.release.set()
    fetching.join(timeout=10)
    assert verifier.verify(_token("k2", iss=slow_realm)).subject == "u-1"  # fetched meanwhile


def test_unknown_keys_are_fetched_at_most_once_per_interval(slow_realm):
    _SlowRealm.release.set()
    verifier = _verifier(slow_realm)
    for n in range(20):
        with pytest.raises(TokenRejected, match="does not publish"):
            verifier.verify(_token(f"random-{n}", iss=slow_realm))
    assert _SlowRealm.fetches == 1


def test_tokens_arriving_while_the_keys_are_fetched_wait_for_them(slow_realm):
    """A service just (re)started in a burst has no keys yet: the first token fetches them,
    and the valid tokens arriving meanwhile are accepted once they come, not refused."""
    verifier = TokenVerifier(slow_realm, "plimsoll")
    verifier.fetch_timeout_seconds = 30
    checked: list[str] = []
    refused: list[str] = []

    def check() -> None:
        try:
            checked.append(verifier.verify(_token("k2", iss=slow_realm)).subject)
        except TokenRejected as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=check, daemon=True) for _ in range(4)]
    threads[0].start()
    while _SlowRealm.fetches == 0:  # the first token's fetch is under way, and held
        time.sleep(0.01)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.2)
    _SlowRealm.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert refused == []
    assert checked == ["u-1"] * 4
    assert _SlowRealm.fetches == 1
