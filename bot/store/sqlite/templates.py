"""Message templates on SQLite, per workspace, name and kind (`bot.domain.templates`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.templates import Template
from bot.store.sqlite.base import SqliteBase
from bot.store.template_rows import (
    TEMPLATE_COLUMNS,
    USED_TEMPLATES_SQL,
    template_row,
    template_values,
)


class SqliteTemplates(SqliteBase):
    """Templates, by workspace, name and kind."""

    async def set_template(self, template: Template) -> bool:
        """Save a template, replacing one of the same workspace, name and kind (its text and
        who saved it); returns whether it is new."""
        key = (template.platform, template.workspace, template.name, template.kind)
        async with self.transaction():
            before = await self._rows(
                "SELECT 1 FROM templates WHERE platform = ? AND workspace = ? AND name = ? "
                "AND kind = ?",
                key,
            )
            await self._run(
                f"INSERT INTO templates ({TEMPLATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, workspace, name, kind) DO UPDATE SET "
                "body = excluded.body, created_by = excluded.created_by, "
                "created_at = excluded.created_at",
                template_values(template),
            )
        return not before

    async def templates(self, platform: str, workspace: str) -> list[Template]:
        """A workspace's templates, by name and kind."""
        rows = await self._rows(
            f"SELECT {TEMPLATE_COLUMNS} FROM templates WHERE platform = ? AND workspace = ? "
            "ORDER BY name, kind",
            (platform, workspace),
        )
        return [template_row(r) for r in rows]

    async def use_template(self, subscription_id: int, name: str) -> None:
        """Make a subscription's announcements use its workspace's template `name` ("": none)."""
        async with self.transaction():
            await self._run(
                "DELETE FROM subscription_templates WHERE subscription_id = ?", (subscription_id,)
            )
            if name:
                await self._run(
                    "INSERT INTO subscription_templates (subscription_id, name) VALUES (?, ?)",
                    (subscription_id, name),
                )

    async def subscription_templates(
        self, subscription_ids: Sequence[int]
    ) -> dict[int, list[Template]]:
        """The templates each of these subscriptions uses (one per kind), by subscription."""
        ids = list(dict.fromkeys(subscription_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = await self._rows(USED_TEMPLATES_SQL.format(ids=marks), tuple(ids))
        found: dict[int, list[Template]] = {}
        for row in rows:
            found.setdefault(int(row[0]), []).append(template_row(row[1:]))
        return found
