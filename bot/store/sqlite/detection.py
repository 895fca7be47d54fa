"""Detection's writes on SQLite: milestones, corrections, share levels, events and series states
with the watermark in one transaction; holds; the event and milestone logs."""

from __future__ import annotations

import asyncio
import itertools
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
    DetectionRows,
    check_watermark,
    detection_rows,
    event_row,
    keep_levels,
    log_rows,
    stored_events,
)
from bot.store.rows import STATE_COLUMNS, state_rows
from bot.store.sqlite.base import positional
from bot.store.sqlite.imports import SqliteImports

_MILESTONE_DROP = positional(MILESTONE_DROP_SQL)
_MILESTONE_UPSERT = positional(MILESTONE_UPSERT_SQL)
_CORRECTION_INSERT = positional(CORRECTION_INSERT_SQL)
_SHARE_LEVEL_UPSERT = positional(SHARE_LEVEL_UPSERT_SQL)
# events written by one statement: 6 parameters each, within SQLite's limit of 32,766
EVENTS_AT_ONCE = 1000


def _insert_events(count: int) -> str:
    """The statement that writes `count` events (rows of `event_row`) and returns the (id,
    dedupe key) of those that were new; in their order, so that ids follow the events'."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * count)
    return (
        f"INSERT INTO events ({EVENT_COLUMNS}) VALUES {values} "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key"
    )


class SqliteDetection(SqliteImports):
    """`save_detection`, holds and the logs."""

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
        async with self.transaction():
            check_watermark(name, expected, await self.watermark(name))
            stored = await hold_rows.held_back(
                await self._write_detection(write), write, self._run_q
            )
            await self._save_states(states)
            if plan_for is not None:
                await self._fan_out([s for s, _ in stored], [k for _, k in stored], plan_for, now)
            await self._run(
                "INSERT INTO watermarks (name, seq) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                (name, new),
            )
        # committed: what this connection now knows of the states and share levels, as of
        # the new watermark
        kept, levels = {}, {}
        if self._kept and self._kept[:2] == (name, expected):
            kept, levels = self._kept[2], self._kept[3]
        for state in states:
            kept[(state.subject_key, state.region, state.metric)] = state
        levels = keep_levels(levels, self._levels_read, name, expected, write.share_levels)
        self._levels_read = None
        self._kept = (name, new, kept, levels)
        return [s for s, _ in stored]

    async def _save_states(self, states: Sequence[SeriesState]) -> None:
        if not states:
            return
        rows = await asyncio.to_thread(without_gc, state_rows, states)
        # each row whole (nothing refers to a state): replacing it is the upsert, and faster
        await self._many(
            f"INSERT OR REPLACE INTO series_state ({STATE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    async def _write_detection(
        self, write: DetectionWrite
    ) -> list[tuple[StoredEvent, Sequence[str]]]:
        await self._keep_told_corrections(write)

        def prepare() -> tuple[DetectionRows, list[tuple[str, ...]]]:
            return detection_rows(write), [event_row(event) for event in write.events]

        # a poll can find thousands of each: made into rows off the event loop
        rows, events = await asyncio.to_thread(without_gc, prepare)
        if rows.drops:
            await self._many(_MILESTONE_DROP, rows.drops)
        await self._many(_MILESTONE_UPSERT, rows.milestones)
        await self._many(_CORRECTION_INSERT, rows.corrections)
        await self._many(_SHARE_LEVEL_UPSERT, rows.levels)
        # a statement for each EVENTS_AT_ONCE events (a poll can find thousands): their values
        # bound as they are, where one JSON array of them cost each payload a second encoding
        # and SQLite a parse; an event already stored is skipped, and RETURNING names the new
        found: list[Any] = []
        for at in range(0, len(events), EVENTS_AT_ONCE):
            chunk = events[at : at + EVENTS_AT_ONCE]
            found += await self._rows(
                _insert_events(len(chunk)), list(itertools.chain.from_iterable(chunk))
            )
        return stored_events(write, [e[0] for e in events], found)

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
        async with self.transaction():
            free = await hold_rows.release(self._fetch_q, self._run_q, hold_id)
            found = await self.events_by_id([i for i, _ in free])
            stored = [StoredEvent(i, found[i]) for i, _ in free if i in found]
            keys = [k for i, k in free if i in found]
            if stored:
                await self._fan_out(stored, keys, plan_for, now)
        return stored

    async def milestone_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded milestones, newest crossing first."""
        rows = await self._rows(
            "SELECT subject_name, region, metric, lowest, highest, count, period, value, below, "
            "history, recorded_at FROM milestones ORDER BY period DESC, highest DESC LIMIT ?",
            (limit,),
            table="milestones",
        )
        return log_rows(MILESTONE_LOG_KEYS, rows)
