"""Message templates on SQLite, per workspace, name and kind (`bot.domain.templates`)."""

from __future__ import annotations

from bot.domain.templates import Template
from bot.store.sqlite.base import SqliteBase
from bot.store.template_rows import TEMPLATE_COLUMNS, template_row, template_values


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
