"""Template rows, the same on both backends: columns, values and records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.templates import Template

TEMPLATE_COLUMNS = "platform, workspace, name, kind, body, created_by, created_at"


def template_values(t: Template) -> tuple[Any, ...]:
    """A template as the row's values, in `TEMPLATE_COLUMNS` order."""
    return (t.platform, t.workspace, t.name, t.kind, t.body, t.created_by, t.created_at)


def template_row(row: Sequence[Any]) -> Template:
    """A row of `TEMPLATE_COLUMNS` as a template."""
    return Template(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), float(row[6])
    )
