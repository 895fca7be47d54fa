"""Subscriptions and the outbox on SQLite: every delivery is a row with a status.

A delivery goes pending -> inflight (committed before the post) -> posted, or back to pending
with a later attempt time, or failed with a reason, or cancelled when its channel unsubscribed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from bot.domain.channels import PAUSE_AFTER, PAUSE_AT_ONCE, Channel
from bot.domain.corrections import (
    SILENT_FLAG,
    corrected_milestones,
    keep_told,
    milestones_corrected,
    plan_corrections,
)
from bot.domain.deliveries import STATUSES, DeliveryRow, Pending, original
from bot.domain.event_codec import event_from_dict
from bot.domain.events import Event
from bot.domain.records import DetectionWrite, StoredEvent
from bot.domain.subscriptions import PlannedDelivery, Subscription, SubscriptionSpec
from bot.store.common import (
    DELIVERY_COUNTS_BY_PLATFORM_SQL,
    PENDING_BY_PLATFORM_SQL,
    pending_by_platform,
)
from bot.store.rows import DELIVERY_COLUMNS, SUBSCRIPTION_COLUMNS, delivery_row, subscription_row
from bot.store.sqlite.base import SqliteBase

# `steps` with the post's step at its end unless it is there (a delivery posted in one go
# records it with its status)
_WITH_POST = (
    "CASE WHEN EXISTS (SELECT 1 FROM json_each(steps) WHERE value = 'post') THEN steps "
    "ELSE json_insert(steps, '$[#]', 'post') END"
)


class SqliteOutbox(SqliteBase):
    """Subscriptions, deliveries and digests."""

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, spec: SubscriptionSpec) -> tuple[Subscription, bool]:
        """Create a subscription, or update the settings of the same channel, subject and region.

        Returns it and whether it is new. Subscribing again also resumes a paused one.
        """
        c = spec.channel
        async with self.transaction():
            existing = await self._rows(
                "SELECT id FROM subscriptions WHERE platform = ? AND workspace = ? AND channel = ? "
                "AND subject_key = ? AND region = ?",
                (c.platform, c.workspace, c.channel, spec.subject.key, spec.region),
            )
            values = (
                spec.subject.kind,
                spec.subject.name,
                ",".join(spec.kinds),
                ",".join(spec.instant_kinds),
                spec.ladder,
                spec.locale,
                spec.mode,
                spec.digest_at,
                spec.timezone,
                int(spec.charts),
                int(spec.corrections),
            )
            if existing:
                await self._run(
                    "UPDATE subscriptions SET subject_kind = ?, subject_name = ?, kinds = ?, "
                    "instant_kinds = ?, ladder = ?, locale = ?, mode = ?, digest_at = ?, "
                    "timezone = ?, charts = ?, corrections = ?, status = 'active', "
                    "paused_reason = NULL, failures = 0 "
                    "WHERE id = ?",
                    (*values, existing[0][0]),
                )
                sub_id, created = int(existing[0][0]), False
            else:
                cursor = await self._run(
                    "INSERT INTO subscriptions (platform, workspace, channel, subject_key, "
                    "subject_kind, subject_name, kinds, instant_kinds, ladder, locale, mode, "
                    "digest_at, timezone, charts, corrections, region, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        c.platform,
                        c.workspace,
                        c.channel,
                        spec.subject.key,
                        *values,
                        spec.region,
                        spec.created_by,
                    ),
                )
                assert cursor.lastrowid is not None
                sub_id, created = cursor.lastrowid, True
        found = await self.subscription(sub_id)
        assert found is not None
        return found, created

    async def subscription(self, sub_id: int) -> Subscription | None:
        rows = await self._rows(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?", (sub_id,)
        )
        return subscription_row(rows[0]) if rows else None

    async def subscriptions(self, channel: Channel | None = None) -> list[Subscription]:
        """Every subscription, or a channel's."""
        if channel is None:
            rows = await self._rows(f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY id")
        else:
            rows = await self._rows(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions "
                "WHERE platform = ? AND workspace = ? "
                "AND channel = ? ORDER BY id",
                (channel.platform, channel.workspace, channel.channel),
            )
        return [subscription_row(r) for r in rows]

    async def subscriptions_for(
        self, subject_keys: Sequence[str], region: str
    ) -> list[Subscription]:
        """Active subscriptions to any of these subjects in a region."""
        if not subject_keys:
            return []
        marks = ", ".join("?" for _ in subject_keys)
        rows = await self._rows(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE status = 'active' "
            f"AND region = ? AND subject_key IN ({marks})",
            (region, *subject_keys),
        )
        return [subscription_row(r) for r in rows]

    async def unsubscribe(self, channel: Channel, subject_key: str | None) -> int:
        """Remove a channel's subscription to a subject (None: all of them); queued deliveries
        that no remaining subscription covers are cancelled at once. Returns how many went."""
        params: tuple[Any, ...] = (channel.platform, channel.workspace, channel.channel)
        where = "platform = ? AND workspace = ? AND channel = ?"
        if subject_key is not None:
            where += " AND subject_key = ?"
            params = (*params, subject_key)
        async with self.transaction():
            cursor = await self._run(f"DELETE FROM subscriptions WHERE {where}", params)
            removed = cursor.rowcount
            await self._cancel_orphans(channel)
        return removed

    async def _cancel_orphans(self, channel: Channel) -> None:
        live = {
            r[0]
            for r in await self._rows(
                "SELECT id FROM subscriptions WHERE platform = ? AND workspace = ? AND channel = ? "
                "AND status = 'active'",
                (channel.platform, channel.workspace, channel.channel),
            )
        }
        pending = await self._rows(
            "SELECT id, subscription_ids FROM deliveries WHERE platform = ? AND workspace = ? "
            "AND channel = ? AND status = 'pending'",
            (channel.platform, channel.workspace, channel.channel),
        )
        orphans = [(r[0],) for r in pending if not set(json.loads(r[1])) & live]
        await self._many(
            "UPDATE deliveries SET status = 'cancelled', reason = 'unsubscribed' WHERE id = ?",
            orphans,
        )

    async def resume(
        self, channel: Channel, subject_key: str | None = None, now: float | None = None
    ) -> int:
        """Resume a channel's paused subscriptions (one subject, or all), and send what the
        pause held back: the queue it stopped and the delivery whose failure paused it."""
        params: tuple[Any, ...] = (channel.platform, channel.workspace, channel.channel)
        where = "platform = ? AND workspace = ? AND channel = ? AND status = 'paused'"
        if subject_key is not None:
            where += " AND subject_key = ?"
            params = (*params, subject_key)
        async with self.transaction():
            resumed = {
                int(r[0])
                for r in await self._rows(
                    "UPDATE subscriptions SET status = 'active', paused_reason = NULL, "
                    f"failures = 0 WHERE {where} RETURNING id",
                    params,
                )
            }
            if resumed:
                held = ", ".join(f"'{r}'" for r in sorted(PAUSE_AT_ONCE))
                candidates = await self._rows(
                    "SELECT id, subscription_ids FROM deliveries WHERE platform = ? "
                    "AND workspace = ? AND channel = ? AND status = 'failed' "
                    f"AND (last_error = 'channel paused' OR reason IN ({held}))",
                    params[:3],
                )
                when = time.time() if now is None else now
                await self._many(
                    "UPDATE deliveries SET status = 'pending', attempts = 0, "
                    "next_attempt_at = ?, last_error = NULL WHERE id = ?",
                    [(when, r[0]) for r in candidates if set(json.loads(r[1])) & resumed],
                )
        return len(resumed)

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
            chosen: list[int] = []
            seen: set[tuple[str, str, str]] = set()
            for delivery_id, *channel in candidates:
                key = (channel[0], channel[1], channel[2])
                if key not in seen and len(chosen) < limit:
                    seen.add(key)
                    chosen.append(delivery_id)
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
            pause = reason in PAUSE_AT_ONCE
            if not pause:
                worst = await self._rows(
                    f"SELECT MAX(failures) FROM subscriptions WHERE {channel_where}", key
                )
                pause = bool(worst and worst[0][0] is not None and worst[0][0] >= PAUSE_AFTER)
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

    async def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        rows = await self._rows("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return {s: 0 for s in STATUSES} | {r[0]: int(r[1]) for r in rows}

    async def delivery_counts_by_platform(self) -> dict[tuple[str, str], int]:
        """How many deliveries each platform has in each status (for /metrics)."""
        rows = await self._rows(DELIVERY_COUNTS_BY_PLATFORM_SQL)
        return {(r[0], r[1]): int(r[2]) for r in rows}

    async def pending_by_platform(self) -> dict[str, Pending]:
        """Deliveries not out yet (pending or in flight), by platform."""
        return pending_by_platform(await self._rows(PENDING_BY_PLATFORM_SQL))

    async def next_due(self) -> float | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        rows = await self._rows(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'"
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        """Stored events by id."""
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = await self._rows(
            f"SELECT id, payload FROM events WHERE id IN ({marks})", tuple(ids), table="events"
        )
        return {r[0]: event_from_dict(json.loads(r[1])) for r in rows}

    # -- digests ----------------------------------------------------------------------------

    async def take_digest(self, sub_id: int, now: float, label: str | None = None) -> int | None:
        """Turn a subscription's collected events into one digest delivery; None if empty."""
        async with self.transaction():
            subs = await self._rows(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions "
                "WHERE id = ? AND status = 'active'",
                (sub_id,),
            )
            if not subs:
                return None
            sub = subscription_row(subs[0])
            items = await self._rows(
                "SELECT event_id FROM digest_items WHERE subscription_id = ? ORDER BY event_id",
                (sub_id,),
            )
            if not items:
                return None
            await self._run("DELETE FROM digest_items WHERE subscription_id = ?", (sub_id,))
            event_ids = tuple(int(r[0]) for r in items)
            ids = await self._insert_deliveries(
                [
                    PlannedDelivery(
                        sub.channel,
                        "digest",
                        event_ids,
                        tuple(sub_id for _ in event_ids),
                        sub.spec.locale,
                        json.dumps(
                            {
                                "mode": "weekly" if sub.spec.mode == "instant" else sub.spec.mode,
                                "label": label,
                            }
                        ),
                    )
                ],
                now,
            )
        return ids[0]

    async def digest_size(self, sub_id: int) -> int:
        rows = await self._rows(
            "SELECT COUNT(*) FROM digest_items WHERE subscription_id = ?", (sub_id,)
        )
        return int(rows[0][0])

    async def _fan_out(
        self,
        stored: Sequence[StoredEvent],
        keys: Sequence[Sequence[str]],
        plan_for: Any,
        now: float,
    ) -> None:
        """Inside the detection's transaction: one delivery per channel, digest items, and
        the corrections of milestones told (unless a migration asked for silence)."""
        silent = await self._take_flag(SILENT_FLAG)
        pairs = list(zip(stored, keys, strict=True))
        corrections = [p for p in pairs if p[0].event.kind == "correction"]
        news = [p for p in pairs if p[0].event.kind != "correction"]
        if corrections and not silent:
            await self._route_corrections(corrections, now)
        if not news:
            return
        regions = {s.event.region for s, _ in news}
        all_keys = sorted({k for _, ks in news for k in ks})
        subs: list[Subscription] = []
        for region in sorted(regions):
            subs.extend(await self.subscriptions_for(all_keys, region))
        if not subs:
            return
        plan = plan_for(news, subs)
        await self._insert_deliveries(plan.deliveries, now)
        await self._many(
            "INSERT INTO digest_items (subscription_id, event_id) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            plan.digest_items,
        )

    async def _route_corrections(
        self, corrections: Sequence[tuple[StoredEvent, Sequence[str]]], now: float
    ) -> None:
        """Withdraw corrected milestones still pending; queue each correction for the
        channels that received what it corrects (`bot.domain.corrections.plan_corrections`)."""
        candidates: list[StoredEvent] = []
        for subject_key, region in sorted(
            {(s.event.subject.key, s.event.region) for s, _ in corrections}
        ):
            rows = await self._rows(
                "SELECT id, payload FROM events WHERE subject_key = ? AND region = ? "
                "AND kind = 'milestone' ORDER BY id",
                (subject_key, region),
                table="events",
            )
            candidates += [StoredEvent(r[0], event_from_dict(json.loads(r[1]))) for r in rows]
        originals_of = milestones_corrected([s for s, _ in corrections], candidates)
        ids = sorted({m for ms in originals_of.values() for m in ms})
        if not ids:
            return
        marks = ", ".join("?" for _ in ids)
        # corrections are rare: reading the deliveries that carry the milestones by a scan of
        # the outbox costs less than an index every delivery would pay for
        rows = await self._rows(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE kind IN ('instant', 'digest') "
            "AND EXISTS (SELECT 1 FROM json_each(deliveries.event_ids) "
            f"WHERE json_each.value IN ({marks})) ORDER BY id",
            ids,
            table="deliveries",
        )
        originals = [original(d) for d in map(delivery_row, rows)]
        items = await self._rows(
            f"SELECT subscription_id, event_id FROM digest_items WHERE event_id IN ({marks})", ids
        )
        subs = {c: await self.subscriptions(c) for c in sorted({o.channel for o in originals})}
        plan = plan_corrections(
            corrections, originals_of, originals, [(r[0], r[1]) for r in items], subs
        )
        for delivery_id, (event_ids, sub_ids) in plan.rewrites.items():
            if event_ids:
                await self._run(
                    "UPDATE deliveries SET event_ids = ?, subscription_ids = ? "
                    "WHERE id = ? AND status = 'pending' AND rendered IS NULL",
                    (json.dumps(list(event_ids)), json.dumps(list(sub_ids)), delivery_id),
                )
            else:
                await self._run(
                    "UPDATE deliveries SET status = 'cancelled', reason = 'withdrawn' "
                    "WHERE id = ? AND status = 'pending' AND rendered IS NULL",
                    (delivery_id,),
                )
        await self._many(
            "DELETE FROM digest_items WHERE subscription_id = ? AND event_id = ?",
            plan.withdrawn_digest_items,
        )
        await self._insert_deliveries(plan.deliveries, now)

    async def _keep_told_corrections(self, write: DetectionWrite) -> None:
        """Before a detection is written: corrections only of milestones that were told."""
        wanted = corrected_milestones(write)
        if not wanted:
            return
        rows = await self._rows(
            "SELECT m.subject_key, m.region, m.metric, j.value ->> 3 FROM json_each(?) j "
            "JOIN milestones m ON m.subject_key = j.value ->> 0 AND m.region = j.value ->> 1 "
            "AND m.metric = j.value ->> 2 AND m.lowest <= j.value ->> 3 "
            "AND j.value ->> 3 <= m.highest WHERE m.history = 0",
            (json.dumps(wanted),),
        )
        keep_told(write, {(r[0], r[1], r[2], int(r[3])) for r in rows})

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

    async def delivery(self, delivery_id: int) -> DeliveryRow | None:
        """One delivery by id."""
        rows = await self._rows(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)
        )
        return delivery_row(rows[0]) if rows else None

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
        wanted = set(event_ids)
        out: dict[int, DeliveryRow] = {}
        for row in map(delivery_row, rows):
            for event_id in row.event_ids:
                if event_id in wanted:
                    out[event_id] = row  # ascending ids: the newest delivery wins
        return out
