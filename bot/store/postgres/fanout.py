"""Fan-out on PostgreSQL, inside a detection's transaction: deliveries and digest items for the
news, corrections routed to the channels that were told; digests taken."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.domain.channels import Channel
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
from bot.domain.subscriptions import FanoutPlan, Subscription
from bot.store.detection_rows import stored_event
from bot.store.outbox_logic import (
    WITHDRAW_DIGEST_ITEM_SQL,
    correction_series,
    digest_delivery,
    news_audience,
    rewrite,
    split_fan_out,
)
from bot.store.postgres.base import Connection
from bot.store.postgres.mutes import PgMutes
from bot.store.postgres.outbox import PgOutbox
from bot.store.postgres.subscriptions import CHANNEL_WHERE
from bot.store.postgres.templates import PgTemplates
from bot.store.rows import DELIVERY_COLUMNS, SUBSCRIPTION_COLUMNS, delivery_row, subscription_row


class PgFanOut(PgOutbox, PgMutes, PgTemplates):
    """Fan-out, corrections and digests."""

    # -- digests ----------------------------------------------------------------------------

    async def take_digest(self, sub_id: int, now: float, label: str | None = None) -> int | None:
        """Turn a subscription's collected events into one digest delivery; None if empty."""
        async with self.pool.acquire() as con, con.transaction():
            subs = await self._fetch(
                con,
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions "
                "WHERE id = $1 AND status = 'active' "
                "FOR UPDATE",
                sub_id,
            )
            if not subs:
                return None
            sub = subscription_row(subs[0])
            # deleting is the claim: a concurrent digest of the same subscription gets nothing
            items = await self._fetch(
                con,
                "DELETE FROM digest_items WHERE subscription_id = $1 RETURNING event_id",
                sub_id,
            )
            if not items:
                return None
            event_ids = tuple(sorted(int(r[0]) for r in items))
            ids = await self._insert_deliveries(
                con,
                [digest_delivery(sub, event_ids, label)],
                now,
            )
        return ids[0]

    async def _fan_out(
        self,
        con: Connection,
        stored: Sequence[StoredEvent],
        keys: Sequence[Sequence[str]],
        plan_for: Callable[
            [list[tuple[StoredEvent, Sequence[str]]], list[Subscription]], FanoutPlan
        ],
        now: float,
    ) -> None:
        """Inside the detection's transaction: one delivery per channel, digest items, and
        the corrections of milestones told (unless a migration asked for silence)."""
        silent = bool(
            await self._fetch(
                con, "DELETE FROM store_flags WHERE name = $1 RETURNING name", SILENT_FLAG
            )
        )
        corrections, news = split_fan_out(stored, keys)
        if corrections and not silent:
            await self._route_corrections(con, corrections, now)
        if not news:
            return
        regions, all_keys = news_audience(news)
        subs: list[Subscription] = []
        for region in regions:
            subs.extend(await self.subscriptions_for(all_keys, region, con))
        if not subs:
            return
        # a muted channel's news is recorded all the same, only not posted: to its digest or
        # nowhere (`bot.domain.mutes`)
        mutes = await self.mutes(None, now, con)
        plan = apply_mutes(plan_for(news, subs), news, subs, mutes, now)
        await self._insert_deliveries(con, plan.deliveries, now)
        if plan.digest_items:
            await self._run(
                con,
                "INSERT INTO digest_items (subscription_id, event_id) "
                "SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
                [s for s, _ in plan.digest_items],
                [e for _, e in plan.digest_items],
            )

    async def _route_corrections(
        self,
        con: Connection,
        corrections: Sequence[tuple[StoredEvent, Sequence[str]]],
        now: float,
    ) -> None:
        """Withdraw corrected milestones still pending; queue each correction for the
        channels that received what it corrects (`bot.domain.corrections.plan_corrections`)."""
        candidates: list[StoredEvent] = []
        for subject_key, region in correction_series(corrections):
            rows = await self._fetch(
                con,
                "SELECT id, payload FROM events WHERE subject_key = $1 AND region = $2 "
                "AND kind = 'milestone' ORDER BY id",
                subject_key,
                region,
                table="events",
            )
            candidates += [stored_event(r) for r in rows]
        originals_of = milestones_corrected([s for s, _ in corrections], candidates)
        ids = sorted({m for ms in originals_of.values() for m in ms})
        if not ids:
            return
        # corrections are rare: a scan of the outbox costs less than an index every delivery
        # would pay for
        rows = await self._fetch(
            con,
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE kind IN ('instant', 'digest') "
            "AND EXISTS (SELECT 1 FROM json_array_elements_text(event_ids::json) v "
            "WHERE v::bigint = ANY($1::bigint[])) ORDER BY id FOR UPDATE",
            ids,
            table="deliveries",
        )
        originals = [original(d) for d in map(delivery_row, rows)]
        items = await self._fetch(
            con,
            "SELECT subscription_id, event_id FROM digest_items WHERE event_id = ANY($1::bigint[])",
            ids,
        )
        subs: dict[Channel, list[Subscription]] = {}
        for channel in sorted({o.channel for o in originals}):
            found = await self._fetch(
                con,
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE {CHANNEL_WHERE} "
                "ORDER BY id",
                channel.platform,
                channel.workspace,
                channel.channel,
            )
            subs[channel] = [subscription_row(r) for r in found]
        plan = plan_corrections(
            corrections, originals_of, originals, [(r[0], r[1]) for r in items], subs
        )
        await rewrite(self._run_on(con), plan)
        await self._many(con, WITHDRAW_DIGEST_ITEM_SQL, plan.withdrawn_digest_items)
        await self._insert_deliveries(con, plan.deliveries, now)

    async def _keep_told_corrections(self, con: Connection, write: DetectionWrite) -> None:
        """Before a detection is written: corrections only of milestones that were told."""
        wanted = corrected_milestones(write)
        if not wanted:
            return
        rows = await self._fetch(
            con,
            "SELECT m.subject_key, m.region, m.metric, w.t FROM unnest($1::text[], "
            "$2::text[], $3::text[], $4::bigint[]) AS w(s, r, x, t) JOIN milestones m "
            "ON m.subject_key = w.s AND m.region = w.r AND m.metric = w.x "
            "AND m.lowest <= w.t AND w.t <= m.highest WHERE NOT m.history",
            [w[0] for w in wanted],
            [w[1] for w in wanted],
            [w[2] for w in wanted],
            [w[3] for w in wanted],
        )
        keep_told(write, {(r[0], r[1], r[2], int(r[3])) for r in rows})
