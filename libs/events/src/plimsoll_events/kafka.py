"""How a process reaches Kafka, and who it is there.

Every Kafka client Plimsoll makes (relay, projection runner, topic admin,
readiness) is built from one `KafkaAccess`, so that authentication is set in
one place: with a username, clients speak SASL/SCRAM and the broker's ACLs
decide what that principal may read and write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
