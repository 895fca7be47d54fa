"""Rows of the `mutes` table as `bot.domain.mutes.Mute`, for both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.channels import Channel
from bot.domain.mutes import Mute

MUTE_COLUMNS = (
    "platform, workspace, channel, subject_key, subject_name, until, then_do, created_by, "
    "created_at"
)


def mute_row(row: Sequence[Any]) -> Mute:
    """A `mutes` row (`MUTE_COLUMNS`) as a Mute."""
    return Mute(
        Channel(row[0], row[1], row[2]),
        row[3],
        row[4],
        float(row[5]),
        row[6],
        row[7],
        float(row[8]),
    )


def mute_values(mute: Mute) -> tuple[Any, ...]:
    """A Mute as the values of `MUTE_COLUMNS`."""
    c = mute.channel
    return (
        c.platform,
        c.workspace,
        c.channel,
        mute.subject_key,
        mute.subject_name,
        mute.until,
        mute.then,
        mute.created_by,
        mute.created_at,
    )
