"""The checkpoint signing key, and the verifier keys the service publishes.

A configured key (`PLIMSOLL_CHECKPOINT_KEY`) is used as it is. Without one, the
service generates a development key on its first start and keeps it in the
table `checkpoint_dev_key`, which only the database owner can read (the service
reads it at start, as the owner, before it drops to the application role); it
logs a warning at every start. A key beside the log it signs protects nothing
against whoever runs the database: it is for the local stack only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine, text

from plimsoll_audit.log.note import Signer, Verifier
from plimsoll_audit.settings import AuditSettings

log = logging.getLogger(__name__)


class KeyMisconfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class Keys:
    signer: Signer
    retired: tuple[Verifier, ...]
    development: bool

    @property
    def published(self) -> tuple[Verifier, ...]:
        """The current verifier key first, then the retired ones."""
        return (self.signer.verifier, *self.retired)


def load_keys(settings: AuditSettings, owner: Engine) -> Keys:
    retired = tuple(Verifier.parse(key) for key in settings.retired_verifier_keys)
    if settings.checkpoint_key is not None:
        signer = Signer.parse(settings.checkpoint_key.get_secret_value())
        development = False
    else:
        signer = _development_key(owner, settings.log_origin)
        development = True
        log.warning(
            "checkpoints are signed with a development key kept in the database: set "
            "PLIMSOLL_CHECKPOINT_KEY outside the local stack",
            extra={"verifier_key": str(signer.verifier)},
        )
    if signer.name != settings.log_origin:
        raise KeyMisconfigured(
            f"the checkpoint key is named {signer.name!r}, the log's origin is "
            f"{settings.log_origin!r}: a C2SP log signs with a key named as its origin"
        )
    return Keys(signer, retired, development)


def _development_key(owner: Engine, name: str) -> Signer:
    with owner.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(hashtext('plimsoll-audit-dev-key'))"))
        found = conn.execute(
            text("select signer from checkpoint_dev_key where name = :name"), {"name": name}
        ).scalar_one_or_none()
        if found is not None:
            return Signer.parse(found)
        signer = Signer.generate(name)
        conn.execute(
            text("insert into checkpoint_dev_key (name, signer) values (:name, :signer)"),
            {"name": name, "signer": str(signer)},
        )
        return signer
