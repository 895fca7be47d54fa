"""Slack app installations (multi-workspace OAuth) and OAuth states, kept in the bot's database.

Plain rows: the Slack adapter turns slack_sdk's `Installation` and `Bot` into JSON text and back,
so this module knows nothing of Slack's library. An absent enterprise, team or user is stored as
"" (a NULL would not be equal to itself in the primary keys).
"""

from __future__ import annotations

from bot.store.sqlite.base import SqliteBase


class SqliteInstallations(SqliteBase):
    """The SQL of `bot.ports.installations.SlackInstallationRows` on SQLite."""

    async def _write(self, *statements: tuple[str, tuple[object, ...]]) -> int:
        """Run statements in one transaction (alone, a statement would join any other task's
        open one, and go with its rollback); returns the first one's row count."""
        async with self.transaction():
            counts = [(await self._run(sql, params)).rowcount for sql, params in statements]
        return counts[0]

    async def save_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str, data: str, installed_at: float
    ) -> None:
        """Insert or replace the installation by one user in one workspace."""
        await self._write(
            (
                "INSERT INTO slack_installations (enterprise_id, team_id, user_id, data, "
                "installed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (enterprise_id, team_id, "
                "user_id) DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at",
                (enterprise_id, team_id, user_id, data, installed_at),
            )
        )

    async def save_slack_bot(
        self, enterprise_id: str, team_id: str, data: str, installed_at: float
    ) -> None:
        """Insert or replace a workspace's bot (its token)."""
        await self._write(
            (
                "INSERT INTO slack_bots (enterprise_id, team_id, data, installed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (enterprise_id, team_id) "
                "DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at",
                (enterprise_id, team_id, data, installed_at),
            )
        )

    async def find_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str | None
    ) -> str | None:
        """The newest installation in a workspace (by `user_id` when given), as stored."""
        if user_id is None:
            rows = await self._rows(
                "SELECT data FROM slack_installations WHERE enterprise_id = ? AND team_id = ? "
                "ORDER BY installed_at DESC LIMIT 1",
                (enterprise_id, team_id),
            )
        else:
            rows = await self._rows(
                "SELECT data FROM slack_installations WHERE enterprise_id = ? AND team_id = ? "
                "AND user_id = ?",
                (enterprise_id, team_id, user_id),
            )
        return str(rows[0][0]) if rows else None

    async def find_slack_bot(self, enterprise_id: str, team_id: str) -> str | None:
        """A workspace's bot, as stored."""
        rows = await self._rows(
            "SELECT data FROM slack_bots WHERE enterprise_id = ? AND team_id = ?",
            (enterprise_id, team_id),
        )
        return str(rows[0][0]) if rows else None

    async def delete_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str | None
    ) -> None:
        """Forget one user's installation, or every installation in the workspace."""
        if user_id is None:
            await self._write(
                (
                    "DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?",
                    (enterprise_id, team_id),
                )
            )
        else:
            await self._write(
                (
                    "DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ? "
                    "AND user_id = ?",
                    (enterprise_id, team_id, user_id),
                )
            )

    async def delete_slack_bot(self, enterprise_id: str, team_id: str) -> None:
        """Forget a workspace's bot."""
        await self._write(
            (
                "DELETE FROM slack_bots WHERE enterprise_id = ? AND team_id = ?",
                (enterprise_id, team_id),
            )
        )

    async def issue_slack_state(self, state: str, expires_at: float) -> None:
        """Remember an OAuth state until it expires."""
        await self._write(
            (
                "INSERT INTO slack_oauth_states (state, expires_at) VALUES (?, ?)",
                (state, expires_at),
            )
        )

    async def consume_slack_state(self, state: str, now: float) -> bool:
        """True once for a state issued and not expired; it is forgotten either way."""
        consumed = await self._write(
            ("DELETE FROM slack_oauth_states WHERE state = ? AND expires_at >= ?", (state, now)),
            ("DELETE FROM slack_oauth_states WHERE expires_at < ?", (now,)),
        )
        return consumed == 1
