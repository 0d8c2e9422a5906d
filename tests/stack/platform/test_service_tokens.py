"""Service-to-service calls with client-credential tokens from the real Keycloak."""

import asyncio
import threading

import httpx
import jwt
import pytest
from keycloak import KeycloakOpenID
from plimsoll_platform.service_tokens import (
    KeycloakUnreachable,
    ServiceTokenRefused,
    ServiceTokens,
    async_service_client,
    realm_of,
    service_client,
)
from plimsoll_platform.settings import ServiceSettings

from ..allocation.api import register_practitioner

pytestmark = pytest.mark.stack

CLIENT = "plimsoll-timesheet"


class CountingOpenID(KeycloakOpenID):
    """The real python-keycloak client, counting the token requests it makes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requests = 0

    def token(self, *args, **kwargs) -> dict:
        self.requests += 1
        return super().token(*args, **kwargs)


def openid(stack, secret: str | None = None, client_id: str = CLIENT) -> CountingOpenID:
    server_url, realm = realm_of(stack.keycloak_issuer)
    return CountingOpenID(
        server_url=server_url,
        realm_name=realm,
        client_id=client_id,
        client_secret_key=secret or stack.secrets["timesheet_client_secret"],
    )


def test_timesheet_calls_allocation_as_a_service_with_one_token(stack, api, tokens):
    practitioner_id = register_practitioner(api, tokens, user="mo.manager")
    keycloak = openid(stack)
    service_tokens = ServiceTokens(keycloak)
    with service_client(stack.services["allocation"], service_tokens) as allocation:
        me = allocation.get("/me")
        record = allocation.get(f"/practitioners/{practitioner_id}")
        again = allocation.get(f"/practitioners/{practitioner_id}")
    assert me.status_code == 200, me.text
    assert "service" in me.json()["roles"]
    assert me.json()["username"] == f"service-account-{CLIENT}"
    assert record.status_code == 200, record.text
    assert record.json()["practitioner_id"] == practitioner_id
    assert again.status_code == 200
    assert keycloak.requests == 1  # the cached token served all three calls


def test_tokens_come_from_the_services_settings(stack, monkeypatch):
    for name, value in {
        "SERVICE_NAME": "timesheet",
        "DATABASE_URL": "postgresql+psycopg://timesheet@127.0.0.1:1/timesheet",
        "KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "KEYCLOAK_ISSUER": stack.keycloak_issuer,
        "CLIENT_ID": CLIENT,
        "CLIENT_SECRET": stack.secrets["timesheet_client_secret"],
    }.items():
        monkeypatch.setenv(f"PLIMSOLL_{name}", value)
    settings = ServiceSettings()  # type: ignore[call-arg]
    token = ServiceTokens.from_settings(settings).token()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["azp"] == CLIENT
    assert claims["iss"] == stack.keycloak_issuer
    assert "service" in claims["realm_access"]["roles"]


def test_a_wrong_secret_is_refused_clearly(stack):
    service_tokens = ServiceTokens(openid(stack, secret="not-the-secret"))
    with pytest.raises(ServiceTokenRefused, match=f"refused the client credentials of {CLIENT}"):
        service_tokens.token()


def test_an_unreachable_keycloak_is_said_so(stack):
    service_tokens = ServiceTokens.for_client(
        "http://127.0.0.1:1/realms/plimsoll", CLIENT, "whatever"
    )
    with pytest.raises(KeycloakUnreachable, match="could not be asked"):
        service_tokens.token()


def test_the_token_is_refreshed_30_seconds_before_it_expires(stack):
    now = [1000.0]
    keycloak = openid(stack)
    service_tokens = ServiceTokens(keycloak, clock=lambda: now[0])
    first = service_tokens.token()
    lifetime = jwt.decode(first, options={"verify_signature": False})
    expires_in = lifetime["exp"] - lifetime["iat"]
    now[0] += expires_in - 31
    assert service_tokens.token() == first
    assert keycloak.requests == 1
    now[0] += 2  # now within 30 s of expiry
    assert service_tokens.token() != first
    assert keycloak.requests == 2


def test_threads_asking_at_once_share_one_request(stack):
    keycloak = openid(stack)
    service_tokens = ServiceTokens(keycloak)
    barrier = threading.Barrier(8)
    got: list[str] = []

    def ask() -> None:
        barrier.wait()
        got.append(service_tokens.token())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert keycloak.requests == 1
    assert len(set(got)) == 1
    assert len(got) == 8


class StaleFirst(ServiceTokens):
    """Hands out a token the callee cannot accept first (as one expired early would be)."""

    stale = "stale-token"

    def token(self) -> str:
        if self.stale:
            stale, self.stale = self.stale, ""
            return stale
        return super().token()


def test_a_401_from_the_callee_is_retried_once_with_a_fresh_token(stack):
    keycloak = openid(stack)
    seen: list[int] = []
    with service_client(
        stack.services["allocation"],
        StaleFirst(keycloak),
        event_hooks={"response": [lambda r: seen.append(r.status_code)]},
    ) as allocation:
        me = allocation.get("/me")
    assert seen == [401, 200]
    assert me.status_code == 200
    assert keycloak.requests == 1


def test_async_clients_call_other_services_too(stack):
    service_tokens = ServiceTokens(openid(stack))

    async def call() -> httpx.Response:
        async with async_service_client(stack.services["allocation"], service_tokens) as client:
            return await client.get("/me")

    me = asyncio.run(call())
    assert me.status_code == 200
    assert "service" in me.json()["roles"]
