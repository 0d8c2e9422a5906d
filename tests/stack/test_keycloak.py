"""Tokens from the real Keycloak, checked against the realm's published keys."""

import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from plimsoll_platform.auth import TokenRejected, TokenVerifier


def _segments(token: str) -> list[str]:
    return token.split(".")


def _decode_segment(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _encode_segment(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def verifier(stack):
    return TokenVerifier(stack.keycloak_issuer, "plimsoll")


def test_practitioner_token_carries_roles_and_claims(stack, verifier):
    principal = verifier.verify(stack.token("pat.practitioner"))
    assert principal.username == "pat.practitioner"
    assert "practitioner" in principal.roles
    assert "manager" not in principal.roles
    assert principal.practitioner_id == "P-0001"
    assert principal.team == "T-NORTH-1"


def test_each_demo_user_has_their_role(stack, verifier):
    users = {
        "mo.manager": "manager",
        "hana.head": "head-of-service",
        "ollie.ops": "ops",
        "aude.auditor": "auditor",
        "uma.union": "union-rep",
        "emil.employer": "employer-rep",
        "ada.admin": "admin",
    }
    for username, role in users.items():
        assert role in verifier.verify(stack.token(username)).roles, username


def test_service_client_credentials_token_is_accepted(stack, verifier):
    principal = verifier.verify(stack.service_token("allocation"))
    assert "service" in principal.roles
    assert principal.claims["azp"] == "plimsoll-allocation"


def test_wrong_client_secret_gets_no_token(stack):
    response = httpx.post(
        f"{stack.keycloak_issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "plimsoll-allocation",
            "client_secret": "not-the-secret",
        },
        timeout=10,
    )
    assert response.status_code == 401


def test_tampered_token_is_rejected(stack, verifier):
    header, payload, signature = _segments(stack.token("pat.practitioner"))
    claims = _decode_segment(payload)
    claims["realm_access"]["roles"].append("head-of-service")
    with pytest.raises(TokenRejected, match="signature does not verify"):
        verifier.verify(".".join([header, _encode_segment(claims), signature]))


def test_expired_token_is_rejected(stack):
    token = stack.token("pat.practitioner")
    lifetime = _decode_segment(_segments(token)[1])["exp"] - time.time()
    later = TokenVerifier(
        stack.keycloak_issuer, "plimsoll", clock=lambda: time.time() + lifetime + 60
    )
    with pytest.raises(TokenRejected, match="expired"):
        later.verify(token)


def test_token_signed_by_a_foreign_key_is_rejected(stack, verifier):
    real = stack.token("pat.practitioner")
    header = _decode_segment(_segments(real)[0])
    claims = _decode_segment(_segments(real)[1])
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, foreign_key, algorithm="RS256", headers={"kid": header["kid"]})
    with pytest.raises(TokenRejected, match="signature does not verify"):
        verifier.verify(forged)


def test_token_for_another_audience_is_rejected(stack):
    wrong_audience = TokenVerifier(stack.keycloak_issuer, "someone-else")
    with pytest.raises(TokenRejected, match=r"[Aa]udience"):
        wrong_audience.verify(stack.token("pat.practitioner"))


def test_service_answers_me_only_with_a_valid_token(stack):
    base = stack.services["allocation"]
    token = stack.token("mo.manager")
    me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200
    assert me.json()["practitioner_id"] == "P-0100"
    assert "manager" in me.json()["roles"]

    header, payload, signature = _segments(token)
    claims = _decode_segment(payload)
    claims["practitioner_id"] = "P-0001"
    forged = ".".join([header, _encode_segment(claims), signature])
    refused = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 401
