"""What detection reads on PostgreSQL: watermarks, recorded milestones, share levels, kept
series states, the increments after a month."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.domain.milestones import Recorded
from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.series_state import SeriesState
from bot.store.detection_rows import journal_changes, recorded_by_series, share_levels
from bot.store.postgres.base import columns
from bot.store.postgres.reading import PgReading
from bot.store.rows import STATE_COLUMNS_OF_S, inc_rows, states_from_rows


class PgDetectionReads(PgReading):
    """Detection's reads, many series at once."""

    # -- detection --------------------------------------------------------------------------

    async def journal_changes(
        self, after: int, upto: int
    ) -> list[tuple[int, str, str, str, Month, Month | None]]:
        """The cells the journal entries `after` < seq <= `upto` changed, once each: (source id,
        region, make key, model key, earliest month changed, earliest month a news change
        touched or None when all was history)."""
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, model_key, MIN(month), "
            "MIN(month) FILTER (WHERE NOT history) FROM journal "
            "WHERE seq > $1 AND seq <= $2 GROUP BY source_id, region, make_key, model_key",
            after,
            upto,
            table="journal",
        )
        return journal_changes(rows)

    async def recorded_milestones_of(
        self, series: Sequence[tuple[str, str, str, int | None]]
    ) -> dict[tuple[str, str, str], dict[int, Recorded]]:
        """The milestones recorded for many series at once, by (subject key, region, metric)
        and threshold. Each series comes with a floor: None reads all its milestones, a number
        only those above it (a series continued from its kept state needs no more)."""
        if not series:
            return {}
        rows = await self._fetch(
            self.pool,
            "SELECT m.subject_key, m.region, m.metric, m.lowest, m.highest, m.count, m.period, "
            "m.value, m.below, m.history "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) "
            "AS j(subject_key, region, metric, floor) JOIN milestones m "
            "USING (subject_key, region, metric) "
            "WHERE m.highest > COALESCE(j.floor, -1)",
            *columns(series, 4),
            table="milestones",
        )
        return recorded_by_series(rows)

    async def share_levels_of(
        self, models: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str, str], float | None]:
        """The share levels of many (model key, region, metric) in every parent at once, by
        (model, parent, region, metric); a pair never placed is absent."""
        if not models:
            return {}
        rows = await self._fetch(
            self.pool,
            "SELECT l.model_key, l.parent_key, l.region, l.metric, l.level "
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS j(model_key, region, metric) "
            "JOIN share_levels l USING (model_key, region, metric)",
            *columns(models, 3),
            table="share_levels",
        )
        return share_levels(rows)

    async def series_states(
        self, series: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], SeriesState]:
        """The kept detection states of many (subject key, region, metric) at once; a series
        without one is absent."""
        if not series:
            return {}
        rows = await self._fetch(
            self.pool,
            f"SELECT {STATE_COLUMNS_OF_S} "
            "FROM unnest($1::text[], $2::text[], $3::text[]) "
            "AS j(subject_key, region, metric) JOIN series_state s "
            "USING (subject_key, region, metric)",
            *columns(series, 3),
            table="series_state",
        )
        # the same decoding as SqliteStore's, so a state reads alike from either backend
        return await asyncio.to_thread(states_from_rows, [tuple(r) for r in rows])

    async def increments_after(
        self,
        models: Sequence[tuple[str, str, Month]],
        makes: Sequence[tuple[str, Month]],
        everything: Month | None,
    ) -> tuple[list[IncRow], list[IncRow], list[IncRow]]:
        """The monthly increments of many series after a month each, three reads in all: of
        (make key, model key, after) models, of (make key, after) whole makes, and of
        everything after a month (None: not wanted)."""
        model_rows: list[Any] = []
        if models:
            model_rows = await self._fetch(
                self.pool,
                "SELECT c.source_id, c.region, c.make_key, c.model_key, c.month, c.inc "
                "FROM unnest($1::text[], $2::text[], $3::text[]) AS j(make_key, model_key, m) "
                "JOIN cells c USING (make_key, model_key) WHERE c.month > j.m",
                [a for a, _, _ in models],
                [b for _, b, _ in models],
                [str(m) for _, _, m in models],
                table="cells",
            )
        make_rows: list[Any] = []
        if makes:
            make_rows = await self._fetch(
                self.pool,
                "SELECT c.source_id, c.region, c.make_key, '', c.month, c.inc "
                "FROM unnest($1::text[], $2::text[]) AS j(make_key, m) "
                "JOIN make_cells c USING (make_key) WHERE c.month > j.m",
                [a for a, _ in makes],
                [str(m) for _, m in makes],
                table="make_cells",
            )
        all_rows: list[Any] = []
        if everything is not None:
            all_rows = await self._fetch(
                self.pool,
                "SELECT source_id, region, '', '', month, inc FROM all_cells WHERE month > $1",
                str(everything),
                table="all_cells",
            )
        return inc_rows(model_rows), inc_rows(make_rows), inc_rows(all_rows)
