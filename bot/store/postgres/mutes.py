"""Mutes on PostgreSQL: a channel's silenced subjects, until when (`bot.domain.mutes`)."""

from __future__ import annotations

from bot.domain.channels import Channel
from bot.domain.mutes import Mute
from bot.store.mute_rows import MUTE_COLUMNS, mute_row, mute_values
from bot.store.postgres.base import PgBase, Runner

_CHANNEL = "platform = $1 AND workspace = $2 AND channel = $3"


class PgMutes(PgBase):
    """Mutes, by channel and subject."""

    async def mute(self, mute: Mute) -> None:
        """Mute a channel's subject, replacing a mute of the same subject (its end and choice);
        mutes ended by then are removed."""
        async with self.pool.acquire() as con, con.transaction():
            await self._run(con, "DELETE FROM mutes WHERE until <= $1", mute.created_at)
            await self._run(
                con,
                f"INSERT INTO mutes ({MUTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "ON CONFLICT (platform, workspace, channel, subject_key) DO UPDATE SET "
                "subject_name = excluded.subject_name, until = excluded.until, "
                "then_do = excluded.then_do, created_by = excluded.created_by, "
                "created_at = excluded.created_at",
                *mute_values(mute),
            )

    async def unmute(self, channel: Channel, subject_key: str | None) -> int:
        """End a channel's mute of a subject (None: every mute of the channel); returns how many
        mutes were removed."""
        key = (channel.platform, channel.workspace, channel.channel)
        if subject_key is None:
            return await self._run(self.pool, f"DELETE FROM mutes WHERE {_CHANNEL}", *key)
        return await self._run(
            self.pool, f"DELETE FROM mutes WHERE {_CHANNEL} AND subject_key = $4", *key, subject_key
        )

    async def mutes(
        self, channel: Channel | None, now: float, con: Runner | None = None
    ) -> list[Mute]:
        """The mutes holding at `now`, of one channel or (None) of all, by channel and subject."""
        if channel is None:
            rows = await self._fetch(
                con or self.pool,
                f"SELECT {MUTE_COLUMNS} FROM mutes WHERE until > $1 "
                "ORDER BY platform, workspace, channel, subject_key",
                now,
            )
        else:
            rows = await self._fetch(
                con or self.pool,
                f"SELECT {MUTE_COLUMNS} FROM mutes WHERE until > $1 AND platform = $2 "
                "AND workspace = $3 AND channel = $4 ORDER BY subject_key",
                now,
                channel.platform,
                channel.workspace,
                channel.channel,
            )
        return [mute_row(r) for r in rows]
