"""Subscriptions on SQLite: subscribe, unsubscribe (cancelling what no subscription covers),
resume."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.domain.channels import PAUSE_AT_ONCE, Channel
from bot.domain.subscriptions import Subscription, SubscriptionSpec
from bot.store.outbox_logic import CANCEL_ORPHAN_SQL, RESEND_SQL, orphans, to_send_again
from bot.store.reads import OutboxReads
from bot.store.rows import SUBSCRIPTION_COLUMNS, subscription_row
from bot.store.sqlite.base import SqliteBase, positional


class SqliteSubscriptions(SqliteBase, OutboxReads):
    """Subscriptions, by channel, subject and region."""

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, spec: SubscriptionSpec) -> tuple[Subscription, bool]:
        """Create a subscription, or update the settings of the same channel, subject, region
        and metric.

        Returns it and whether it is new. Subscribing again also resumes a paused one.
        """
        c = spec.channel
        async with self.transaction():
            existing = await self._rows(
                "SELECT id FROM subscriptions WHERE platform = ? AND workspace = ? AND channel = ? "
                "AND subject_key = ? AND region = ? AND metric = ?",
                (c.platform, c.workspace, c.channel, spec.subject.key, spec.region, spec.metric),
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
                    "digest_at, timezone, charts, corrections, region, created_by, metric) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        c.platform,
                        c.workspace,
                        c.channel,
                        spec.subject.key,
                        *values,
                        spec.region,
                        spec.created_by,
                        spec.metric,
                    ),
                )
                assert cursor.lastrowid is not None
                sub_id, created = cursor.lastrowid, True
        found = await self.subscription(sub_id)
        assert found is not None
        return found, created

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

    async def unsubscribe_id(self, sub_id: int) -> Subscription | None:
        """Remove subscription `sub_id`, cancelling the queued deliveries no remaining
        subscription of its channel covers. Returns what was removed (None: no such id)."""
        async with self.transaction():
            found = await self.subscription(sub_id)
            if found is None:
                return None
            await self._run("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
            await self._cancel_orphans(found.channel)
        return found

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
        await self._many(positional(CANCEL_ORPHAN_SQL), orphans(pending, live))

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
                await self._many(positional(RESEND_SQL), to_send_again(candidates, resumed, when))
        return len(resumed)
