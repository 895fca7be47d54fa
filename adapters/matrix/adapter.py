"""The Matrix adapter: announcements to rooms and `!ev-...` commands typed in them, through
matrix-nio and a homeserver's client-server API.

Posting (the outbox's `ChatAdapter`, `adapters.matrix.posting`): an `m.room.message` with HTML
and plain bodies, the delivery key its transaction id and in its content, the chart an `m.image`
after it; each found again after a crash through `/messages`. Commands (`CommandHost`,
`adapters.matrix.commands`): a `/sync` loop. The homeserver URL and options are checked in
`adapters.matrix.settings`; the client, error codes and room checks are `adapters.matrix.client`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from adapters.matrix.commands import MatrixCommands
from adapters.matrix.posting import MatrixPosting
from adapters.matrix.settings import MatrixSettings
from bot.commands.context import CommandContext
from bot.domain.settings import PlatformConfig
from bot.ports.chat import ImageMode


class MatrixAdapter(MatrixPosting):
    """Posts to Matrix rooms and answers the commands typed there; one room is
    `Channel("matrix", "default", room_id)`."""

    images: ImageMode = "followup"  # an m.image event of its own, after the announcement

    def __init__(self, settings: MatrixSettings, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings, clock=clock)
        self.server = MatrixCommands(self)

    @classmethod
    def from_config(
        cls, config: PlatformConfig, environ: Mapping[str, str] | None = None
    ) -> MatrixAdapter:
        """The adapter `[platforms.matrix]` describes."""
        return cls(MatrixSettings.from_config(config, environ))

    async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None:
        """Answer the commands typed in the bot's rooms until `stopping` is set."""
        await self.server.serve(commands, stopping)
