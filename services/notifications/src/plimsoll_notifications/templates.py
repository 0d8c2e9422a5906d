"""Rendering what a notification says: its title (from the rule), its e-mail text.

Templates see identifiers and links only, never an event's details: what could leak is
limited by what they are given. A template that does not render (a name it does not know, a
syntax error) raises `TemplateFailed` with the reason: for a decision, the event is
dead-lettered with it; for a delivery, the try fails with it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

_ENV: Final = SandboxedEnvironment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # plain text: an e-mail body and a subject line
    keep_trailing_newline=True,
    auto_reload=False,  # they ship with the code: no stat of the file on every e-mail
)
MAX_TITLE: Final = 200


class TemplateFailed(Exception):
    """A template did not render; the message says which and why."""


def render_title(template: str, identifiers: Mapping[str, str]) -> str:
    """One line of at most 200 characters, from the rule's title and the identifiers."""
    try:
        rendered = _compiled(template).render(**identifiers)
    except TemplateError as exc:
        raise TemplateFailed(f"title template {template!r} did not render: {exc}") from exc
    line = " ".join(rendered.split())
    if not line:
        raise TemplateFailed(f"title template {template!r} rendered nothing")
    return line[:MAX_TITLE]


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    """A rule's title compiled once: compiling costs some thirty times rendering."""
    return _ENV.from_string(template)


def render_file(name: str, **context: Any) -> str:
    try:
        return _ENV.get_template(name).render(**context)
    except TemplateError as exc:
        raise TemplateFailed(f"template {name} did not render: {exc}") from exc
