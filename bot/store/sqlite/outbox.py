"""Subscriptions and the outbox on SQLite: every delivery is a row with a status.

A delivery goes pending -> inflight (committed before the post) -> posted, or back to pending
with a later attempt time, or failed with a reason, or cancelled when its channel unsubscribed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.domain.channels import Channel
from bot.domain.deliveries import DeliveryRow
from bot.domain.events import Event
from bot.domain.subscriptions import PlannedDelivery
from bot.store.outbox_logic import (
    REQUEUE_SQL,
    events_of,
    newest_per_event,
    one_per_channel,
    pauses_at_once,
    too_many_failures,
)
from bot.store.rows import DELIVERY_COLUMNS, delivery_row
from bot.store.sqlite.base import positional
from bot.store.sqlite.subscriptions import SqliteSubscriptions

# `steps` with the post's step at its end unless it is there (a delivery posted in one go
# records it with its status)
_WITH_POST = (
    "CASE WHEN EXISTS (SELECT 1 FROM json_each(steps) WHERE value = 'post') THEN steps "
    "ELSE json_insert(steps, '$[#]', 'post') END"
)


class SqliteOutbox(SqliteSubscriptions):
    """Deliveries: queued, claimed, posted, retried, failed, cancelled."""

    # -- deliveries -------------------------------------------------------------------------

    async def enqueue(self, planned: Sequence[PlannedDelivery], now: float) -> list[int]:
        """Queue deliveries made outside a detection (a "now following" notice, a digest)."""
        async with self.transaction():
            return await self._insert_deliveries(planned, now)

    async def _insert_deliveries(self, planned: Sequence[PlannedDelivery], now: float) -> list[int]:
        ids = []
        for d in planned:
            cursor = await self._run(
                "INSERT INTO deliveries (platform, workspace, channel, kind, event_ids, "
                "subscription_ids, locale, payload, next_attempt_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    d.channel.platform,
                    d.channel.workspace,
                    d.channel.channel,
                    d.kind,
                    json.dumps(list(d.event_ids)),
                    json.dumps(list(d.subscription_ids)),
                    d.locale,
                    d.payload,
                    now,
                    now,
                ),
            )
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
        return ids

    async def claim_due(
        self, now: float, limit: int, platforms: Sequence[str] | None = None
    ) -> list[DeliveryRow]:
        """Mark up to `limit` due deliveries in flight (committed) and return them.

        At most one per channel, and none for a channel that has a post under way: a channel's
        messages go out in order, and a slow or rate-limited channel holds up only itself.
        """
        where = "d.status = 'pending' AND d.next_attempt_at <= ?"
        params: tuple[Any, ...] = (now,)
        if platforms is not None:
            where += f" AND d.platform IN ({', '.join('?' for _ in platforms)})"
            params = (*params, *platforms)
        async with self.transaction():
            # walks the due index from its start: the cost is the rows looked at, not the queue
            candidates = await self._rows(
                "SELECT d.id, d.platform, d.workspace, d.channel FROM deliveries d "
                f"WHERE {where} AND NOT EXISTS (SELECT 1 FROM deliveries i "
                "WHERE i.platform = d.platform AND i.workspace = d.workspace "
                "AND i.channel = d.channel AND i.status = 'inflight') "
                "ORDER BY d.next_attempt_at, d.id LIMIT ?",
                (*params, limit * 4),
            )
            chosen = [delivery_id for delivery_id, _ in one_per_channel(candidates, limit)]
            if not chosen:
                return []
            rows = await self._rows(
                "UPDATE deliveries SET status = 'inflight', attempts = attempts + 1, "
                "claimed_at = COALESCE(claimed_at, ?) "
                f"WHERE id IN ({', '.join('?' for _ in chosen)}) RETURNING {DELIVERY_COLUMNS}",
                (now, *chosen),
            )
        return sorted((delivery_row(r) for r in rows), key=lambda d: d.id)

    async def inflight(self, platforms: Sequence[str] | None = None) -> list[DeliveryRow]:
        """Deliveries a crash may have left between "about to post" and "posted"."""
        rows = await self._rows(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'inflight' ORDER BY id"
        )
        found = [delivery_row(r) for r in rows]
        return [d for d in found if platforms is None or d.channel.platform in platforms]

    async def mark_posted(self, delivery_id: int, message_id: str, now: float) -> None:
        """A delivery reached its channel: every step done, the post's among them."""
        async with self.transaction():
            row = await self._rows(
                "UPDATE deliveries SET status = 'posted', message_id = ?, posted_at = ?, "
                f"last_error = NULL, steps = {_WITH_POST} "
                "WHERE id = ? RETURNING platform, workspace, channel",
                (message_id, now, delivery_id),
            )
            if row:
                await self._run(
                    "UPDATE subscriptions SET failures = 0, last_error = NULL "
                    "WHERE platform = ? AND workspace = ? AND channel = ? AND failures > 0",
                    tuple(row[0]),
                )

    async def mark_step(self, delivery_id: int, entry: str, message_id: str | None = None) -> None:
        """Record a step of an in-flight delivery as done (`bot.domain.delivery_steps`), committed
        at
        once; the post's step keeps the message id even while later steps are still to do."""
        async with self.transaction():
            await self._run(
                "UPDATE deliveries SET steps = json_insert(steps, '$[#]', ?), "
                "message_id = COALESCE(?, message_id) WHERE id = ? AND status = 'inflight'",
                (entry, message_id, delivery_id),
            )

    async def mark_retry(
        self, delivery_id: int, next_attempt_at: float, reason: str, error: str
    ) -> None:
        """Back to pending, for another attempt not before `next_attempt_at`."""
        async with self.transaction():
            await self._run(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, reason = ?, "
                "last_error = ? WHERE id = ? AND status = 'inflight'",
                (next_attempt_at, reason, error, delivery_id),
            )

    async def release(self, delivery_id: int, not_before: float | None = None) -> None:
        """Pending again without counting an attempt: an in-flight delivery found not posted,
        or one claimed while its channel must still wait (`not_before`)."""
        async with self.transaction():
            await self._run(
                "UPDATE deliveries SET status = 'pending', attempts = MAX(attempts - 1, 0), "
                "next_attempt_at = COALESCE(?, next_attempt_at) "
                "WHERE id = ? AND status = 'inflight'",
                (not_before, delivery_id),
            )

    async def defer_channel(self, channel: Channel, not_before: float) -> None:
        """Nothing more to this channel before `not_before` (the platform said to wait)."""
        async with self.transaction():
            await self._run(
                "UPDATE deliveries SET next_attempt_at = MAX(next_attempt_at, ?) "
                "WHERE platform = ? AND workspace = ? AND channel = ? AND status = 'pending'",
                (not_before, channel.platform, channel.workspace, channel.channel),
            )

    async def mark_failed(self, delivery: DeliveryRow, reason: str, error: str) -> bool:
        """A permanent failure; pauses the channel's subscriptions when retrying cannot help
        (or after several in a row). Returns whether they were paused."""
        c = delivery.channel
        channel_where = "platform = ? AND workspace = ? AND channel = ?"
        key = (c.platform, c.workspace, c.channel)
        async with self.transaction():
            await self._run(
                "UPDATE deliveries SET status = 'failed', reason = ?, last_error = ? WHERE id = ?",
                (reason, error, delivery.id),
            )
            await self._run(
                "UPDATE subscriptions SET failures = failures + 1, last_error = ? "
                f"WHERE {channel_where}",
                (f"{reason}: {error}", *key),
            )
            pause = pauses_at_once(reason)
            if not pause:
                worst = await self._rows(
                    f"SELECT MAX(failures) FROM subscriptions WHERE {channel_where}", key
                )
                pause = bool(worst) and too_many_failures(worst[0][0])
            if pause:
                await self._run(
                    "UPDATE subscriptions SET status = 'paused', paused_reason = ? "
                    f"WHERE {channel_where} AND status = 'active'",
                    (reason, *key),
                )
                # retrying the channel's queue cannot work either; it is kept for a resume
                await self._run(
                    "UPDATE deliveries SET status = 'failed', reason = ?, "
                    "last_error = 'channel paused' "
                    f"WHERE {channel_where} AND status = 'pending'",
                    (reason, *key),
                )
        return pause

    async def requeue(self, delivery_ids: Sequence[int], now: float) -> list[int]:
        """Failed deliveries queued again: pending, due now, attempts from 0, error cleared
        (what they sent, and the steps they did, are kept). Returns those that were failed."""
        done: list[int] = []
        async with self.transaction():
            for delivery_id in delivery_ids:
                rows = await self._rows(positional(REQUEUE_SQL), (now, delivery_id))
                done.extend(int(r[0]) for r in rows)
        return done

    async def mark_cancelled(self, delivery_id: int, reason: str) -> None:
        async with self.transaction():
            await self._run(
                "UPDATE deliveries SET status = 'cancelled', reason = ? WHERE id = ?",
                (reason, delivery_id),
            )

    async def deliveries(self, status: str | None = None, limit: int = 100) -> list[DeliveryRow]:
        """Deliveries, newest first, optionally of one status."""
        if status is None:
            rows = await self._rows(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries ORDER BY id DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self._rows(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = ? "
                "ORDER BY id DESC LIMIT ?",
                (status, limit),
            )
        return [delivery_row(r) for r in rows]

    async def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        """Stored events by id."""
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = await self._rows(
            f"SELECT id, payload FROM events WHERE id IN ({marks})", tuple(ids), table="events"
        )
        return events_of(rows)

    # -- rendering and flags ----------------------------------------------------------------

    async def keep_rendered(self, delivery_id: int, rendered: str) -> str:
        """Keep a delivery's message as first rendered; returns the one kept (an earlier
        claim's, if there was one): every retry and reconciliation sends that."""
        async with self.transaction():
            rows = await self._rows(
                "UPDATE deliveries SET rendered = COALESCE(rendered, ?) WHERE id = ? "
                "RETURNING rendered",
                (rendered, delivery_id),
            )
        return str(rows[0][0]) if rows else rendered

    async def set_flag(self, name: str, value: str = "") -> None:
        """Raise a store flag (e.g. `SILENT_FLAG`, for a migration that re-records figures)."""
        async with self.transaction():
            await self._run(
                "INSERT INTO store_flags (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    async def _take_flag(self, name: str) -> bool:
        """Whether the flag was raised; lowers it (inside the caller's transaction)."""
        rows = await self._rows("DELETE FROM store_flags WHERE name = ? RETURNING name", (name,))
        return bool(rows)

    # -- preview ----------------------------------------------------------------------------

    async def channel_deliveries(
        self, channel: Channel, event_ids: Sequence[int]
    ) -> dict[int, DeliveryRow]:
        """The newest delivery to `channel` of each of `event_ids` that it was sent in.

        Reads the channel's deliveries through `deliveries_by_channel` and returns only those
        carrying one of the events: other channels and other events cost nothing.
        """
        if not event_ids:
            return {}
        marks = ", ".join("?" for _ in event_ids)
        rows = await self._rows(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE platform = ? AND workspace = ? "
            "AND channel = ? AND EXISTS (SELECT 1 FROM json_each(deliveries.event_ids) "
            f"WHERE json_each.value IN ({marks})) ORDER BY id",
            (channel.platform, channel.workspace, channel.channel, *event_ids),
            table="deliveries",
        )
        return newest_per_event(map(delivery_row, rows), event_ids)
