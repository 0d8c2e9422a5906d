"""Schemathesis hooks for tests/stack/openapi/test_schemathesis.py (loaded by SCHEMATHESIS_HOOKS).

Schemathesis draws `Idempotency-Key` values from the header's schema, so the same short key
("0", say) comes back for many different commands; the API then rightly refuses the second
command as a reuse of the key (422 idempotency-key-reused), and the check that valid data is
accepted reports it. A client gives each new command a new key: so does this hook, by making
every valid key unique. An invalid key (empty, too long, not printable ASCII) is left as
drawn, so that the API's refusal of it is still checked.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

VALID_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")  # the kit's IDEMPOTENCY_KEY_PATTERN


@schemathesis.hook
def map_headers(context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    key = (headers or {}).get("Idempotency-Key")
    if headers is not None and isinstance(key, str) and VALID_KEY.match(key):
        headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"
    return headers
