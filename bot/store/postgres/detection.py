"""Detection's writes on PostgreSQL: milestones, corrections, share levels, events and series
states with the watermark in one transaction; holds; the event and milestone logs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from bot.domain import holds as hold_rows
from bot.domain.bulk import without_gc
from bot.domain.records import (
    DetectionWrite,
    StoredEvent,
)
from bot.domain.series_state import SeriesState
from bot.domain.subscriptions import FanoutPlan, Subscription
from bot.store.detection_rows import (
    CORRECTION_INSERT_SQL,
    EVENT_COLUMNS,
    MILESTONE_DROP_SQL,
    MILESTONE_LOG_KEYS,
    MILESTONE_UPSERT_SQL,
    SHARE_LEVEL_UPSERT_SQL,
    check_watermark,
    detection_rows,
    event_row,
    log_rows,
    stored_events,
)
from bot.store.postgres.base import Connection
from bot.store.postgres.imports import PgImports
from bot.store.rows import STATE_COLUMNS, state_rows


class PgDetection(PgImports):
    """`save_detection`, holds and the logs."""

    async def release_hold(
        self,
        hold_id: int,
        plan_for: Callable[
            [list[tuple[StoredEvent, Sequence[str]]], list[Subscription]], FanoutPlan
        ],
        now: float,
    ) -> list[StoredEvent]:
        """Release a hold and fan out, in the same transaction, the events it no longer holds
        back (once: the hold is released and its rows gone when it commits)."""
        async with self.pool.acquire() as con, con.transaction():
            free = await hold_rows.release(self._fetch_on(con), self._run_on(con), hold_id)
            found = await self.events_by_id([i for i, _ in free])
            stored = [StoredEvent(i, found[i]) for i, _ in free if i in found]
            keys = [k for i, k in free if i in found]
            if stored:
                await self._fan_out(con, stored, keys, plan_for, now)
        return stored

    async def save_detection(
        self,
        name: str,
        expected: int,
        new: int,
        write: DetectionWrite,
        plan_for: Callable[
            [list[tuple[StoredEvent, Sequence[str]]], list[Subscription]], FanoutPlan
        ]
        | None = None,
        now: float = 0.0,
        *,
        states: Sequence[SeriesState] = (),
    ) -> list[StoredEvent]:
        """Record a detection, fan its news out to the outbox, keep the detected series' states,
        and advance the watermark from `expected` to `new`, all in one transaction.

        Refuses (StoreError) when another detector moved the watermark meanwhile, so nothing is
        recorded twice. Returns the events that were new (an event already stored is skipped).
        """
        async with self.pool.acquire() as con, con.transaction():
            # the row lock makes a concurrent detector wait, then see the moved watermark
            await self._run(
                con,
                "INSERT INTO watermarks (name, seq) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                name,
            )
            current = await self._val(
                con, "SELECT seq FROM watermarks WHERE name = $1 FOR UPDATE", name
            )
            check_watermark(name, expected, current)
            stored = await hold_rows.held_back(
                await self._write_detection(con, write), write, self._run_on(con)
            )
            await self._save_states(con, states)
            if plan_for is not None:
                await self._fan_out(
                    con, [s for s, _ in stored], [k for _, k in stored], plan_for, now
                )
            await self._run(con, "UPDATE watermarks SET seq = $2 WHERE name = $1", name, new)
        return [s for s, _ in stored]

    async def _save_states(self, con: Connection, states: Sequence[SeriesState]) -> None:
        if not states:
            return
        await self._many(
            con,
            f"INSERT INTO series_state ({STATE_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
            "ON CONFLICT (subject_key, region, metric) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, first_month = excluded.first_month, "
            "first_nonzero = excluded.first_nonzero, last_month = excluded.last_month, "
            "total = excluded.total, peak = excluded.peak, best = excluded.best, "
            "best_month = excluded.best_month, recent_from = excluded.recent_from, "
            "recent = excluded.recent, year_sources = excluded.year_sources, "
            "flagged = excluded.flagged, basis = excluded.basis",
            await asyncio.to_thread(state_rows, states),
        )

    async def _write_detection(
        self, con: Connection, write: DetectionWrite
    ) -> list[tuple[StoredEvent, Sequence[str]]]:
        await self._keep_told_corrections(con, write)
        rows = detection_rows(write)
        await self._many(con, MILESTONE_DROP_SQL, rows.drops)
        await self._many(con, MILESTONE_UPSERT_SQL, rows.milestones)
        await self._many(con, CORRECTION_INSERT_SQL, rows.corrections)
        await self._many(con, SHARE_LEVEL_UPSERT_SQL, rows.levels)
        if not write.events:
            return []
        # one statement for every event (a poll can find thousands, each a round trip apart),
        # written in their order so that ids follow it; an event already stored is skipped,
        # and RETURNING names the ones that were new
        events = await asyncio.to_thread(without_gc, lambda: [event_row(e) for e in write.events])
        found = await self._fetch(
            con,
            f"INSERT INTO events ({EVENT_COLUMNS}) SELECT a, b, c, d, e, f FROM unnest("
            "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
            "WITH ORDINALITY AS u (a, b, c, d, e, f, n) ORDER BY n "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key",
            *(list(column) for column in zip(*events, strict=True)),
        )
        return stored_events(write, [e[0] for e in events], found)

    async def milestone_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded milestones, newest crossing first."""
        rows = await self._fetch(
            self.pool,
            "SELECT subject_name, region, metric, lowest, highest, count, period, value, "
            "below::int, history::int, recorded_at FROM milestones "
            "ORDER BY period DESC, highest DESC LIMIT $1",
            limit,
            table="milestones",
        )
        return log_rows(MILESTONE_LOG_KEYS, rows)
