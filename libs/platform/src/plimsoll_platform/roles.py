"""The realm roles, spelled once.

A role is a realm role of the `plimsoll` realm (`realm_access.roles` in the
token). Pure on purpose: a domain may import it to state its own rules (who may
allocate above the hard ceiling, say) without importing any framework.
"""

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    HEAD_OF_SERVICE = "head-of-service"
    OPS = "ops"
    AUDITOR = "auditor"
    UNION_REP = "union-rep"
    EMPLOYER_REP = "employer-rep"
    ADMIN = "admin"
    SERVICE = "service"
    """A client-credentials token of another Plimsoll service."""


EVERYWHERE: Final = frozenset({Role.ADMIN, Role.SERVICE})
"""Roles whose scope is the whole service: admins, and services acting for the system."""
