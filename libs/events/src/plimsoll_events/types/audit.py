"""Events of the audit service: checkpoints signed, evidence bundles exported or refused,
and reads of a person's data (the access log)."""

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import ActorName, Identifier, Text

Base64Hash = str


@CATALOGUE.register
class CheckpointSigned(EventData):
    """The audit service signed a checkpoint of its log: from now on it is bound to every
    entry up to `tree_size`, and any later checkpoint must be consistent with this one."""

    type = "checkpoint-signed"
    version = 1
    service = "audit"
    examples = (
        {
            "origin": "plimsoll.example.org/audit",
            "tree_size": 20852,
            "root_hash": "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
            "key_names": ["plimsoll.example.org/audit"],
            "note": "plimsoll.example.org/audit\n20852\n"
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
            "\u2014 plimsoll.example.org/audit Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoR"
            "De4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n",
            "signed_at": "2025-03-04T10:15:00Z",
        },
    )

    origin: str = Field(min_length=1, max_length=200, description="The log's origin line.")
    tree_size: int = Field(ge=0, description="How many entries the checkpoint covers.")
    root_hash: Base64Hash = Field(
        pattern=r"^[A-Za-z0-9+/]{43}=$", description="The RFC 6962 root, base64."
    )
    key_names: list[str] = Field(min_length=1, description="The keys that signed it.")
    note: str = Field(max_length=65536, description="The whole C2SP signed note.")
    signed_at: datetime = Field(description="When it was signed.")


Basis = Literal["auditor", "self", "union-consent", "admin"]


@CATALOGUE.register
class BundleExported(EventData):
    """An evidence bundle of a practitioner's records over a period was exported, to whom,
    and on what basis (their own request, an auditor's, or a union representative's with
    their recorded consent)."""

    type = "bundle-exported"
    version = 1
    service = "audit"
    examples = (
        {
            "practitioner_id": "P-0001",
            "bundle_id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
            "period_start": "2025-01-01",
            "period_end": "2025-12-31",
            "exported_by": "aude.auditor",
            "basis": "auditor",
            "consent_event_id": None,
            "events": 1984,
            "tree_size": 120443,
            "bundle_sha256": "9f2c" + "0" * 60,
        },
    )

    practitioner_id: Identifier = Field(description="Whose records the bundle holds.")
    bundle_id: Identifier = Field(description="The bundle, as its file names it.")
    period_start: date = Field(description="First day of the period (UK).")
    period_end: date = Field(description="Last day of the period (UK).")
    exported_by: ActorName = Field(description="Who asked for it.")
    basis: Basis = Field(description="Why they may: auditor, self, union-consent or admin.")
    consent_event_id: str | None = Field(
        description="The union-consent-given event relied on, for a union representative."
    )
    events: int = Field(ge=0, description="How many events it holds.")
    tree_size: int = Field(ge=0, description="The checkpoint its proofs are against.")
    bundle_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bundle.")


@CATALOGUE.register
class BundleRefused(EventData):
    """Someone asked for a practitioner's evidence bundle and was refused (403): the
    attempt is evidence too."""

    type = "bundle-refused"
    version = 1
    service = "audit"
    examples = (
        {
            "practitioner_id": "P-0001",
            "requested_by": "uma.union",
            "roles": ["union-rep"],
            "reason": "no recorded consent of P-0001 for union representatives",
        },
    )

    practitioner_id: Identifier = Field(description="Whose bundle was asked for.")
    requested_by: ActorName = Field(description="Who asked.")
    roles: list[str] = Field(description="Their roles when they asked.")
    reason: Text = Field(description="Why they were refused.")


@CATALOGUE.register
class PersonalDataRead(EventData):
    """Someone read a person's data through a Plimsoll service: who, whose, what, why and
    where. Every service records one per read of a person's records; the audit log takes
    them in like any event, and a person's bundle lists them."""

    type = "personal-data-read"
    version = 1
    service = "audit"
    examples = (
        {
            "practitioner_id": "P-0001",
            "reader": "mo.manager",
            "reader_roles": ["manager"],
            "served_by": "allocation",
            "resource": "GET /practitioners/P-0001/capacity",
            "purpose": "weekly caseload review",
            "read_at": "2025-03-04T09:30:00Z",
        },
    )

    practitioner_id: Identifier = Field(description="Whose data was read.")
    reader: ActorName = Field(description="Who read it (username or service account).")
    reader_roles: list[str] = Field(description="The reader's roles at the time.")
    served_by: str = Field(pattern=r"^[a-z]+$", description="The service that served the read.")
    resource: Text = Field(description="What was read: method and route, as requested.")
    purpose: Text | None = Field(description="Why, when the reader gave a purpose.")
    read_at: datetime = Field(description="When the read was served.")
