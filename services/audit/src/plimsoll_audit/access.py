"""Who may have whose evidence bundle, and on what basis.

* auditors and admins: anyone's (read-only, every export recorded);
* a practitioner: their own;
* a union representative: a member's, only while the member's latest
  `union-consent-given` / `union-consent-withdrawn` naming that representative
  (wellbeing's events, read from the log: consent is given to one named
  representative at a time, so withdrawing one's leaves another's standing) is a
  consent;
* anyone else, or the above outside those limits: refused (403), and the refusal
  is recorded as a `bundle-refused` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from plimsoll_platform.auth import Principal
from plimsoll_platform.roles import Role
from sqlalchemy import Connection, text

from plimsoll_audit.verify.replay import data_of

CONSENT_TYPES = ("union-consent-given", "union-consent-withdrawn")


@dataclass(frozen=True)
class Basis:
    name: str  # auditor, admin, self, union-consent
    consent_event_id: str | None = None


@dataclass(frozen=True)
class Refusal:
    reason: str


def basis_for(conn: Connection, caller: Principal, practitioner_id: str) -> Basis | Refusal:
    if Role.AUDITOR in caller.roles:
        return Basis("auditor")
    if Role.ADMIN in caller.roles:
        return Basis("admin")
    if Role.PRACTITIONER in caller.roles and caller.practitioner_id == practitioner_id:
        return Basis("self")
    if Role.UNION_REP in caller.roles:
        consent = latest_consent(conn, practitioner_id, caller.username or caller.subject)
        if consent is None:
            return Refusal(f"{practitioner_id} has recorded no consent for you")
        kind, event_id = consent
        if kind != "union-consent-given":
            return Refusal(f"{practitioner_id} withdrew their consent")
        return Basis("union-consent", event_id)
    if Role.PRACTITIONER in caller.roles:
        return Refusal(f"{practitioner_id} is not you: a practitioner has their own bundle only")
    return Refusal(
        "evidence bundles are for auditors, the practitioner themself, and union "
        "representatives with the practitioner's consent"
    )


def latest_consent(
    conn: Connection, practitioner_id: str, representative: str
) -> tuple[str, str] | None:
    """The type and id of the practitioner's latest consent event naming `representative`."""
    rows = conn.execute(
        text(
            "select type, event_id, leaf from log_entries where subject = :p "
            "and type = any(:types) order by idx desc"
        ),
        {"p": practitioner_id, "types": list(CONSENT_TYPES)},
    )
    for kind, event_id, leaf in rows:
        if data_of(json.loads(bytes(leaf))).get("representative") == representative:
            return kind, event_id
    return None
