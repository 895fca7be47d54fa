"""Message templates on PostgreSQL, per workspace, name and kind (`bot.domain.templates`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.templates import Template
from bot.store.postgres.base import PgBase
from bot.store.template_rows import (
    TEMPLATE_COLUMNS,
    USED_TEMPLATES_SQL,
    template_row,
    template_values,
)


class PgTemplates(PgBase):
    """Templates, by workspace, name and kind."""

    async def set_template(self, template: Template) -> bool:
        """Save a template, replacing one of the same workspace, name and kind (its text and
        who saved it); returns whether it is new."""
        async with self.pool.acquire() as con, con.transaction():
            before = await self._fetch(
                con,
                "SELECT 1 FROM templates WHERE platform = $1 AND workspace = $2 AND name = $3 "
                "AND kind = $4",
                template.platform,
                template.workspace,
                template.name,
                template.kind,
            )
            await self._run(
                con,
                f"INSERT INTO templates ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (platform, workspace, name, kind) DO UPDATE SET "
                "body = excluded.body, created_by = excluded.created_by, "
                "created_at = excluded.created_at",
                *template_values(template),
            )
        return not before

    async def templates(self, platform: str, workspace: str) -> list[Template]:
        """A workspace's templates, by name and kind."""
        rows = await self._fetch(
            self.pool,
            f"SELECT {TEMPLATE_COLUMNS} FROM templates WHERE platform = $1 AND workspace = $2 "
            "ORDER BY name, kind",
            platform,
            workspace,
        )
        return [template_row(r) for r in rows]

    async def use_template(self, subscription_id: int, name: str) -> None:
        """Make a subscription's announcements use its workspace's template `name` ("": none)."""
        async with self.pool.acquire() as con, con.transaction():
            await self._run(
                con,
                "DELETE FROM subscription_templates WHERE subscription_id = $1",
                subscription_id,
            )
            if name:
                await self._run(
                    con,
                    "INSERT INTO subscription_templates (subscription_id, name) VALUES ($1, $2)",
                    subscription_id,
                    name,
                )

    async def subscription_templates(
        self, subscription_ids: Sequence[int]
    ) -> dict[int, list[Template]]:
        """The templates each of these subscriptions uses (one per kind), by subscription."""
        ids = list(dict.fromkeys(subscription_ids))
        if not ids:
            return {}
        rows = await self._fetch(
            self.pool, USED_TEMPLATES_SQL.format(ids="SELECT unnest($1::bigint[])"), ids
        )
        found: dict[int, list[Template]] = {}
        for row in rows:
            found.setdefault(int(row[0]), []).append(template_row(tuple(row)[1:]))
        return found
