"""Subscriptions on PostgreSQL: subscribe (one upsert), unsubscribe (cancelling what no
subscription covers), resume."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.domain.channels import PAUSE_AT_ONCE, Channel
from bot.domain.subscriptions import Subscription, SubscriptionSpec
from bot.store.outbox_logic import CANCEL_ORPHAN_SQL, RESEND_SQL, orphans, to_send_again
from bot.store.postgres.base import Connection, PgBase, Runner
from bot.store.reads import OutboxReads
from bot.store.rows import SUBSCRIPTION_COLUMNS, subscription_row

CHANNEL_WHERE = "platform = $1 AND workspace = $2 AND channel = $3"


class PgSubscriptions(PgBase, OutboxReads):
    """Subscriptions, by channel, subject and region."""

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, spec: SubscriptionSpec) -> tuple[Subscription, bool]:
        """Create a subscription, or update the settings of the same channel, subject, region
        and metric.

        Returns it and whether it is new. Subscribing again also resumes a paused one.
        """
        c = spec.channel
        row = (
            await self._fetch(
                self.pool,
                "INSERT INTO subscriptions (platform, workspace, channel, subject_key, "
                "subject_kind, subject_name, kinds, instant_kinds, ladder, locale, mode, "
                "digest_at, timezone, region, created_by, charts, corrections, metric) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
                "$17, $18) "
                "ON CONFLICT (platform, workspace, channel, subject_key, region, metric) "
                "DO UPDATE SET "
                "subject_kind = excluded.subject_kind, subject_name = excluded.subject_name, "
                "kinds = excluded.kinds, instant_kinds = excluded.instant_kinds, "
                "ladder = excluded.ladder, locale = excluded.locale, mode = excluded.mode, "
                "digest_at = excluded.digest_at, timezone = excluded.timezone, "
                "charts = excluded.charts, corrections = excluded.corrections, status = 'active', "
                "paused_reason = NULL, failures = 0 "
                "RETURNING id, (xmax = 0) AS created",
                c.platform,
                c.workspace,
                c.channel,
                spec.subject.key,
                spec.subject.kind,
                spec.subject.name,
                ",".join(spec.kinds),
                ",".join(spec.instant_kinds),
                spec.ladder,
                spec.locale,
                spec.mode,
                spec.digest_at,
                spec.timezone,
                spec.region,
                spec.created_by,
                int(spec.charts),
                int(spec.corrections),
                spec.metric,
            )
        )[0]
        found = await self.subscription(int(row[0]))
        assert found is not None
        return found, bool(row[1])

    async def subscriptions_for(
        self, subject_keys: Sequence[str], region: str, con: Runner | None = None
    ) -> list[Subscription]:
        """Active subscriptions to any of these subjects in a region."""
        if not subject_keys:
            return []
        rows = await self._fetch(
            con or self.pool,
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE status = 'active' "
            "AND region = $1 AND subject_key = ANY($2::text[])",
            region,
            list(subject_keys),
        )
        return [subscription_row(r) for r in rows]

    async def unsubscribe(self, channel: Channel, subject_key: str | None) -> int:
        """Remove a channel's subscription to a subject (None: all of them); queued deliveries
        that no remaining subscription covers are cancelled at once. Returns how many went."""
        key = (channel.platform, channel.workspace, channel.channel)
        async with self.pool.acquire() as con, con.transaction():
            if subject_key is None:
                removed = await self._run(
                    con, f"DELETE FROM subscriptions WHERE {CHANNEL_WHERE}", *key
                )
            else:
                removed = await self._run(
                    con,
                    f"DELETE FROM subscriptions WHERE {CHANNEL_WHERE} AND subject_key = $4",
                    *key,
                    subject_key,
                )
            await self._cancel_orphans(con, channel)
        return removed

    async def unsubscribe_id(self, sub_id: int) -> Subscription | None:
        """Remove subscription `sub_id`, cancelling the queued deliveries no remaining
        subscription of its channel covers. Returns what was removed (None: no such id)."""
        found = await self.subscription(sub_id)
        if found is None:
            return None
        async with self.pool.acquire() as con, con.transaction():
            removed = await self._run(con, "DELETE FROM subscriptions WHERE id = $1", sub_id)
            await self._cancel_orphans(con, found.channel)
        return found if removed else None

    async def _cancel_orphans(self, con: Connection, channel: Channel) -> None:
        key = (channel.platform, channel.workspace, channel.channel)
        live = {
            r[0]
            for r in await self._fetch(
                con,
                f"SELECT id FROM subscriptions WHERE {CHANNEL_WHERE} AND status = 'active'",
                *key,
            )
        }
        pending = await self._fetch(
            con,
            f"SELECT id, subscription_ids FROM deliveries WHERE {CHANNEL_WHERE} "
            "AND status = 'pending'",
            *key,
        )
        await self._many(con, CANCEL_ORPHAN_SQL, orphans(pending, live))

    async def resume(
        self, channel: Channel, subject_key: str | None = None, now: float | None = None
    ) -> int:
        """Resume a channel's paused subscriptions (one subject, or all), and send what the
        pause held back: the queue it stopped and the delivery whose failure paused it."""
        key = (channel.platform, channel.workspace, channel.channel)
        async with self.pool.acquire() as con, con.transaction():
            sql = (
                "UPDATE subscriptions SET status = 'active', paused_reason = NULL, failures = 0 "
                f"WHERE {CHANNEL_WHERE} AND status = 'paused'"
            )
            if subject_key is None:
                rows = await self._fetch(con, sql + " RETURNING id", *key)
            else:
                rows = await self._fetch(
                    con, sql + " AND subject_key = $4 RETURNING id", *key, subject_key
                )
            resumed = {int(r[0]) for r in rows}
            if resumed:
                candidates = await self._fetch(
                    con,
                    f"SELECT id, subscription_ids FROM deliveries WHERE {CHANNEL_WHERE} "
                    "AND status = 'failed' "
                    "AND (last_error = 'channel paused' OR reason = ANY($4::text[]))",
                    *key,
                    sorted(PAUSE_AT_ONCE),
                )
                when = time.time() if now is None else now
                again = to_send_again(candidates, resumed, when)
                await self._many(con, RESEND_SQL, again)
                if again:
                    await self.notify_deliveries(con)
        return len(resumed)
