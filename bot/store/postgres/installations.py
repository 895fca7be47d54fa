"""Slack app installations (multi-workspace OAuth) and OAuth states on PostgreSQL.

The same rows and semantics as `bot/store/sqlite/installations.py`: the Slack adapter stores JSON
text,
and an absent enterprise, team or user is "". Shared by every replica, so an install that one
replica completes is known to all of them, and a state is consumed once, by whichever replica
the redirect reaches.
"""

from __future__ import annotations

from bot.store.postgres.base import PgBase


class PgInstallations(PgBase):
    """The SQL of `bot.ports.installations.SlackInstallationRows` on PostgreSQL."""

    async def save_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str, data: str, installed_at: float
    ) -> None:
        """Insert or replace the installation by one user in one workspace."""
        await self._run(
            self.pool,
            "INSERT INTO slack_installations (enterprise_id, team_id, user_id, data, installed_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (enterprise_id, team_id, user_id) "
            "DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at",
            enterprise_id,
            team_id,
            user_id,
            data,
            installed_at,
        )

    async def save_slack_bot(
        self, enterprise_id: str, team_id: str, data: str, installed_at: float
    ) -> None:
        """Insert or replace a workspace's bot (its token)."""
        await self._run(
            self.pool,
            "INSERT INTO slack_bots (enterprise_id, team_id, data, installed_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (enterprise_id, team_id) "
            "DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at",
            enterprise_id,
            team_id,
            data,
            installed_at,
        )

    async def find_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str | None
    ) -> str | None:
        """The newest installation in a workspace (by `user_id` when given), as stored."""
        data = await self._val(
            self.pool,
            "SELECT data FROM slack_installations WHERE enterprise_id = $1 AND team_id = $2 "
            "AND ($3::text IS NULL OR user_id = $3) ORDER BY installed_at DESC LIMIT 1",
            enterprise_id,
            team_id,
            user_id,
        )
        return str(data) if data is not None else None

    async def find_slack_bot(self, enterprise_id: str, team_id: str) -> str | None:
        """A workspace's bot, as stored."""
        data = await self._val(
            self.pool,
            "SELECT data FROM slack_bots WHERE enterprise_id = $1 AND team_id = $2",
            enterprise_id,
            team_id,
        )
        return str(data) if data is not None else None

    async def delete_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str | None
    ) -> None:
        """Forget one user's installation, or every installation in the workspace."""
        await self._run(
            self.pool,
            "DELETE FROM slack_installations WHERE enterprise_id = $1 AND team_id = $2 "
            "AND ($3::text IS NULL OR user_id = $3)",
            enterprise_id,
            team_id,
            user_id,
        )

    async def delete_slack_bot(self, enterprise_id: str, team_id: str) -> None:
        """Forget a workspace's bot."""
        await self._run(
            self.pool,
            "DELETE FROM slack_bots WHERE enterprise_id = $1 AND team_id = $2",
            enterprise_id,
            team_id,
        )

    async def issue_slack_state(self, state: str, expires_at: float) -> None:
        """Remember an OAuth state until it expires."""
        await self._run(
            self.pool,
            "INSERT INTO slack_oauth_states (state, expires_at) VALUES ($1, $2)",
            state,
            expires_at,
        )

    async def consume_slack_state(self, state: str, now: float) -> bool:
        """True once for a state issued and not expired; it is forgotten either way."""
        taken = await self._run(
            self.pool,
            "DELETE FROM slack_oauth_states WHERE state = $1 AND expires_at >= $2",
            state,
            now,
        )
        await self._run(self.pool, "DELETE FROM slack_oauth_states WHERE expires_at < $1", now)
        return taken == 1
