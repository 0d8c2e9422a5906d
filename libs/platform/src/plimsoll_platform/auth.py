"""Bearer-token checks against the Keycloak realm's published keys.

Tokens are verified locally (signature, issuer, audience, expiry) with the
realm's JSON Web Key Set, fetched once and refreshed only when a token names a
key id we have not seen: Keycloak rotates keys by adding a new ``kid``.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.algorithms import RSAAlgorithm

from plimsoll_platform.problems import Problem


class TokenRejected(Exception):
    """The token is not one this service accepts; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the realm vouches for them."""

    subject: str
    username: str | None
    roles: frozenset[str]
    practitioner_id: str | None = None
    team: str | None = None
    region: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


class TokenVerifier:
    """Checks bearer tokens against the realm's published keys, without calling the realm.

    Keys are refreshed only for a key id not seen before, at most once every
    `min_refresh_interval_seconds` and by one thread at a time, outside the lock:
    while Keycloak is slow or down, tokens signed with known keys are checked
    as fast as ever, and tokens naming unknown keys are refused once the fetch
    under way (if any) has ended: they wait for it, never for more than one.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        clock: Callable[[], float] = time.time,
        leeway_seconds: int = 5,
        min_refresh_interval_seconds: float = 10.0,
        fetch_timeout_seconds: float = 2.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.clock = clock
        self.leeway_seconds = leeway_seconds
        self.min_refresh_interval_seconds = min_refresh_interval_seconds
        self.fetch_timeout_seconds = fetch_timeout_seconds
        self._keys: dict[str, Any] = {}
        self._last_attempt = float("-inf")
        self._fetching: threading.Event | None = None  # set when the fetch under way ends
        self._lock = threading.Lock()

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def _fetch_keys(self) -> dict[str, Any]:
        response = httpx.get(self.jwks_url, timeout=self.fetch_timeout_seconds)
        response.raise_for_status()
        return {
            jwk["kid"]: RSAAlgorithm.from_jwk(jwk)
            for jwk in response.json()["keys"]
            if jwk.get("use", "sig") == "sig" and jwk.get("kty") == "RSA"
        }

    def _key_for(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        # An attacker can send tokens with random kids: one fetch at a time, rate-limited.
        # A token arriving while that fetch is under way waits for it (at most its timeout)
        # rather than being refused: a service just started (or restarted) in a burst of
        # requests has no keys yet, and every valid token but the first would be a 401.
        with self._lock:
            fetching = self._fetching
            ours = fetching is None and (
                time.monotonic() - self._last_attempt >= self.min_refresh_interval_seconds
            )
            if ours:
                self._last_attempt = time.monotonic()
                fetching = self._fetching = threading.Event()
        if ours:
            assert fetching is not None
            try:
                self._keys = {**self._keys, **self._fetch_keys()}
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                reason = f"the realm's keys are unavailable ({type(exc).__name__})"
                raise TokenRejected(reason) from exc
            finally:
                with self._lock:
                    self._fetching = None
                fetching.set()
        elif fetching is not None:
            fetching.wait(self.fetch_timeout_seconds + 1)
        key = self._keys.get(kid)
        if key is None:
            raise TokenRejected("the token is signed with a key the realm does not publish")
        return key

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("the token is malformed") from exc
        if header.get("alg") != "RS256":
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not accepted")
        key = self._key_for(str(header.get("kid")))
        try:
            # Expiry is checked below against our own clock, so tests can move time.
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=self.issuer,
                audience=self.audience,
                options={"verify_exp": False, "verify_nbf": False, "require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(_in_our_words(exc)) from exc
        now = self.clock()
        if claims["exp"] + self.leeway_seconds < now:
            raise TokenRejected("token has expired")
        if claims.get("nbf", now) - self.leeway_seconds > now:
            raise TokenRejected("token is not yet valid")
        return Principal(
            subject=claims["sub"],
            username=claims.get("preferred_username"),
            roles=frozenset(claims.get("realm_access", {}).get("roles", [])),
            practitioner_id=claims.get("practitioner_id"),
            team=claims.get("team"),
            region=claims.get("region"),
            claims=claims,
        )


def _in_our_words(error: jwt.PyJWTError) -> str:
    """Why a token was refused, without the JWT library's internals."""
    if isinstance(error, jwt.InvalidSignatureError):
        return "the token's signature does not verify"
    if isinstance(error, jwt.InvalidIssuerError):
        return "the token was issued by another realm"
    if isinstance(error, jwt.InvalidAudienceError):
        return "the token's audience is another application"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the token lacks the {error.claim!r} claim"
    return "the token is malformed"


def unauthorised(reason: str) -> Problem:
    return Problem(
        401,
        "Not authenticated",
        reason,
        kind="not-authenticated",
        headers={"WWW-Authenticate": 'Bearer realm="plimsoll"'},
    )


BEARER = HTTPBearer(
    bearerFormat="JWT",
    description="An access token of the plimsoll realm (Keycloak)",
    auto_error=False,
)


def bearer_token(request: Request) -> str:
    """The request's bearer token; 401 when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorised("a Bearer token from the plimsoll realm is required")
    return token.strip()


async def current_principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> Principal:
    """The caller, as the gate found them (see `gate`), or checked here for apps without one
    (on the thread pool: checking may fetch the realm's keys)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await run_in_threadpool(verifier.verify, bearer_token(request))
    except TokenRejected as exc:
        raise unauthorised(str(exc)) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
