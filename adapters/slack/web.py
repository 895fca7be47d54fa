"""The Slack adapter's Web API clients and workspace tokens, shared by its posting and its
commands: one HTTP session for the posting clients, the bot token from the configuration or, in
OAuth mode, from the workspace's installation kept in the bot's store."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.oauth import DatabaseInstallationStore, DatabaseStateStore
from adapters.slack.settings import SlackSettings
from bot.config.version import user_agent_product
from bot.domain.channels import MISSING_ACCESS, Channel, DeliveryFailure, Limits
from bot.ports.installations import SlackInstallationRows

PLATFORM = "slack"


class SlackWeb:
    """A Slack app's clients and tokens; one channel is `Channel("slack", team_id, channel_id)`."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        installations: SlackInstallationRows | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.limits = Limits(settings.rate_per_second, settings.channel_rate_per_second)
        self.clock = clock
        self.installation_store: DatabaseInstallationStore | None = None
        self.state_store: DatabaseStateStore | None = None
        self._ready = asyncio.Event()
        if installations is not None:
            self.attach(installations)
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[tuple[str, bool], AsyncWebClient] = {}

    def channel(self, team_id: str, channel_id: str) -> Channel:
        """The channel of a workspace."""
        return Channel(PLATFORM, team_id, channel_id)

    def attach(self, rows: SlackInstallationRows) -> None:
        """Keep installations (OAuth mode) in `rows`, the bot's store."""
        self.installation_store = DatabaseInstallationStore(rows)
        self.state_store = DatabaseStateStore(rows, clock=self.clock)
        self._ready.set()

    # -- Web API clients ------------------------------------------------------------------

    def web_client(self, token: str | None, *, retry_rate_limits: bool) -> AsyncWebClient:
        """A client of the configured Web API host. Posting leaves 429s to the worker (which
        paces the channel); reading and commands let slack_sdk wait out Retry-After."""
        handlers: list[AsyncRetryHandler] = [AsyncServerErrorRetryHandler(max_retry_count=2)]
        if retry_rate_limits:
            handlers += [
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            ]
        return AsyncWebClient(
            token=token,
            base_url=self.settings.api_base_url,
            timeout=math.ceil(self.settings.timeout),
            retry_handlers=handlers,
            session=self._session,
            user_agent_suffix=user_agent_product(),  # after slack_sdk's own agent
        )

    async def client_for(self, channel: Channel, *, reading: bool) -> AsyncWebClient:
        """The posting (or, `reading`, the reading) client of the channel's workspace, on the
        shared HTTP session."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
            self._clients.clear()
        token = await self._token(channel)
        key = (token, reading)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self.web_client(token, retry_rate_limits=reading)
        return client

    async def _token(self, channel: Channel) -> str:
        if not self.settings.oauth:
            return self.settings.bot_token or ""
        await self._ready.wait()  # the store arrives with `serve` (bounded by the post timeout)
        assert self.installation_store is not None
        bot = await self.installation_store.async_find_bot(
            enterprise_id=None, team_id=channel.workspace
        )
        if bot is None or not bot.bot_token:
            raise DeliveryFailure(
                MISSING_ACCESS,
                permanent=True,
                detail=f"workspace {channel.workspace} has not installed the app",
            )
        return bot.bot_token

    async def close(self) -> None:
        """Close the HTTP session the posting clients share."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._clients.clear()
