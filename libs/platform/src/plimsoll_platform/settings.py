"""Settings every service reads from its environment (prefix ``PLIMSOLL_``)."""

from plimsoll_events.kafka import KafkaAccess
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """One process runs one service, so one shared prefix is enough."""

    model_config = SettingsConfigDict(env_prefix="PLIMSOLL_", extra="ignore")

    service_name: str
    database_url: str = Field(description="SQLAlchemy URL, postgresql+psycopg://...")
    kafka_bootstrap: str = Field(description="host:port of the Kafka bootstrap servers")
    kafka_username: str | None = Field(
        default=None, description="SASL/SCRAM principal on Kafka; none connects without auth"
    )
    kafka_password: SecretStr | None = None
    keycloak_issuer: str = Field(description="issuer URL of the plimsoll realm")
    token_audience: str = "plimsoll"  # noqa: S105 - an audience name, not a secret
    client_id: str | None = Field(
        default=None,
        description="This service's confidential client in the realm (plimsoll-<service>), "
        "for client-credential tokens to call other services; none: it calls nobody",
    )
    client_secret: SecretStr | None = None
    log_level: str = "INFO"
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint for traces; none exports nothing"
    )
    readiness_timeout_seconds: float = 2.0
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body a route accepts (413 above)"
    )

    @property
    def kafka(self) -> KafkaAccess:
        """How this service reaches Kafka, as its own principal."""
        return KafkaAccess(
            self.kafka_bootstrap,
            username=self.kafka_username,
            password=None
            if self.kafka_password is None
            else self.kafka_password.get_secret_value(),
        )
