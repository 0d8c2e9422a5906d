"""How a process reaches Kafka, and who it is there.

Every Kafka client Plimsoll makes (relay, projection runner, topic admin,
readiness) is built from one `KafkaAccess`, so that authentication is set in
one place: with a username, clients speak SASL/SCRAM and the broker's ACLs
decide what that principal may read and write.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient

SCRAM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaAccess:
    """Bootstrap servers, and the SASL/SCRAM principal to connect as (None: no auth)."""

    bootstrap: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mechanism: str = SCRAM

    def options(self) -> dict[str, Any]:
        """Keyword arguments for any kafka-python client (producer, consumer, admin)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.username is not None:
            options.update(
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism=self.mechanism,
                # kafka-python names SCRAM's credentials sasl_plain_* too.
                sasl_plain_username=self.username,
                sasl_plain_password=self.password or "",
            )
        return options

    def admin(self, **settings: Any) -> KafkaAdminClient:
        """A connected admin client (close it: `with access.admin() as admin:`).

        Every admin client is made here because kafka-python's constructor starts the
        client's network thread before its first bootstrap and, when no broker answers,
        raises and leaves that thread running: each retry while Kafka is down (a
        readiness probe, a projection waiting for its topics) would leak a thread.
        """
        admin = KafkaAdminClient.__new__(KafkaAdminClient)
        try:
            admin.__init__(**self.options(), **settings)
        except BaseException:
            _stop_unfinished(admin)
            raise
        return admin


def _stop_unfinished(admin: KafkaAdminClient) -> None:
    """Stop what an admin client's failed constructor had started (see `KafkaAccess.admin`)."""
    for part in ("_client", "_metrics"):
        if hasattr(admin, part):
            with suppress(Exception):
                getattr(admin, part).close()
    if hasattr(admin, "_net"):
        with suppress(Exception):
            admin._net.stop()
