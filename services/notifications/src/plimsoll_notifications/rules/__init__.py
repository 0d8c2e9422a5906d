"""The notification rules as shipped: `v<N>.toml` beside this module, the latest in force
unless a version is chosen (`PLIMSOLL_RULES_VERSION`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from plimsoll_notifications.domain.rules import Rules, parse_rules

HERE = Path(__file__).parent


def versions() -> list[int]:
    found = (re.fullmatch(r"v(\d+)\.toml", p.name) for p in HERE.glob("v*.toml"))
    return sorted(int(m.group(1)) for m in found if m)


def load_rules(version: int | None = None) -> Rules:
    chosen = version if version is not None else versions()[-1]
    path = HERE / f"v{chosen}.toml"
    if not path.exists():
        raise FileNotFoundError(f"no notification rules v{chosen} (have {versions()})")
    rules = parse_rules(tomllib.loads(path.read_text()))
    if rules.version != chosen:
        raise ValueError(f"{path.name} says it is version {rules.version}")
    return rules
