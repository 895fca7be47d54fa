"""Imports on PostgreSQL: streamed rows collected, repeats and overlaps judged, each source's
figures written and journalled in one transaction."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterable, Callable
from dataclasses import replace
from typing import Any

from bot.domain import holds as hold_rows
from bot.domain.names import Spellings
from bot.domain.overlaps import overlapping
from bot.domain.periods import Month, encode_years, news_cutoff
from bot.domain.plausibility import DEFAULT_RULE, LINE_IN_STAGING, HoldRule
from bot.domain.records import (
    ImportFailed,
    ImportSummary,
    SourceInfo,
    SourceSpec,
)
from bot.domain.staging import Repeats, Row, StagedChunk, respell_regions, source_named
from bot.store.common import YEARLY_YEARS_SQL
from bot.store.postgres.base import JOURNAL_LOCK, Connection
from bot.store.postgres.cells import PgCells
from bot.store.sales_rows import (
    InMemoryImports,
    check_metric,
    make_updates,
    model_updates,
    summary_of,
)


class _DryRun(Exception):
    """Raised inside a dry run's transaction to roll it back."""


class PgImports(PgCells, InMemoryImports):
    """`import_records` and `import_stream`."""

    # -- writing ----------------------------------------------------------------------------

    async def import_stream(
        self,
        chunks: AsyncIterable[StagedChunk | None],
        spec_for: Callable[[str], SourceSpec],
        *,
        file: str = "",
        dry_run: bool = False,
        aggregate: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
        snapshot: str = "",
    ) -> list[ImportSummary]:
        """Import streamed chunks of rows in one transaction: all or nothing.

        Each figure written is judged by `hold` as SqliteStore judges it.

        Repeated keys are handled as SqliteStore handles them (the same `Repeats` rules and
        wording): an exact repeat is counted once, a conflicting one is a problem, and with
        `aggregate` repeats are summed. Unlike SQLite's temporary table, one import's distinct
        figures are held in memory until the stream ends. A `None` chunk restarts the stream.
        """
        summaries: list[ImportSummary] = []
        async with self.pool.acquire() as con:
            try:
                async with con.transaction():
                    # imports write the journal one at a time, so sequences commit in order
                    await self._run(con, "SELECT pg_advisory_xact_lock($1, $2)", *JOURNAL_LOCK)
                    staging = Repeats(file, aggregate)
                    figures: dict[tuple[Any, ...], list[Any]] = {}
                    infos: dict[str, SourceInfo] = {}
                    regions = Spellings(
                        r[0]
                        for r in await self._fetch(con, "SELECT DISTINCT region FROM all_cells")
                    )
                    try:
                        async for chunk in chunks:
                            if chunk is None:
                                staging, figures = Repeats(file, aggregate), {}
                                continue
                            respell_regions(chunk, regions)
                            for name in sorted(chunk.rows.keys() - infos.keys()):
                                infos[name] = await self._ensure_source(con, spec_for(name))
                            staging.names(chunk)
                            for name, rows in chunk.rows.items():
                                await asyncio.to_thread(
                                    _collect, infos[name].id, rows, figures, staging
                                )
                    except ImportFailed as exc:
                        raise ImportFailed(staging.with_problems(exc.problems)) from None
                    for info in infos.values():
                        staging.problems.extend(await self._overlaps(con, info, figures, file))
                    if staging.problems:
                        raise ImportFailed(staging.with_problems([]))
                    await self._save_names(con, staging.makes, staging.models)
                    by_source: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
                    for row in figures.values():
                        by_source[row[0]].append((*row[:7], bool(row[7]), row[8], row[9]))
                    for info in infos.values():
                        summaries.append(
                            await self._import(
                                con,
                                info,
                                by_source.get(info.id, []),
                                staging,
                                file,
                                dry_run,
                                (hold, aggregate),
                                snapshot,
                            )
                        )
                    if dry_run:
                        raise _DryRun
            except _DryRun:
                pass
        return summaries

    async def _overlaps(
        self,
        con: Connection,
        info: SourceInfo,
        figures: dict[tuple[Any, ...], list[Any]],
        file: str,
    ) -> list[str]:
        """Rows of one key whose periods overlap, in this import or with what the source
        holds (the rule and wording of SqliteStore's); read only where the periods are of
        more than one granularity."""
        # [source_id, make_key, model_key, region, month, period, powertrain, ..., line]
        mine = [(f[1], f[2], f[3], f[6], f[5], f[9]) for f in figures.values() if f[0] == info.id]
        lengths = {len(row[4]) for row in mine}
        held = await self._fetch(
            con,
            "SELECT DISTINCT length(period) FROM records WHERE source_id = $1",
            info.id,
        )
        before = bool({r[0] for r in held} - lengths) or (bool(held) and len(lengths) > 1)
        if len(lengths) < 2 and not before:
            return []
        rows = list(mine)
        if before:
            rows += [
                (r[0], r[1], r[2], r[3], r[4], 0)
                for r in await self._fetch(
                    con,
                    "SELECT make_key, model_key, region, powertrain, period FROM records "
                    "WHERE source_id = $1",
                    info.id,
                )
            ]
        rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4], -r[5]))
        return overlapping(rows, file)

    async def _import(
        self,
        con: Connection,
        info: SourceInfo,
        staged: list[tuple[Any, ...]],
        staging: Repeats,
        file: str,
        dry_run: bool,
        judging: tuple[HoldRule | None, bool] = (DEFAULT_RULE, False),
        snapshot: str = "",
    ) -> ImportSummary:
        summary = summary_of(info, len(staged), staging, dry_run)
        if any(row[7] for row in staged):
            await self._run(con, "UPDATE sources SET running = true WHERE id = $1", info.id)
        fresh = info.imports == 0 and not await self._val(
            con, "SELECT EXISTS (SELECT 1 FROM records WHERE source_id = $1)", info.id
        )
        await self._write(con, staged, summary, fresh, (info.id, info.name, file, snapshot))
        latest = max((Month.parse(row[4]) for row in staged), default=None)
        new_latest = max(filter(None, (latest, info.latest_month)), default=None)
        import_id = await self._val(
            con,
            "INSERT INTO imports (source_id, file, rows_read, new, revised, unchanged, "
            "first_import) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            info.id,
            file,
            summary.records,
            summary.new,
            summary.revised,
            summary.unchanged,
            summary.first_import,
        )
        yearly = frozenset(int(r[0]) for r in await self._fetch(con, YEARLY_YEARS_SQL, info.id))
        before = await self._journal_head(con)
        if fresh:
            # a first import is all history: one entry per series, from its first month, tells
            # a reader as much as one per cell (readers re-read a changed series from the
            # earliest month they are told of), as SqliteStore does; a fuel-cell-only series
            # is in the powertrain cells alone
            await self._run(
                con,
                "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, "
                "history) SELECT $1, source_id, make_key, model_key, region, MIN(month), true "
                "FROM (SELECT source_id, make_key, model_key, region, month FROM cells "
                "WHERE source_id = $2 UNION ALL SELECT source_id, make_key, model_key, region, "
                "month FROM powertrain_cells WHERE source_id = $2) AS c "
                "GROUP BY source_id, make_key, model_key, region "
                "ORDER BY MIN(month), make_key, model_key, region",
                import_id,
                info.id,
            )
        else:
            cutoff = str(news_cutoff(new_latest, yearly)) if new_latest else ""
            await self._run(
                con,
                "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, "
                "history) SELECT $1, source_id, make_key, model_key, region, month, "
                "($2 OR month < $3) FROM touched ORDER BY month, make_key, model_key, region",
                import_id,
                summary.first_import,
                cutoff,
            )
        after = await self._journal_head(con)
        # a source's first import is all history: nothing of it is announced, so nothing held
        if after > before and not fresh:
            summary.notices.extend(
                await hold_rows.judge_import(
                    self._fetch_on(con),
                    self._run_on(con),
                    (before + 1, after),
                    info.name,
                    file,
                    judging[1],
                    judging[0],
                    LINE_IN_STAGING,
                )
            )
        if after > before and not dry_run:
            summary.journal_from, summary.journal_to = before + 1, after
        await self._run(
            con,
            "UPDATE sources SET imports = imports + 1, latest_month = $1, yearly = $2 "
            "WHERE id = $3",
            str(new_latest) if new_latest else None,
            encode_years(yearly),
            info.id,
        )
        return summary

    async def _ensure_source(self, con: Connection, source: SourceSpec) -> SourceInfo:
        known = source_named(await self._sources(con), source.name)
        if known is not None:  # under the name it was first imported as
            source = replace(source, name=known.name)
        rows = await self._fetch(
            con, "SELECT id, metric FROM sources WHERE name = $1", source.name, table="sources"
        )
        if rows:
            check_metric(source, rows[0][1])
        if rows:
            await self._run(
                con, "UPDATE sources SET priority = $1 WHERE id = $2", source.priority, rows[0][0]
            )
        else:
            await self._run(
                con,
                "INSERT INTO sources (name, metric, priority) VALUES ($1, $2, $3)",
                source.name,
                source.metric,
                source.priority,
            )
        return next(s for s in await self._sources(con) if s.name == source.name)

    async def _save_names(
        self, con: Connection, makes: dict[str, str], models: dict[tuple[str, str], str]
    ) -> None:
        known_makes = {
            r[0]: r[1] for r in await self._fetch(con, "SELECT make_key, display FROM makes")
        }
        await self._many(
            con,
            "INSERT INTO makes (make_key, display) VALUES ($1, $2) "
            "ON CONFLICT (make_key) DO UPDATE SET display = excluded.display",
            make_updates(known_makes, makes),
        )
        known_models = {
            (r[0], r[1]): r[2]
            for r in await self._fetch(con, "SELECT make_key, model_key, display FROM models")
        }
        await self._many(
            con,
            "INSERT INTO models (make_key, model_key, display) VALUES ($1, $2, $3) "
            "ON CONFLICT (make_key, model_key) DO UPDATE SET display = excluded.display",
            model_updates(known_models, models),
        )


def _collect(
    source_id: int,
    rows: list[Row],
    figures: dict[tuple[Any, ...], list[Any]],
    staging: Repeats,
) -> None:
    """Rows into one figure per key, `[source_id, *row]`: a repeat is summed (aggregate) or
    judged as SqliteStore judges it (an exact duplicate, or a conflict)."""
    for row in rows:
        key = (source_id, *row[:6])
        first = figures.get(key)
        if first is None:
            figures[key] = [source_id, *row]
        elif staging.aggregate:
            first[8] += row[7]
        else:
            # (source, line, first line, units, first units, same kind of figure)
            staging.repeat(source_id, row[8], first[9], row[7], first[8], row[6] == first[7])
