"""What the routes take from the app."""

from typing import Annotated

from fastapi import Depends
from plimsoll_platform.access import Caller, may
from plimsoll_platform.api import held
from plimsoll_platform.roles import Role

from plimsoll_audit.bundles import Bundles
from plimsoll_audit.checkpoints import Checkpointer
from plimsoll_audit.keys import Keys
from plimsoll_audit.queries import LogReader

ReaderDep = Annotated[LogReader, Depends(held(LogReader))]
CheckpointerDep = Annotated[Checkpointer, Depends(held(Checkpointer))]
KeysDep = Annotated[Keys, Depends(held(Keys))]
BundlesDep = Annotated[Bundles, Depends(held(Bundles))]

Auditor = Annotated[Caller, Depends(may(Role.AUDITOR, Role.ADMIN, Role.SERVICE))]
"""Reads every entry, read-only: auditors, admins and services."""

BundleCaller = Annotated[
    Caller, Depends(may(Role.AUDITOR, Role.ADMIN, Role.UNION_REP, own_record=True))
]
"""Who may ask for a bundle at all; whose bundle each may have is decided per request."""
