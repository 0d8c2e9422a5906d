"""Field types shared by the shipped event types."""

from typing import Annotated

from pydantic import StringConstraints

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100)]
"""An id issued by the owning service or an HMPPS/Cafcass system (practitioner, team, case)."""
