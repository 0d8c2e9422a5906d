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
from fastapi import Depends, Request
from jwt.algorithms import RSAAlgorithm

from plimsoll_platform.problems import Problem

ROLES = (
    "practitioner",
    "manager",
    "head-of-service",
    "ops",
    "auditor",
    "union-rep",
    "employer-rep",
    "admin",
    "service",
)


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
    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        clock: Callable[[], float] = time.time,
        leeway_seconds: int = 5,
        min_refresh_interval_seconds: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.clock = clock
        self.leeway_seconds = leeway_seconds
        self.min_refresh_interval_seconds = min_refresh_interval_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def _refresh_keys(self) -> None:
        # An attacker can send tokens with random kids; never refetch faster than this.
        if time.monotonic() - self._fetched_at < self.min_refresh_interval_seconds:
            return
        response = httpx.get(self.jwks_url, timeout=5.0)
        response.raise_for_status()
        keys = {}
        for jwk in response.json()["keys"]:
            if jwk.get("use", "sig") == "sig" and jwk.get("kty") == "RSA":
                keys[jwk["kid"]] = RSAAlgorithm.from_jwk(jwk)
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _key_for(self, kid: str) -> Any:
        with self._lock:
            if kid not in self._keys:
                try:
                    self._refresh_keys()
                except httpx.HTTPError as exc:
                    raise TokenRejected(f"realm keys unavailable: {exc}") from exc
            if kid not in self._keys:
                raise TokenRejected(f"token signed with unknown key {kid!r}")
            return self._keys[kid]

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"malformed token: {exc}") from exc
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
            raise TokenRejected(str(exc)) from exc
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


def _unauthorised(reason: str) -> Problem:
    return Problem(
        401,
        "Not authenticated",
        reason,
        kind="not-authenticated",
        headers={"WWW-Authenticate": 'Bearer realm="plimsoll"'},
    )


def current_principal(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("a Bearer token from the plimsoll realm is required")
    try:
        return verifier.verify(token)
    except TokenRejected as exc:
        raise _unauthorised(str(exc)) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits callers holding at least one of ``roles``."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise Problem(
                403,
                "Forbidden",
                f"one of the roles {', '.join(roles)} is required",
                kind="forbidden",
            )
        return principal

    return check
