"""The Slack adapter: announcements through the Web API, slash commands through slack-bolt.

Posting (the outbox's `ChatAdapter`, `adapters.slack.posting`): `chat.postMessage` with Block Kit
blocks and the delivery key in the message's metadata, a chart a file in the message's thread,
each found again after a crash. Commands (`CommandHost`, `adapters.slack.commands`): every
command of the core's table is a slash command of the same name, over Socket Mode or HTTP. The
options and secrets are checked in `adapters.slack.settings`; the Web API clients and workspace
tokens are `adapters.slack.web`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from adapters.slack.commands import SlackCommands
from adapters.slack.posting import SlackPosting
from adapters.slack.settings import SlackSettings
from adapters.slack.web import PLATFORM
from bot.commands.context import CommandContext
from bot.domain.settings import PlatformConfig
from bot.ports.chat import ImageMode
from bot.ports.installations import SlackInstallationRows


class SlackAdapter(SlackPosting):
    """Posts to Slack channels and serves the slash commands; one channel is
    `Channel("slack", team_id, channel_id)`."""

    platform = PLATFORM
    images: ImageMode = "followup"  # a file in the post's thread: uploads carry no metadata

    def __init__(
        self,
        settings: SlackSettings,
        *,
        installations: SlackInstallationRows | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings, installations=installations, clock=clock)
        self.server = SlackCommands(self)

    @classmethod
    def from_config(
        cls, config: PlatformConfig, environ: Mapping[str, str] | None = None
    ) -> SlackAdapter:
        """The adapter `[platforms.slack]` describes."""
        return cls(SlackSettings.from_config(config, environ))

    def __repr__(self) -> str:
        return f"SlackAdapter({self.settings!r})"

    async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None:
        """Answer slash commands until `stopping` is set: over Socket Mode, or as an HTTP
        server on the configured address."""
        await self.server.serve(commands, stopping)

    async def listening(self) -> int:
        """The HTTP server's port, once it accepts requests."""
        return await self.server.listening()
