"""Settings of the audit service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings
from pydantic import Field, SecretStr
from sqlalchemy.engine import make_url


class AuditSettings(ServiceSettings):
    service_name: str = "audit"
    app_role: str = Field(
        default="audit_app",
        description="The role the service runs as once the owner (PLIMSOLL_DATABASE_URL's user) "
        "has created the log: SELECT and INSERT on the log, never UPDATE or DELETE",
    )
    app_database_url: str | None = Field(
        default=None,
        description="The application role's own URL (with its password); default: "
        "PLIMSOLL_DATABASE_URL with its user replaced by app_role (loopback trust, local stack)",
    )
    log_origin: str = Field(
        default="plimsoll.example.org/audit",
        pattern=r"^[^\s+]+$",
        description="The checkpoint origin line and the signing key's name",
    )
    checkpoint_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 signer key in Go's note format (PRIVATE+KEY+<name>+<id>+<base64>), "
        "named as log_origin. None: a development key is generated once and kept in the "
        "database, readable by the owner only (never for production: see ARCHITECTURE.md)",
    )
    retired_verifier_keys: list[str] = Field(
        default_factory=list,
        description="Verifier keys of earlier signing keys, still published so that old "
        "checkpoints and bundles verify after a rotation",
    )
    checkpoint_every_seconds: int = Field(default=60, ge=1)
    logged_services: list[str] = Field(
        default_factory=lambda: ["allocation", "timesheet", "wellbeing", "notifications", "audit"]
    )
    feed: bool = Field(
        default=True, description="Consume the services' topics into the log (False: read only)"
    )
    max_bundle_days: int = Field(default=3 * 366, ge=1)

    def app_url(self) -> str:
        if self.app_database_url:
            return self.app_database_url
        url = make_url(self.database_url).set(username=self.app_role, password=None)
        return url.render_as_string(hide_password=False)
