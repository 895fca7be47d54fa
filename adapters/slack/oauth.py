"""slack_sdk's installation and OAuth state stores over the bot's own database.

The SQL lives in the store (`bot.sqlite_installations`, behind `bot.store.SlackInstallationRows`);
here an `Installation` or `Bot` becomes JSON text and back, the way slack_sdk's own file store
does it (`json.dumps(obj.__dict__)`, then `Installation(**data)`).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.ports.installations import SlackInstallationRows

log = logging.getLogger("evbot.slack.oauth")

STATE_SECONDS = 600.0  # an install link works this long, as slack_sdk's own stores default


def _ids(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> tuple[str, str]:
    # an org-wide install is one installation for every team of the enterprise
    if is_enterprise_install:
        return enterprise_id or "", ""
    return enterprise_id or "", team_id or ""


def _json(obj: Any) -> str:
    return json.dumps(obj.__dict__, default=str)


class DatabaseInstallationStore(AsyncInstallationStore):
    """Installations and bots per workspace, in the bot's database."""

    def __init__(self, rows: SlackInstallationRows) -> None:
        self.rows = rows

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        enterprise, team = _ids(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        await self.rows.save_slack_installation(
            enterprise,
            team,
            installation.user_id or "",
            _json(installation),
            float(installation.installed_at),
        )
        if installation.bot_token:
            await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        enterprise, team = _ids(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await self.rows.save_slack_bot(enterprise, team, _json(bot), float(bot.installed_at))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        data = await self.rows.find_slack_bot(enterprise, team)
        return Bot(**json.loads(data)) if data is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        enterprise, team = _ids(enterprise_id, team_id, is_enterprise_install)
        data = await self.rows.find_slack_installation(enterprise, team, user_id)
        if data is None:
            return None
        installation = Installation(**json.loads(data))
        if user_id is not None:
            # the workspace's newest bot token wins over the one this user installed with
            bot = await self.async_find_bot(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
            if bot is not None:
                installation.bot_token = bot.bot_token
                installation.bot_id = bot.bot_id
                installation.bot_user_id = bot.bot_user_id
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        enterprise, team = _ids(enterprise_id, team_id, False)
        await self.rows.delete_slack_bot(enterprise, team)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        enterprise, team = _ids(enterprise_id, team_id, False)
        await self.rows.delete_slack_installation(enterprise, team, user_id)


class DatabaseStateStore(AsyncOAuthStateStore):
    """OAuth states in the bot's database, so any replica can finish an install another began."""

    def __init__(
        self,
        rows: SlackInstallationRows,
        expiration_seconds: float = STATE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rows = rows
        self.expiration_seconds = expiration_seconds
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self.rows.issue_slack_state(state, self.clock() + self.expiration_seconds)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self.rows.consume_slack_state(state, self.clock())
