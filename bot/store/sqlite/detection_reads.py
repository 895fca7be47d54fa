"""What detection reads on SQLite: watermarks, recorded milestones, share levels, kept series
states, the increments after a month."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from bot.domain.bulk import without_gc
from bot.domain.milestones import Recorded
from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.series_state import (
    SeriesState,
)
from bot.store.detection_rows import (
    JournalCells,
    gather_journal,
    journal_cells,
    kept_levels,
    read_levels,
    recorded_by_series,
)
from bot.store.rows import STATE_COLUMNS_OF_S, inc_rows, states_from_rows
from bot.store.sqlite.reading import SqliteReading


class SqliteDetectionReads(SqliteReading):
    """Detection's reads, many series at once."""

    # the series states this connection saved last, with the watermark they were saved at, and
    # every parent's share level of each (model key, region, metric) it read or saved since
    _kept: (
        tuple[
            str,
            int,
            dict[tuple[str, str, str], SeriesState],
            dict[tuple[str, str, str], dict[str, float | None]],
        ]
        | None
    ) = None
    # the share levels the last read found (every parent's, of each model asked), with each
    # watermark as it was then: the save from the same watermark keeps them
    _levels_read: (
        tuple[dict[str, int], dict[tuple[str, str, str], dict[str, float | None]]] | None
    ) = None

    journal_window = 100_000  # journal entries read at a time by `journal_changes`

    # -- detection --------------------------------------------------------------------------

    async def journal_changes(
        self, after: int, upto: int
    ) -> list[tuple[int, str, str, str, Month, Month | None]]:
        """The cells the journal entries `after` < seq <= `upto` changed, once each: (source id,
        region, make key, model key, earliest month changed, earliest month a news change
        touched or None when all was history)."""
        # read plainly and grouped here (`gather_journal`), a window of entries at a time, so
        # that a catch-up over millions of entries never holds them all
        cells: JournalCells = {}
        for low in range(after, upto, self.journal_window):
            rows = await self._rows(
                "SELECT source_id, region, make_key, model_key, month, history FROM journal "
                "WHERE seq > ? AND seq <= ?",
                (low, min(low + self.journal_window, upto)),
                table="journal",
            )
            await asyncio.to_thread(without_gc, gather_journal, rows, cells)
        return await asyncio.to_thread(without_gc, journal_cells, cells)

    async def recorded_milestones_of(
        self, series: Sequence[tuple[str, str, str, int | None]]
    ) -> dict[tuple[str, str, str], dict[int, Recorded]]:
        """The milestone ranges recorded for many series at once, by (subject key, region,
        metric) and lowest threshold. Each series comes with a floor: None reads all its
        milestones, a number only the ranges reaching above it (a series continued from its
        kept state needs no more)."""
        if not series:
            return {}
        floors = [(a, b, c, -1 if floor is None else floor) for a, b, c, floor in series]
        rows = await self._rows(
            "SELECT m.subject_key, m.region, m.metric, m.lowest, m.highest, m.count, m.period, "
            "m.value, m.below, m.history "
            "FROM json_each(?) j JOIN milestones m ON m.subject_key = j.value ->> 0 "
            "AND m.region = j.value ->> 1 AND m.metric = j.value ->> 2 "
            "AND m.highest > j.value ->> 3",
            (json.dumps(floors),),
            table="milestones",
        )
        return recorded_by_series(rows)

    async def share_levels_of(
        self, models: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str, str], float | None]:
        """The share levels of many (model key, region, metric) in every parent at once, by
        (model, parent, region, metric); a pair never placed is absent.

        Like the series states (`series_states`), the levels this connection read or saved
        are served from memory while the detector's watermark is the one they were kept at.
        """
        if not models:
            return {}
        found: dict[tuple[str, str, str, str], float | None] = {}
        if self._kept is not None:
            name, seq, _, kept = self._kept
            if await self.watermark(name) == seq:
                found, models = await asyncio.to_thread(without_gc, kept_levels, kept, models)
                if not models:
                    return found
            else:
                self._kept = None
        marks = dict(await self._rows("SELECT name, seq FROM watermarks"))
        rows = await self._rows(
            "SELECT l.model_key, l.parent_key, l.region, l.metric, l.level "
            "FROM json_each(?) j JOIN share_levels l ON l.model_key = j.value ->> 0 "
            "AND l.region = j.value ->> 1 AND l.metric = j.value ->> 2",
            (await asyncio.to_thread(json.dumps, models),),
            table="share_levels",
        )
        read, by_model = await asyncio.to_thread(without_gc, read_levels, rows, models)
        self._levels_read = (marks, by_model)
        found.update(read)
        return found

    async def series_states(
        self, series: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], SeriesState]:
        """The kept detection states of many (subject key, region, metric) at once; a series
        without one is absent.

        The states this connection saved last are kept in memory too, and served from there
        while the detector's watermark is still the one they were saved with (no other
        detection has saved anything since): a running bot reads them from disk once.
        """
        # A held figure revised by an import in another process deletes, on disk only, the
        # states that knew it, and moves no watermark: memory may then serve such a state. It
        # is never continued: the revision is journaled at the held month, which the state had
        # detected, and a series changed at or before its state's last month is read whole
        # (tests/test_holds.py, "another process").
        if not series:
            return {}
        found: dict[tuple[str, str, str], SeriesState] = {}
        if self._kept is not None:
            name, seq, kept, _ = self._kept
            if await self.watermark(name) == seq:
                found = {k: kept[k] for k in series if k in kept}
                series = [k for k in series if k not in found]
                if not series:
                    return found
            else:
                self._kept = None
        rows = await self._rows(
            f"SELECT {STATE_COLUMNS_OF_S} FROM json_each(?) j JOIN series_state s "
            "ON s.subject_key = j.value ->> 0 AND s.region = j.value ->> 1 "
            "AND s.metric = j.value ->> 2",
            (json.dumps(series),),
            table="series_state",
        )
        found.update(await asyncio.to_thread(without_gc, states_from_rows, rows))
        return found

    async def increments_after(
        self,
        models: Sequence[tuple[str, str, Month]],
        makes: Sequence[tuple[str, Month]],
        everything: Month | None,
    ) -> tuple[list[IncRow], list[IncRow], list[IncRow]]:
        """The monthly increments of many series after a month each, three reads in all: of
        (make key, model key, after) models, of (make key, after) whole makes, and of
        everything after a month (None: not wanted)."""

        def wanted() -> tuple[str, str]:
            # in key order, the index is walked forwards; thousands of keys: off the event loop
            texts: dict[Month, str] = {}
            return json.dumps(
                [(a, b, texts.get(m) or texts.setdefault(m, str(m))) for a, b, m in sorted(models)]
            ), json.dumps([(a, texts.get(m) or texts.setdefault(m, str(m))) for a, m in makes])

        model_keys, make_keys = await asyncio.to_thread(without_gc, wanted)
        model_rows: list[Any] = []
        if models:
            model_rows = await self._rows(
                "SELECT c.source_id, c.region, c.make_key, c.model_key, c.month, c.inc "
                "FROM json_each(?) j JOIN cells c ON c.make_key = j.value ->> 0 "
                "AND c.model_key = j.value ->> 1 AND c.month > j.value ->> 2",
                (model_keys,),
                table="cells",
            )
        make_rows: list[Any] = []
        if makes:
            # a make's every month is walked (its key is (make, source, region, month)): its
            # month taken out of the JSON once, not at each (a third of the read's time)
            make_rows = await self._rows(
                "WITH w (make_key, after) AS MATERIALIZED "
                "(SELECT value ->> 0, value ->> 1 FROM json_each(?)) "
                "SELECT c.source_id, c.region, c.make_key, '', c.month, c.inc "
                "FROM w JOIN make_cells c ON c.make_key = w.make_key AND c.month > w.after",
                (make_keys,),
                table="make_cells",
            )
        all_rows: list[Any] = []
        if everything is not None:
            all_rows = await self._rows(
                "SELECT source_id, region, '', '', month, inc FROM all_cells WHERE month > ?",
                (str(everything),),
                table="all_cells",
            )
        # thousands of rows each: made into records off the event loop
        return await asyncio.to_thread(
            without_gc, lambda: (inc_rows(model_rows), inc_rows(make_rows), inc_rows(all_rows))
        )
