"""Tokens a service presents when it calls another service: client credentials from Keycloak.

Each service has a confidential client in the realm (`plimsoll-<service>`, with
the realm role `service`); its id and secret come from `PLIMSOLL_CLIENT_ID` and
`PLIMSOLL_CLIENT_SECRET`. `ServiceTokens` asks Keycloak for a token with the
client-credentials grant (python-keycloak), and:

* caches it until `refresh_margin_seconds` (30 s) before it expires, so a busy
  service asks Keycloak once per token lifetime, not once per call;
* is safe across threads: callers that find the token stale wait for one
  request to Keycloak and share its answer;
* raises `ServiceTokenRefused` when Keycloak refuses the credentials (a wrong
  secret, a disabled client) and `KeycloakUnreachable` when it cannot be asked
  (both `ServiceTokenError`), never an HTTP library's own exception.

`ServiceTokenAuth` is an `httpx.Auth` that adds `Authorization: Bearer <token>`
to every request and, when the callee answers 401 (the token expired early, or
the realm's keys rotated), fetches a fresh token and retries once. So one
service calls another in one line:
`service_client(base_url, tokens).get("/practitioners/P-1")`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError

from plimsoll_platform.settings import ServiceSettings

REFRESH_MARGIN_SECONDS = 30.0
KEYCLOAK_TIMEOUT_SECONDS = 10


class ServiceTokenError(Exception):
    """No service token could be had; the message says why."""


class ServiceTokenRefused(ServiceTokenError):
    """Keycloak answered, and refused these client credentials."""


class KeycloakUnreachable(ServiceTokenError):
    """Keycloak could not be asked (down, unreachable, or it answered nonsense)."""


def realm_of(issuer: str) -> tuple[str, str]:
    """The Keycloak server URL and realm name of an issuer `http(s)://host[:port][/path]/realms/<realm>`."""
    server, marker, realm = issuer.rstrip("/").rpartition("/realms/")
    if not marker or not server or not realm or "/" in realm:
        raise ValueError(f"{issuer!r} is not a Keycloak issuer URL (…/realms/<realm>)")
    return f"{server}/", realm


@dataclass(frozen=True)
class _Token:
    value: str
    fresh_until: float  # on the monotonic clock


class ServiceTokens:
    """This service's client-credential token, fetched when needed and cached until near expiry."""

    def __init__(
        self,
        openid: KeycloakOpenID,
        *,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.openid = openid
        self.refresh_margin_seconds = refresh_margin_seconds
        self.clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_client(
        cls, issuer: str, client_id: str, client_secret: str, **options: Any
    ) -> ServiceTokens:
        """Tokens for `client_id` in the realm that issues as `issuer`."""
        server_url, realm = realm_of(issuer)
        openid = KeycloakOpenID(
            server_url=server_url,
            realm_name=realm,
            client_id=client_id,
            client_secret_key=client_secret,
            timeout=KEYCLOAK_TIMEOUT_SECONDS,
        )
        return cls(openid, **options)

    @classmethod
    def from_settings(cls, settings: ServiceSettings, **options: Any) -> ServiceTokens:
        """This service's tokens, from PLIMSOLL_CLIENT_ID/SECRET and the realm's issuer."""
        if settings.client_id is None or settings.client_secret is None:
            raise ServiceTokenError(
                f"{settings.service_name} has no client credentials: "
                "set PLIMSOLL_CLIENT_ID and PLIMSOLL_CLIENT_SECRET"
            )
        return cls.for_client(
            settings.keycloak_issuer,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            **options,
        )

    @property
    def client_id(self) -> str:
        return str(self.openid.client_id)

    def token(self) -> str:
        """A token valid for at least the refresh margin; asks Keycloak only when needed."""
        with self._lock:
            if self._token is None or self.clock() >= self._token.fresh_until:
                self._token = self._fetch()
            return self._token.value

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is still `token`, when given): the next
        `token()` asks Keycloak. For a callee that rejected it."""
        with self._lock:
            if token is None or (self._token is not None and self._token.value == token):
                self._token = None

    def _fetch(self) -> _Token:
        asked_at = self.clock()
        try:
            answer = self.openid.token(grant_type="client_credentials")
        except KeycloakAuthenticationError as exc:
            raise ServiceTokenRefused(
                f"Keycloak refused the client credentials of {self.client_id}: "
                f"{_reason(exc)} (is PLIMSOLL_CLIENT_SECRET right?)"
            ) from exc
        except KeycloakError as exc:
            status = getattr(exc, "response_code", None)
            if status is not None and 400 <= status < 500:
                raise ServiceTokenRefused(
                    f"Keycloak refused a token to {self.client_id}: HTTP {status}: {_reason(exc)}"
                ) from exc
            raise KeycloakUnreachable(
                f"no token for {self.client_id}: Keycloak could not be asked: {_reason(exc)}"
            ) from exc
        try:
            value = str(answer["access_token"])
            lifetime = float(answer["expires_in"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeycloakUnreachable(
                f"Keycloak answered {self.client_id} without a token: {answer!r:.200}"
            ) from exc
        # A token shorter-lived than twice the margin is kept for half its life.
        margin = min(self.refresh_margin_seconds, lifetime / 2)
        return _Token(value, asked_at + lifetime - margin)


def _reason(exc: KeycloakError) -> str:
    message = exc.error_message
    if isinstance(message, bytes):
        message = message.decode(errors="replace")
    cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
    return f"{message}{cause}"


class ServiceTokenAuth(httpx.Auth):
    """Bearer service tokens on every request; one retry with a fresh token after a 401."""

    def __init__(self, tokens: ServiceTokens) -> None:
        self.tokens = tokens

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self.tokens.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self.tokens.token()}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Asking Keycloak blocks (python-keycloak uses requests): keep it off the event loop.
        token = await asyncio.to_thread(self.tokens.token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self.tokens.invalidate(token)
            fresh = await asyncio.to_thread(self.tokens.token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request


def service_client(base_url: str, tokens: ServiceTokens, **options: Any) -> httpx.Client:
    """An HTTP client for another service's API, authenticated as this service."""
    options.setdefault("timeout", 10.0)
    return httpx.Client(base_url=base_url, auth=ServiceTokenAuth(tokens), **options)


def async_service_client(base_url: str, tokens: ServiceTokens, **options: Any) -> httpx.AsyncClient:
    """The same, for async code."""
    options.setdefault("timeout", 10.0)
    return httpx.AsyncClient(base_url=base_url, auth=ServiceTokenAuth(tokens), **options)
