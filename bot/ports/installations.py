"""The store's side of Slack's OAuth installs: the rows a workspace's install keeps."""

from __future__ import annotations

from typing import Protocol


class SlackInstallationRows(Protocol):
    """Slack app installations and OAuth states, as rows (the Slack adapter owns their JSON).

    An absent enterprise, team or user id is "". Every implementation passes the installation
    tests in `tests/test_slack_store.py`.
    """

    async def save_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str, data: str, installed_at: float
    ) -> None:
        """Insert or replace the installation by one user in one workspace."""

    async def save_slack_bot(
        self, enterprise_id: str, team_id: str, data: str, installed_at: float
    ) -> None:
        """Insert or replace a workspace's bot (its token)."""

    async def find_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str | None
    ) -> str | None:
        """The newest installation in a workspace (by `user_id` when given), as stored."""

    async def find_slack_bot(self, enterprise_id: str, team_id: str) -> str | None:
        """A workspace's bot, as stored."""

    async def delete_slack_installation(
        self, enterprise_id: str, team_id: str, user_id: str | None
    ) -> None:
        """Forget one user's installation, or every installation in the workspace."""

    async def delete_slack_bot(self, enterprise_id: str, team_id: str) -> None:
        """Forget a workspace's bot."""

    async def issue_slack_state(self, state: str, expires_at: float) -> None:
        """Remember an OAuth state until it expires."""

    async def consume_slack_state(self, state: str, now: float) -> bool:
        """True once for a state issued and not expired; it is forgotten either way."""
