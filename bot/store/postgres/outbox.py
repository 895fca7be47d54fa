"""Subscriptions and the outbox on PostgreSQL, shared by several replicas.

The same states as `bot/store/sqlite/outbox.py` (pending -> inflight -> posted, retried, failed,
cancelled). What replicas add: a claim locks its rows with `FOR UPDATE SKIP LOCKED`, so two
replicas never claim one delivery, and takes a transaction advisory lock per channel, so a
channel's messages still go out one at a time and in order; a claimed delivery records the
claiming replica, and `inflight` hands a replica only the deliveries of replicas that died.
A transaction that queues deliveries NOTIFYs the replicas (`PgBase.notify_deliveries`), so
every replica starts on a fan-out at once, not at its next idle look.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

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
from bot.store.postgres.base import REPLICA_CLASS, Connection
from bot.store.postgres.subscriptions import CHANNEL_WHERE, PgSubscriptions
from bot.store.rows import DELIVERY_COLUMNS, delivery_row

CHANNEL_CLASS = 0x45564204  # transaction advisory locks on channels, while claiming
# a delivery's claimant is alive while its replica lock is held (the lock dies with the session)
_CLAIMANT_ALIVE = (
    "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
    f"AND l.objsubid = 2 AND l.classid = {REPLICA_CLASS}::oid "
    "AND l.objid = d.claimed_by::oid "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)


class PgOutbox(PgSubscriptions):
    """Deliveries: queued, claimed, posted, retried, failed, cancelled."""

    # -- deliveries -------------------------------------------------------------------------

    async def enqueue(self, planned: Sequence[PlannedDelivery], now: float) -> list[int]:
        """Queue deliveries made outside a detection (a "now following" notice, a digest)."""
        async with self.pool.acquire() as con, con.transaction():
            return await self._insert_deliveries(con, planned, now)

    async def _insert_deliveries(
        self, con: Connection, planned: Sequence[PlannedDelivery], now: float
    ) -> list[int]:
        if not planned:
            return []
        self.stats.statements += 1
        rows = await con.fetch(
            "INSERT INTO deliveries (platform, workspace, channel, kind, event_ids, "
            "subscription_ids, locale, payload, next_attempt_at, created_at) "
            "SELECT p, w, c, k, e, s, l, y, $9, $9 FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) "
            "WITH ORDINALITY AS t(p, w, c, k, e, s, l, y, n) ORDER BY n RETURNING id",
            [d.channel.platform for d in planned],
            [d.channel.workspace for d in planned],
            [d.channel.channel for d in planned],
            [d.kind for d in planned],
            [json.dumps(list(d.event_ids)) for d in planned],
            [json.dumps(list(d.subscription_ids)) for d in planned],
            [d.locale for d in planned],
            [d.payload for d in planned],
            now,
        )
        # in the same transaction: replicas hear of the rows when they can claim them
        await self.notify_deliveries(con)
        return sorted(int(r[0]) for r in rows)

    async def claim_due(
        self, now: float, limit: int, platforms: Sequence[str] | None = None
    ) -> list[DeliveryRow]:
        """Mark up to `limit` due deliveries in flight (committed) and return them.

        At most one per channel, its next message, and none for a channel that has a post
        under way, whichever replica made it: a channel's messages go out in order. Rows another
        replica is claiming at this moment are skipped (`FOR UPDATE SKIP LOCKED`), never waited
        for.
        """
        if limit <= 0:
            return []
        async with self.pool.acquire() as con, con.transaction():
            candidates = await self._fetch(
                con,
                "SELECT d.id, d.platform, d.workspace, d.channel FROM deliveries d "
                "WHERE d.status = 'pending' AND d.next_attempt_at <= $1 "
                "AND ($3::text[] IS NULL OR d.platform = ANY($3::text[])) "
                # Per-row subqueries, not NOT EXISTS: PostgreSQL would turn those into an anti
                # join over the whole queue; these let it walk the due index and stop at the
                # limit, so a claim costs the rows looked at, not the queue's length.
                "AND (SELECT 1 FROM deliveries i WHERE i.platform = d.platform "
                "AND i.workspace = d.workspace AND i.channel = d.channel "
                "AND i.status = 'inflight' LIMIT 1) IS NULL "
                # only the next message of each channel: when another replica holds it, the
                # channel is skipped rather than its later messages taken out of turn
                "AND (SELECT 1 FROM deliveries e WHERE e.status = 'pending' "
                "AND e.platform = d.platform AND e.workspace = d.workspace "
                "AND e.channel = d.channel "
                "AND (e.next_attempt_at, e.id) < (d.next_attempt_at, d.id) LIMIT 1) IS NULL "
                "ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE SKIP LOCKED",
                now,
                limit * 4,
                list(platforms) if platforms is not None else None,
            )
            taken = one_per_channel(candidates, limit)
            chosen = [delivery_id for delivery_id, _ in taken]
            names = ["\x1f".join(key) for _, key in taken]
            if not chosen:
                return []
            # Another replica may be claiming the same channel's next message right now: the
            # channel lock lets one through, and the update, a statement of its own so that
            # its snapshot is taken after the lock, re-checks for a post under way and so sees
            # what that replica committed before letting go of the lock.
            locked = await self._fetch(
                con,
                "SELECT id FROM unnest($1::bigint[], $2::text[]) AS t(id, name) "
                f"WHERE pg_try_advisory_xact_lock({CHANNEL_CLASS}, hashtext(name))",
                chosen,
                names,
            )
            if not locked:
                return []
            rows = await self._fetch(
                con,
                "UPDATE deliveries d SET status = 'inflight', attempts = attempts + 1, "
                "claimed_by = $2, claimed_at = COALESCE(d.claimed_at, $3) "
                "WHERE d.id = ANY($1::bigint[]) AND d.status = 'pending' "
                "AND NOT EXISTS (SELECT 1 FROM deliveries i WHERE i.platform = d.platform "
                "AND i.workspace = d.workspace AND i.channel = d.channel "
                f"AND i.status = 'inflight') RETURNING {DELIVERY_COLUMNS}",
                [r[0] for r in locked],
                self.replica_id,
                now,
            )
        return sorted((delivery_row(r) for r in rows), key=lambda d: d.id)

    async def inflight(self, platforms: Sequence[str] | None = None) -> list[DeliveryRow]:
        """Deliveries a crash left between "about to post" and "posted": those of replicas that
        are gone (or of a store with no replica, copied from SQLite). They become this
        replica's, so two replicas never settle the same one; those of live replicas,
        including this one's own posts under way, are never returned."""
        rows = await self._fetch(
            self.pool,
            "UPDATE deliveries SET claimed_by = $1 WHERE id IN (SELECT d.id FROM deliveries d "
            "WHERE d.status = 'inflight' AND ($2::text[] IS NULL OR d.platform = ANY($2)) "
            f"AND (d.claimed_by IS NULL OR NOT {_CLAIMANT_ALIVE}) FOR UPDATE SKIP LOCKED) "
            f"RETURNING {DELIVERY_COLUMNS}",
            self.replica_id,
            list(platforms) if platforms is not None else None,
        )
        return sorted((delivery_row(r) for r in rows), key=lambda d: d.id)

    async def mark_posted(self, delivery_id: int, message_id: str, now: float) -> None:
        # one statement, so atomic without a transaction's extra round trips (it runs once
        # per delivery)
        await self._run(
            self.pool,
            "WITH d AS (UPDATE deliveries SET status = 'posted', message_id = $1, "
            "posted_at = $2, last_error = NULL, steps = CASE WHEN steps::jsonb ? 'post' "
            "THEN steps ELSE (steps::jsonb || '[\"post\"]')::text END WHERE id = $3 "
            "RETURNING platform, workspace, channel) "
            "UPDATE subscriptions s SET failures = 0, last_error = NULL FROM d "
            "WHERE s.platform = d.platform AND s.workspace = d.workspace "
            "AND s.channel = d.channel AND s.failures > 0",
            message_id,
            now,
            delivery_id,
        )

    async def mark_step(self, delivery_id: int, entry: str, message_id: str | None = None) -> None:
        """Record a step of an in-flight delivery as done (`bot.domain.delivery_steps`); the post's
        step keeps the message id even while later steps are still to do."""
        await self._run(
            self.pool,
            "UPDATE deliveries SET steps = (steps::jsonb || jsonb_build_array($1::text))::text, "
            "message_id = COALESCE($2, message_id) WHERE id = $3 AND status = 'inflight'",
            entry,
            message_id,
            delivery_id,
        )

    async def mark_retry(
        self, delivery_id: int, next_attempt_at: float, reason: str, error: str
    ) -> None:
        """Back to pending, for another attempt not before `next_attempt_at`."""
        await self._run(
            self.pool,
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, reason = $2, "
            "last_error = $3 WHERE id = $4 AND status = 'inflight' AND claimed_by = $5",
            next_attempt_at,
            reason,
            error,
            delivery_id,
            self.replica_id,
        )

    async def release(self, delivery_id: int, not_before: float | None = None) -> None:
        """Pending again without counting an attempt: an in-flight delivery found not posted,
        or one claimed while its channel must still wait (`not_before`). Only this replica's
        claims: one another replica has taken over is no longer ours to release."""
        await self._run(
            self.pool,
            "UPDATE deliveries SET status = 'pending', attempts = GREATEST(attempts - 1, 0), "
            "next_attempt_at = COALESCE($1, next_attempt_at) "
            "WHERE id = $2 AND status = 'inflight' AND claimed_by = $3",
            not_before,
            delivery_id,
            self.replica_id,
        )

    async def defer_channel(self, channel: Channel, not_before: float) -> None:
        """Nothing more to this channel before `not_before` (the platform said to wait)."""
        await self._run(
            self.pool,
            "UPDATE deliveries SET next_attempt_at = GREATEST(next_attempt_at, $4) "
            f"WHERE {CHANNEL_WHERE} AND status = 'pending'",
            channel.platform,
            channel.workspace,
            channel.channel,
            not_before,
        )

    async def mark_failed(self, delivery: DeliveryRow, reason: str, error: str) -> bool:
        """A permanent failure; pauses the channel's subscriptions when retrying cannot help
        (or after several in a row). Returns whether they were paused."""
        c = delivery.channel
        key = (c.platform, c.workspace, c.channel)
        async with self.pool.acquire() as con, con.transaction():
            await self._run(
                con,
                "UPDATE deliveries SET status = 'failed', reason = $1, last_error = $2 "
                "WHERE id = $3",
                reason,
                error,
                delivery.id,
            )
            await self._run(
                con,
                "UPDATE subscriptions SET failures = failures + 1, last_error = $4 "
                f"WHERE {CHANNEL_WHERE}",
                *key,
                f"{reason}: {error}",
            )
            pause = pauses_at_once(reason)
            if not pause:
                worst = await self._val(
                    con, f"SELECT MAX(failures) FROM subscriptions WHERE {CHANNEL_WHERE}", *key
                )
                pause = too_many_failures(worst)
            if pause:
                await self._run(
                    con,
                    "UPDATE subscriptions SET status = 'paused', paused_reason = $4 "
                    f"WHERE {CHANNEL_WHERE} AND status = 'active'",
                    *key,
                    reason,
                )
                # retrying the channel's queue cannot work either; it is kept for a resume
                await self._run(
                    con,
                    "UPDATE deliveries SET status = 'failed', reason = $4, "
                    f"last_error = 'channel paused' WHERE {CHANNEL_WHERE} AND status = 'pending'",
                    *key,
                    reason,
                )
        return pause

    async def requeue(self, delivery_ids: Sequence[int], now: float) -> list[int]:
        """Failed deliveries queued again: pending, due now, attempts from 0, error cleared
        (what they sent, and the steps they did, are kept). Returns those that were failed."""
        done: list[int] = []
        async with self.pool.acquire() as con, con.transaction():
            for delivery_id in delivery_ids:
                rows = await self._fetch(con, REQUEUE_SQL, now, delivery_id)
                done.extend(int(r[0]) for r in rows)
        return done

    async def mark_cancelled(self, delivery_id: int, reason: str) -> None:
        await self._run(
            self.pool,
            "UPDATE deliveries SET status = 'cancelled', reason = $1 WHERE id = $2",
            reason,
            delivery_id,
        )

    async def deliveries(self, status: str | None = None, limit: int = 100) -> list[DeliveryRow]:
        """Deliveries, newest first, optionally of one status."""
        rows = await self._fetch(
            self.pool,
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries "
            "WHERE $1::text IS NULL OR status = $1 ORDER BY id DESC LIMIT $2",
            status,
            limit,
        )
        return [delivery_row(r) for r in rows]

    async def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        """Stored events by id."""
        if not ids:
            return {}
        rows = await self._fetch(
            self.pool,
            "SELECT id, payload FROM events WHERE id = ANY($1::bigint[])",
            list(ids),
            table="events",
        )
        return events_of(rows)

    async def channel_deliveries(
        self, channel: Channel, event_ids: Sequence[int]
    ) -> dict[int, DeliveryRow]:
        """The newest delivery to `channel` of each of `event_ids` that it was sent in (the
        channel's deliveries only, through `deliveries_by_channel`)."""
        if not event_ids:
            return {}
        rows = await self._fetch(
            self.pool,
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE {CHANNEL_WHERE} "
            "AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(d.event_ids::jsonb) e "
            "WHERE e::bigint = ANY($4::bigint[])) ORDER BY id",
            channel.platform,
            channel.workspace,
            channel.channel,
            list(event_ids),
            table="deliveries",
        )
        return newest_per_event(map(delivery_row, rows), event_ids)

    # -- rendering and flags ----------------------------------------------------------------

    async def keep_rendered(self, delivery_id: int, rendered: str) -> str:
        """Keep a delivery's message as first rendered; returns the one kept (an earlier
        claim's, if there was one): every retry and reconciliation sends that."""
        rows = await self._fetch(
            self.pool,
            "UPDATE deliveries SET rendered = COALESCE(rendered, $1) WHERE id = $2 "
            "RETURNING rendered",
            rendered,
            delivery_id,
        )
        return str(rows[0][0]) if rows else rendered

    async def set_flag(self, name: str, value: str = "") -> None:
        """Raise a store flag (e.g. `SILENT_FLAG`, for a migration that re-records figures)."""
        await self._run(
            self.pool,
            "INSERT INTO store_flags (name, value) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name,
            value,
        )
