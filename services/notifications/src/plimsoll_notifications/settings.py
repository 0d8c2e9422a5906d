"""Settings of the notifications service (environment, prefix ``PLIMSOLL_``)."""

from plimsoll_platform.settings import ServiceSettings
from pydantic import Field, SecretStr


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    app_base_url: str = Field(
        default="http://127.0.0.1:58104",
        description="Where links in e-mails and webhooks point: <app_base_url>/inbox/<id>",
    )
    smtp_host: str = Field(default="127.0.0.1", description="The SMTP relay e-mail goes to")
    smtp_port: int = Field(default=58025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(
        default=False,
        description="STARTTLS before the login and sending, the relay's certificate verified "
        "(production)",
    )
    smtp_ca_file: str | None = Field(
        default=None,
        description="PEM file of the CAs that may sign the relay's certificate (default: the "
        "system's)",
    )
    smtp_connections: int = Field(default=4, ge=1, le=64, description="SMTP sessions kept open")
    mail_from: str = "Plimsoll <notifications@plimsoll.local>"
    webhook_local_mode: bool = Field(
        default=False,
        description="Accept http webhook URLs to loopback hosts (the local stack and tests only)",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_concurrency: int = Field(
        default=100, ge=1, le=2000, description="Webhooks in flight to one subscriber at most"
    )
    retry_steps_seconds: list[float] = Field(
        default=[5, 30, 120, 600, 1800, 3600, 7200],
        description="Waits after the 1st, 2nd... failed try (the last repeats), +/- 20% jitter",
    )
    max_attempts: int = Field(default=8, ge=1, le=50, description="Tries before a dead letter")
    max_reminders: int = Field(default=1, ge=0, le=10)
    reminders_every_seconds: int = Field(default=60, ge=1)
    digest_every_seconds: int = Field(default=3600, ge=1)
    directory_cache_seconds: float = Field(default=60.0, ge=0)
    rules_version: int | None = Field(default=None, description="Rules in force (default latest)")
