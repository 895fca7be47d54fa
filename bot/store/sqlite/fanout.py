"""Fan-out on SQLite, inside a detection's transaction: deliveries and digest items for the
news, corrections routed to the channels that were told; digests taken."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.domain.corrections import (
    SILENT_FLAG,
    corrected_milestones,
    keep_told,
    milestones_corrected,
    plan_corrections,
)
from bot.domain.deliveries import original
from bot.domain.mutes import apply_mutes
from bot.domain.records import DetectionWrite, StoredEvent
from bot.domain.subscriptions import Subscription
from bot.store.detection_rows import stored_event
from bot.store.outbox_logic import (
    WITHDRAW_DIGEST_ITEM_SQL,
    correction_series,
    digest_delivery,
    news_audience,
    rewrite,
    split_fan_out,
)
from bot.store.rows import DELIVERY_COLUMNS, SUBSCRIPTION_COLUMNS, delivery_row, subscription_row
from bot.store.sqlite.base import positional
from bot.store.sqlite.mutes import SqliteMutes
from bot.store.sqlite.outbox import SqliteOutbox
from bot.store.sqlite.templates import SqliteTemplates


class SqliteFanOut(SqliteOutbox, SqliteMutes, SqliteTemplates):
    """Fan-out, corrections and digests."""

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
                [digest_delivery(sub, event_ids, label)],
                now,
            )
        return ids[0]

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
        corrections, news = split_fan_out(stored, keys)
        if corrections and not silent:
            await self._route_corrections(corrections, now)
        if not news:
            return
        regions, all_keys = news_audience(news)
        subs: list[Subscription] = []
        for region in regions:
            subs.extend(await self.subscriptions_for(all_keys, region))
        if not subs:
            return
        # a muted channel's news is recorded all the same, only not posted: to its digest or
        # nowhere (`bot.domain.mutes`)
        plan = apply_mutes(plan_for(news, subs), news, subs, await self.mutes(None, now), now)
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
        for subject_key, region in correction_series(corrections):
            rows = await self._rows(
                "SELECT id, payload FROM events WHERE subject_key = ? AND region = ? "
                "AND kind = 'milestone' ORDER BY id",
                (subject_key, region),
                table="events",
            )
            candidates += [stored_event(r) for r in rows]
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
        await rewrite(self._run_q, plan)
        await self._many(positional(WITHDRAW_DIGEST_ITEM_SQL), plan.withdrawn_digest_items)
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
