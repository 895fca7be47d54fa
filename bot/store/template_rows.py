"""Template rows, the same on both backends: columns, values and records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.templates import Template

TEMPLATE_COLUMNS = "platform, workspace, name, kind, body, created_by, created_at"

# The templates some subscriptions use, each with its subscription's id: a template is its
# subscription's workspace's. `{ids}` is the backend's list of parameters (no values in the text).
USED_TEMPLATES_SQL = (
    "SELECT st.subscription_id, t.platform, t.workspace, t.name, t.kind, t.body, t.created_by, "
    "t.created_at FROM subscription_templates st "
    "JOIN subscriptions s ON s.id = st.subscription_id "
    "JOIN templates t ON t.platform = s.platform AND t.workspace = s.workspace "
    "AND t.name = st.name "
    "WHERE st.subscription_id IN ({ids}) ORDER BY st.subscription_id, t.kind"
)


def template_values(t: Template) -> tuple[Any, ...]:
    """A template as the row's values, in `TEMPLATE_COLUMNS` order."""
    return (t.platform, t.workspace, t.name, t.kind, t.body, t.created_by, t.created_at)


def template_row(row: Sequence[Any]) -> Template:
    """A row of `TEMPLATE_COLUMNS` as a template."""
    return Template(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), float(row[6])
    )
