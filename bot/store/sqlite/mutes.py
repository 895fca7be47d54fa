"""Mutes on SQLite: a channel's silenced subjects, until when (`bot.domain.mutes`)."""

from __future__ import annotations

from typing import Any

from bot.domain.channels import Channel
from bot.domain.mutes import Mute
from bot.store.mute_rows import MUTE_COLUMNS, mute_row, mute_values
from bot.store.sqlite.base import SqliteBase


class SqliteMutes(SqliteBase):
    """Mutes, by channel and subject."""

    async def mute(self, mute: Mute) -> None:
        """Mute a channel's subject, replacing a mute of the same subject (its end and choice);
        mutes ended by then are removed."""
        async with self.transaction():
            await self._run("DELETE FROM mutes WHERE until <= ?", (mute.created_at,))
            await self._run(
                f"INSERT INTO mutes ({MUTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, workspace, channel, subject_key) DO UPDATE SET "
                "subject_name = excluded.subject_name, until = excluded.until, "
                "then_do = excluded.then_do, created_by = excluded.created_by, "
                "created_at = excluded.created_at",
                mute_values(mute),
            )

    async def unmute(self, channel: Channel, subject_key: str | None) -> int:
        """End a channel's mute of a subject (None: every mute of the channel); returns how many
        mutes were removed."""
        params: tuple[Any, ...] = (channel.platform, channel.workspace, channel.channel)
        where = "platform = ? AND workspace = ? AND channel = ?"
        if subject_key is not None:
            where += " AND subject_key = ?"
            params += (subject_key,)
        async with self.transaction():
            rows = await self._rows(f"SELECT subject_key FROM mutes WHERE {where}", params)
            await self._run(f"DELETE FROM mutes WHERE {where}", params)
        return len(rows)

    async def mutes(self, channel: Channel | None, now: float) -> list[Mute]:
        """The mutes holding at `now`, of one channel or (None) of all, by channel and subject."""
        if channel is None:
            rows = await self._rows(
                f"SELECT {MUTE_COLUMNS} FROM mutes WHERE until > ? "
                "ORDER BY platform, workspace, channel, subject_key",
                (now,),
            )
        else:
            rows = await self._rows(
                f"SELECT {MUTE_COLUMNS} FROM mutes WHERE until > ? AND platform = ? "
                "AND workspace = ? AND channel = ? ORDER BY subject_key",
                (now, channel.platform, channel.workspace, channel.channel),
            )
        return [mute_row(r) for r in rows]
