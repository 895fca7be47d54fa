"""The store's side of a channel's mutes (`bot.domain.mutes`)."""

from __future__ import annotations

from typing import Protocol

from bot.domain.channels import Channel
from bot.domain.mutes import Mute


class MuteRows(Protocol):
    """Mutes kept per channel and subject."""

    async def mute(self, mute: Mute) -> None:
        """Mute a channel's subject (or `all`), replacing a mute of the same subject."""
        ...

    async def unmute(self, channel: Channel, subject_key: str | None) -> int:
        """End a channel's mute of a subject (None: all its mutes); returns how many went."""
        ...

    async def mutes(self, channel: Channel | None, now: float) -> list[Mute]:
        """The mutes holding at `now`, of one channel or (None) of every channel."""
        ...
