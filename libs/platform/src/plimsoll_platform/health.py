"""Liveness and readiness.

Live means the process answers. Ready means it can do its work: each check
(its database, Kafka) passes within a deadline. A check never hangs the probe.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, FastAPI, Response
from kafka.admin import KafkaAdminClient
from plimsoll_events.kafka import KafkaAccess
from pydantic import BaseModel
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

Check = Callable[[], None]
"""A readiness check: returns when the dependency works, raises when it does not."""


class CheckResult(BaseModel):
    status: Literal["ok", "failing"]
    error: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    checks: dict[str, CheckResult]


class Liveness(BaseModel):
    status: Literal["live"]


def database_check(engine: Engine) -> Check:
    def check() -> None:
        with engine.connect() as connection:
            connection.execute(text("select 1"))

    return check


class KafkaCheck:
    """Asks the broker for its topics over one long-lived admin connection."""

    def __init__(self, kafka: KafkaAccess, timeout_ms: int = 2000) -> None:
        self.kafka = kafka
        self.timeout_ms = timeout_ms
        self._admin: KafkaAdminClient | None = None
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            try:
                if self._admin is None:
                    self._admin = self.kafka.admin(
                        client_id="plimsoll-readiness",
                        bootstrap_timeout_ms=self.timeout_ms,
                        request_timeout_ms=self.timeout_ms,
                    )
                self._admin.list_topics()
            except Exception:
                self.close()
                raise

    def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            try:
                admin.close()
            except Exception:
                log.debug("closing kafka admin client failed", exc_info=True)


async def _run(check: Check, timeout: float) -> CheckResult:
    try:
        await asyncio.wait_for(asyncio.to_thread(check), timeout)
    except TimeoutError:
        return CheckResult(status="failing", error=f"no answer within {timeout:g}s")
    except Exception as exc:
        return CheckResult(status="failing", error=f"{type(exc).__name__}: {exc}")
    return CheckResult(status="ok")


def install_health(app: FastAPI, checks: dict[str, Check], timeout_seconds: float) -> None:
    router = APIRouter(prefix="/health", tags=["operations"])

    @router.get("/live", summary="The process is up and answering")
    def live() -> Liveness:
        return Liveness(status="live")

    @router.get(
        "/ready",
        summary="Every dependency this service needs answers",
        responses={503: {"model": Readiness, "description": "A dependency is failing"}},
    )
    async def ready(response: Response) -> Readiness:
        names = list(checks)
        results = await asyncio.gather(*(_run(checks[n], timeout_seconds) for n in names))
        report = dict(zip(names, results, strict=True))
        is_ready = all(r.status == "ok" for r in results)
        readiness = Readiness(status="ready" if is_ready else "not-ready", checks=report)
        if not is_ready:
            log.warning("not ready", extra={"checks": readiness.model_dump()["checks"]})
            response.status_code = 503
        return readiness

    app.include_router(router)
