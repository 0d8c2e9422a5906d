"""The notifications commands: one method per command, each ending in `execute` on its stream.

Subscribing checks the URL against the delivery rules (resolving its host now; the dispatcher
checks again before every delivery), keeps the new secret, then records the subscription; a
retry with the same idempotency key gets the first subscription and its secret back.
"""

from __future__ import annotations

import base64
import secrets
import socket
from collections.abc import Sequence

from plimsoll_events.handling import Idempotency, Store, execute
from plimsoll_events.records import Metadata, RecordedEvent
from sqlalchemy import Engine, text

from plimsoll_notifications.domain.delivery import check_webhook_url
from plimsoll_notifications.domain.notification import (
    NOTIFICATION,
    Acknowledge,
    Read,
    notification_stream,
)
from plimsoll_notifications.domain.settings import (
    PREFERENCES,
    SUBSCRIPTION,
    SetPreferences,
    Subscribe,
    Unsubscribe,
    preferences_stream,
    subscription_stream,
)

Key = Idempotency | None
Recorded = list[RecordedEvent]


def resolve_host(host: str) -> Sequence[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class NotificationHandlers:
    def __init__(self, store: Store, engine: Engine, *, webhook_local_mode: bool) -> None:
        self.store = store
        self.engine = engine
        self.webhook_local_mode = webhook_local_mode

    def read(self, command: Read, metadata: Metadata) -> Recorded:
        stream = notification_stream(command.notification_id)
        return execute(self.store, NOTIFICATION, stream, command, metadata)

    def acknowledge(self, command: Acknowledge, metadata: Metadata, key: Key = None) -> Recorded:
        stream = notification_stream(command.notification_id)
        return execute(self.store, NOTIFICATION, stream, command, metadata, idempotency=key)

    def subscribe(self, command: Subscribe, metadata: Metadata, key: Key = None) -> tuple[str, str]:
        """Record the subscription; its id and secret (the first attempt's, on a retry)."""
        stream = subscription_stream(command.subscription_id)
        if key is not None:
            earlier = self.store.recorded_for(stream, key)
            if earlier is not None:
                subscription_id = str(earlier[0].data["subscription_id"])
                return subscription_id, self.secret_of(subscription_id)
        check_webhook_url(command.url, resolve_host, local_mode=self.webhook_local_mode)
        secret = new_secret()
        with self.engine.begin() as conn:
            conn.execute(
                text("insert into webhook_secrets values (:id, :secret)"),
                {"id": command.subscription_id, "secret": secret},
            )
        recorded = execute(self.store, SUBSCRIPTION, stream, command, metadata, idempotency=key)
        subscription_id = str(recorded[0].data["subscription_id"])
        return subscription_id, self.secret_of(subscription_id)

    def unsubscribe(self, command: Unsubscribe, metadata: Metadata, key: Key = None) -> Recorded:
        stream = subscription_stream(command.subscription_id)
        return execute(self.store, SUBSCRIPTION, stream, command, metadata, idempotency=key)

    def set_preferences(
        self, command: SetPreferences, metadata: Metadata, key: Key = None
    ) -> Recorded:
        stream = preferences_stream(command.username)
        return execute(self.store, PREFERENCES, stream, command, metadata, idempotency=key)

    def secret_of(self, subscription_id: str) -> str:
        with self.engine.connect() as conn:
            return str(
                conn.execute(
                    text("select secret from webhook_secrets where subscription_id = :id"),
                    {"id": subscription_id},
                ).scalar_one()
            )
