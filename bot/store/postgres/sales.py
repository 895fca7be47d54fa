"""The sales store on PostgreSQL (asyncpg): the same port and semantics as `SqliteStore`.

Aggregates are kept on write, in the import's transaction, as in `bot/store/sqlite/sales.py`:
`cells`
per model, region and month with the increment of the model's cumulative series, `make_cells`
and `all_cells` summed. Writers of the journal (imports) take one transaction advisory lock, so
journal sequences commit in order and a reader that has seen sequence n never later finds a
smaller one appear. Detection advances its watermark with a row lock and a compare, so two
replicas that detect at once record once.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import replace
from typing import Any

from bot.domain import holds as hold_rows
from bot.domain.event_codec import dedupe_key, event_from_dict, event_to_dict
from bot.domain.milestones import Recorded
from bot.domain.names import Spellings, better_display, name_key
from bot.domain.overlaps import overlapping
from bot.domain.periods import Month, encode_years, news_cutoff
from bot.domain.plausibility import DEFAULT_RULE, LINE_IN_STAGING, Hold, HoldRule
from bot.domain.records import (
    DetectionWrite,
    GroupMember,
    GroupSpec,
    ImportFailed,
    ImportSummary,
    IncRow,
    JournalEntry,
    ModelName,
    SalesRecord,
    SourceInfo,
    SourceSpec,
    StoredEvent,
)
from bot.domain.series_state import SeriesState, parse_month
from bot.domain.staging import Repeats, Row, StagedChunk, in_memory, respell_regions, source_named
from bot.domain.subscriptions import FanoutPlan, Subscription
from bot.ports.store import StoreError
from bot.store.common import SOURCE_COLUMNS, YEARLY_YEARS_SQL, source_info
from bot.store.postgres.base import JOURNAL_LOCK, Connection, Runner
from bot.store.postgres.installations import PgInstallations
from bot.store.postgres.outbox import PgOutbox
from bot.store.rows import inc_rows, increment_updates, state_rows, states_from_rows

_KEY = "source_id, make_key, model_key, region, month"
_SERIES_KEY = ("source_id", "make_key", "model_key", "region")
_JOIN_KEY = " AND ".join(f"r.{c} = s.{c}" for c in _SERIES_KEY)
_FIGURE_JOIN = (
    f"{_JOIN_KEY} AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain"
)
_STAGING_COLUMNS = (
    "source_id",
    "make_key",
    "model_key",
    "region",
    "month",
    "period",
    "powertrain",
    "cumulative",
    "units",
    "ord",
)


# A first import's cells: period units summed per month, running totals kept. Without running
# totals a cell's increment is its period units. With them, a cell's value is the latest
# running total at or before it (0 before the first) plus the period units since, and its
# increment the difference from the previous cell's value; `grp` numbers the stretches that
# each start at a running total.
_CELL_SUMS = (
    f"SELECT {_KEY}, COALESCE(SUM(units) FILTER (WHERE NOT cumulative), 0) AS pu, "
    f"SUM(units) FILTER (WHERE cumulative) AS ru FROM staging GROUP BY {_KEY}"
)
_FRESH_CELLS = (
    f"INSERT INTO cells ({_KEY}, period_units, running_units, inc) "
    f"SELECT {_KEY}, pu, NULL, pu FROM ({_CELL_SUMS}) AS sums"
)
_SERIES = "PARTITION BY source_id, make_key, model_key, region"
_FRESH_RUNNING_CELLS = (
    f"INSERT INTO cells ({_KEY}, period_units, running_units, inc) "
    f"SELECT {_KEY}, pu, ru, value - COALESCE(LAG(value) OVER ({_SERIES} ORDER BY month), 0) "
    "FROM (SELECT *, "
    f"COALESCE(MAX(ru) OVER ({_SERIES}, grp), 0) + SUM(CASE WHEN ru IS NULL THEN pu ELSE 0 END) "
    f"OVER ({_SERIES}, grp ORDER BY month ROWS UNBOUNDED PRECEDING) AS value "
    f"FROM (SELECT *, COUNT(ru) OVER ({_SERIES} ORDER BY month ROWS UNBOUNDED PRECEDING) AS grp "
    f"FROM ({_CELL_SUMS}) AS sums) AS grouped) AS valued"
)


class _DryRun(Exception):
    """Raised inside a dry run's transaction to roll it back."""


class PgStore(PgOutbox, PgInstallations):
    """`SalesStore` on one PostgreSQL database, shared by any number of replicas."""

    # -- writing ----------------------------------------------------------------------------

    async def import_records(
        self,
        batches: Sequence[tuple[SourceSpec, Sequence[SalesRecord]]],
        *,
        file: str = "",
        dry_run: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
    ) -> list[ImportSummary]:
        """Import figures held in memory: the streamed path with one chunk."""
        chunks, spec_for = in_memory(batches)
        return await self.import_stream(chunks, spec_for, file=file, dry_run=dry_run, hold=hold)

    async def import_stream(
        self,
        chunks: AsyncIterable[StagedChunk | None],
        spec_for: Callable[[str], SourceSpec],
        *,
        file: str = "",
        dry_run: bool = False,
        aggregate: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
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
    ) -> ImportSummary:
        summary = ImportSummary(
            source=info.name,
            records=len(staged),
            duplicates=staging.duplicates.get(info.id, 0),
            first_import=info.imports == 0,
            dry_run=dry_run,
            notices=staging.notices.get(info.id, []),
        )
        if any(row[7] for row in staged):
            await self._run(con, "UPDATE sources SET running = true WHERE id = $1", info.id)
        fresh = info.imports == 0 and not await self._val(
            con, "SELECT EXISTS (SELECT 1 FROM records WHERE source_id = $1)", info.id
        )
        await self._write(con, staged, summary, fresh)
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
            # earliest month they are told of), as SqliteStore does
            await self._run(
                con,
                "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, "
                "history) SELECT $1, source_id, make_key, model_key, region, MIN(month), true "
                "FROM cells WHERE source_id = $2 GROUP BY source_id, make_key, model_key, region "
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

    def _fetch_on(self, con: Runner) -> hold_rows.Fetch:
        async def fetch(sql: str, *args: Any) -> list[Any]:
            return await self._fetch(con, sql, *args)

        return fetch

    def _run_on(self, con: Runner) -> hold_rows.Run:
        async def run(sql: str, *args: Any) -> int:
            return await self._run(con, sql, *args)

        return run

    async def holds(self, everything: bool = False) -> list[Hold]:
        """The figures held (with `everything`, released and revised ones too)."""
        return await hold_rows.holds(self._fetch_on(self.pool), everything)

    async def held_event_ids(self) -> set[int]:
        """The events held now."""
        return await hold_rows.held_event_ids(self._fetch_on(self.pool))

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

    async def _write(
        self, con: Connection, staged: list[tuple[Any, ...]], summary: ImportSummary, fresh: bool
    ) -> None:
        """Classify the figures, upsert what changed, refresh the touched cells and sums; a
        source's first import has nothing to compare or revise and is written in set
        statements."""
        await self._run(con, "DROP TABLE IF EXISTS pg_temp.staging")
        await self._run(con, "DROP TABLE IF EXISTS pg_temp.touched")
        await self._run(
            con,
            "CREATE TEMP TABLE staging (source_id BIGINT, make_key TEXT, model_key TEXT, "
            "region TEXT, month TEXT, period TEXT, powertrain TEXT, cumulative BOOLEAN, "
            "units BIGINT, ord INTEGER) ON COMMIT DROP",
        )
        self.stats.statements += 1
        await con.copy_records_to_table("staging", records=staged, columns=_STAGING_COLUMNS)
        if fresh:
            await self._write_fresh(con, any(row[7] for row in staged))
            summary.new = len(staged)
            return
        new, revised, unchanged = (
            await self._fetch(
                con,
                "SELECT COUNT(*) FILTER (WHERE r.units IS NULL), "
                "COUNT(*) FILTER (WHERE r.units <> s.units OR r.cumulative <> s.cumulative), "
                "COUNT(*) FILTER (WHERE r.units = s.units AND r.cumulative = s.cumulative) "
                f"FROM staging s LEFT JOIN records r ON {_FIGURE_JOIN}",
            )
        )[0]
        summary.new, summary.revised, summary.unchanged = int(new), int(revised), int(unchanged)
        await self._run(
            con,
            "CREATE TEMP TABLE touched ON COMMIT DROP AS SELECT DISTINCT s.source_id, "
            "s.make_key, s.model_key, s.region, s.month FROM staging s "
            f"LEFT JOIN records r ON {_FIGURE_JOIN} "
            "WHERE r.units IS NULL OR r.units <> s.units OR r.cumulative <> s.cumulative",
        )
        await self._run(
            con,
            f"INSERT INTO records ({_KEY}, period, powertrain, cumulative, units) "
            f"SELECT {_KEY}, period, powertrain, cumulative, units FROM staging "
            f"ON CONFLICT ({_KEY}, period, powertrain) DO UPDATE SET "
            "units = excluded.units, cumulative = excluded.cumulative "
            "WHERE records.units <> excluded.units OR records.cumulative <> excluded.cumulative",
        )
        await self._refresh_cells(con)

    async def _write_fresh(self, con: Connection, running: bool) -> None:
        """The figures, their cells with increments, and the make and all-EV sums, computed by
        PostgreSQL from the staged rows (as SqliteStore does: `series.increments` in SQL)."""
        await self._run(
            con,
            f"INSERT INTO records ({_KEY}, period, powertrain, cumulative, units) "
            f"SELECT {_KEY}, period, powertrain, cumulative, units FROM staging",
        )
        await self._run(con, _FRESH_RUNNING_CELLS if running else _FRESH_CELLS)
        await self._run(
            con,
            "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
            "SELECT c.source_id, c.make_key, c.region, c.month, SUM(c.inc) FROM cells c "
            "WHERE c.source_id IN (SELECT DISTINCT source_id FROM staging) "
            "GROUP BY c.source_id, c.make_key, c.region, c.month "
            "ON CONFLICT (make_key, source_id, region, month) "
            "DO UPDATE SET inc = make_cells.inc + excluded.inc",
        )
        await self._run(
            con,
            "INSERT INTO all_cells (source_id, region, month, inc) "
            "SELECT c.source_id, c.region, c.month, SUM(c.inc) FROM cells c "
            "WHERE c.source_id IN (SELECT DISTINCT source_id FROM staging) "
            "GROUP BY c.source_id, c.region, c.month "
            "ON CONFLICT (source_id, region, month) "
            "DO UPDATE SET inc = all_cells.inc + excluded.inc",
        )

    async def _refresh_cells(self, con: Connection) -> None:
        """Recompute the touched cells, their series' increments, and the make/all sums."""
        await self._run(
            con,
            f"INSERT INTO cells ({_KEY}, period_units, running_units) "
            "SELECT r.source_id, r.make_key, r.model_key, r.region, r.month, "
            "COALESCE(SUM(r.units) FILTER (WHERE NOT r.cumulative), 0), "
            "SUM(r.units) FILTER (WHERE r.cumulative) "
            f"FROM touched s JOIN records r ON {_JOIN_KEY} AND r.month = s.month "
            "GROUP BY r.source_id, r.make_key, r.model_key, r.region, r.month "
            f"ON CONFLICT ({_KEY}) DO UPDATE SET period_units = excluded.period_units, "
            "running_units = excluded.running_units",
        )
        rows = await self._fetch(
            con,
            "SELECT c.source_id, c.make_key, c.model_key, c.region, c.month, c.period_units, "
            "c.running_units, c.inc FROM cells c JOIN (SELECT DISTINCT source_id, make_key, "
            "model_key, region FROM touched) s ON "
            + _JOIN_KEY.replace("r.", "c.")
            + " ORDER BY c.source_id, c.make_key, c.model_key, c.region, c.month",
            table="cells",
        )
        updates, make_deltas, all_deltas = await asyncio.to_thread(
            increment_updates, [tuple(r) for r in rows]
        )
        if updates:
            await self._run(
                con,
                "UPDATE cells c SET inc = u.inc FROM unnest($1::bigint[], $2::bigint[], "
                "$3::text[], $4::text[], $5::text[], $6::text[]) "
                "AS u(inc, source_id, make_key, model_key, region, month) "
                "WHERE c.source_id = u.source_id AND c.make_key = u.make_key "
                "AND c.model_key = u.model_key AND c.region = u.region AND c.month = u.month",
                *_columns(updates, 6),
            )
        if make_deltas:
            await self._run(
                con,
                "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
                "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
                "$5::bigint[]) ON CONFLICT (make_key, source_id, region, month) "
                "DO UPDATE SET inc = make_cells.inc + excluded.inc",
                *_columns([(*k, d) for k, d in make_deltas.items()], 5),
            )
        if all_deltas:
            await self._run(
                con,
                "INSERT INTO all_cells (source_id, region, month, inc) "
                "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) "
                "ON CONFLICT (source_id, region, month) "
                "DO UPDATE SET inc = all_cells.inc + excluded.inc",
                *_columns([(*k, d) for k, d in all_deltas.items()], 4),
            )

    async def _ensure_source(self, con: Connection, source: SourceSpec) -> SourceInfo:
        known = source_named(await self._sources(con), source.name)
        if known is not None:  # under the name it was first imported as
            source = replace(source, name=known.name)
        rows = await self._fetch(
            con, "SELECT id, metric FROM sources WHERE name = $1", source.name, table="sources"
        )
        if rows and rows[0][1] != source.metric:
            raise StoreError(
                f"source {source.name!r} holds {rows[0][1]} figures; this import says "
                f"{source.metric}: import it under another source name"
            )
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
            [
                (k, better_display(known_makes.get(k), v))
                for k, v in makes.items()
                if k and better_display(known_makes.get(k), v) != known_makes.get(k)
            ],
        )
        known_models = {
            (r[0], r[1]): r[2]
            for r in await self._fetch(con, "SELECT make_key, model_key, display FROM models")
        }
        await self._many(
            con,
            "INSERT INTO models (make_key, model_key, display) VALUES ($1, $2, $3) "
            "ON CONFLICT (make_key, model_key) DO UPDATE SET display = excluded.display",
            [
                (*k, better_display(known_models.get(k), v))
                for k, v in models.items()
                if k[1] and better_display(known_models.get(k), v) != known_models.get(k)
            ],
        )

    # -- reading ----------------------------------------------------------------------------

    async def sources(self) -> list[SourceInfo]:
        return await self._sources(self.pool)

    async def _sources(self, con: Any) -> list[SourceInfo]:
        rows = await self._fetch(
            con,
            f"SELECT {SOURCE_COLUMNS} FROM sources ORDER BY id",
            table="sources",
        )
        return [source_info(r) for r in rows]

    async def model_names(self) -> list[ModelName]:
        rows = await self._fetch(
            self.pool,
            "SELECT m.make_key, m.model_key, COALESCE(k.display, m.make_key), m.display "
            "FROM models m LEFT JOIN makes k USING (make_key) ORDER BY 1, 2",
            table="models",
        )
        return [ModelName(*r) for r in rows]

    async def make_names(self) -> dict[str, str]:
        rows = await self._fetch(self.pool, "SELECT make_key, display FROM makes", table="makes")
        return {r[0]: r[1] for r in rows}

    async def regions(self) -> list[str]:
        rows = await self._fetch(
            self.pool, "SELECT DISTINCT region FROM all_cells ORDER BY 1", table="all_cells"
        )
        return [r[0] for r in rows]

    async def model_increments(self, make_key: str, model_key: str) -> list[IncRow]:
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE make_key = $1 AND model_key = $2 ORDER BY month",
            make_key,
            model_key,
            table="cells",
        )
        return inc_rows(rows)

    async def parts_between(
        self, make_keys: Sequence[str] | None, first: Month, last: Month
    ) -> list[IncRow]:
        if make_keys is None:
            rows = await self._fetch(
                self.pool,
                "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
                "WHERE month BETWEEN $1 AND $2",
                str(first),
                str(last),
                table="make_cells",
            )
            return inc_rows(rows)
        if not make_keys:
            return []
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE make_key = ANY($1::text[]) AND month BETWEEN $2 AND $3",
            list(make_keys),
            str(first),
            str(last),
            table="cells",
        )
        return inc_rows(rows)

    async def make_increments(self, make_keys: Sequence[str]) -> list[IncRow]:
        if not make_keys:
            return []
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
            "WHERE make_key = ANY($1::text[]) ORDER BY month",
            list(make_keys),
            table="make_cells",
        )
        return inc_rows(rows)

    async def all_increments(self) -> list[IncRow]:
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, '', '', month, inc FROM all_cells ORDER BY month",
            table="all_cells",
        )
        return inc_rows(rows)

    async def every_model_increment(self) -> list[IncRow]:
        rows = await self._fetch(
            self.pool,
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE model_key <> '' ORDER BY month",
            table="cells",
        )
        return inc_rows(rows)

    async def journal_head(self) -> int:
        return await self._journal_head(self.pool)

    async def _journal_head(self, con: Any) -> int:
        return int(await self._val(con, "SELECT COALESCE(MAX(seq), 0) FROM journal"))

    async def journal_since(self, seq: int, limit: int = 10_000) -> list[JournalEntry]:
        rows = await self._fetch(
            self.pool,
            "SELECT seq, source_id, region, make_key, model_key, month, history FROM journal "
            "WHERE seq > $1 ORDER BY seq LIMIT $2",
            seq,
            limit,
            table="journal",
        )
        return [
            JournalEntry(r[0], r[1], r[2], r[3], r[4], Month.parse(r[5]), bool(r[6])) for r in rows
        ]

    async def sync_groups(self, groups: Sequence[GroupSpec]) -> None:
        async with self.pool.acquire() as con, con.transaction():
            # replicas starting together sync the same groups: one at a time
            await self._run(con, "LOCK TABLE groups IN EXCLUSIVE MODE")
            await self._run(con, "DELETE FROM group_members")
            await self._run(con, "DELETE FROM group_aliases")
            await self._run(con, "DELETE FROM groups")
            for position, group in enumerate(groups):
                await self._run(
                    con,
                    "INSERT INTO groups (name, position) VALUES ($1, $2)",
                    group.name,
                    position,
                )
                await self._many(
                    con,
                    "INSERT INTO group_members (group_name, make_key, make, valid_from, "
                    "valid_to) VALUES ($1, $2, $3, $4, $5)",
                    [
                        (
                            group.name,
                            name_key(m.make),
                            m.make,
                            str(m.valid_from) if m.valid_from else None,
                            str(m.valid_to) if m.valid_to else None,
                        )
                        for m in group.members
                    ],
                )
                await self._many(
                    con,
                    "INSERT INTO group_aliases (group_name, alias) VALUES ($1, $2)",
                    [(group.name, a) for a in group.aliases],
                )

    async def groups(self) -> list[GroupSpec]:
        names = [
            r[0] for r in await self._fetch(self.pool, "SELECT name FROM groups ORDER BY position")
        ]
        members: dict[str, list[GroupMember]] = defaultdict(list)
        for group, make, start, end in await self._fetch(
            self.pool,
            "SELECT group_name, make, valid_from, valid_to FROM group_members ORDER BY id",
        ):
            members[group].append(
                GroupMember(
                    make,
                    Month.parse(start) if start else None,
                    Month.parse(end) if end else None,
                )
            )
        aliases: dict[str, list[str]] = defaultdict(list)
        for group, alias in await self._fetch(
            self.pool, "SELECT group_name, alias FROM group_aliases ORDER BY id"
        ):
            aliases[group].append(alias)
        return [GroupSpec(n, tuple(members[n]), tuple(aliases[n])) for n in names]

    # -- detection --------------------------------------------------------------------------

    async def watermark(self, name: str) -> int:
        """How far in the journal a reader called `name` has got (0: nowhere yet)."""
        seq = await self._val(self.pool, "SELECT seq FROM watermarks WHERE name = $1", name)
        return int(seq) if seq is not None else 0

    async def recorded_milestones(
        self, subject_key: str, region: str, metric: str
    ) -> dict[int, Recorded]:
        """The milestone ranges recorded for one series, by lowest threshold."""
        rows = await self._fetch(
            self.pool,
            "SELECT lowest, highest, count, period, value, below, history FROM milestones "
            "WHERE subject_key = $1 AND region = $2 AND metric = $3",
            subject_key,
            region,
            metric,
            table="milestones",
        )
        return {
            r[0]: Recorded(r[0], r[1], r[2], Month.parse(r[3]), r[4], bool(r[5]), bool(r[6]))
            for r in rows
        }

    async def share_level(self, key: tuple[str, str, str, str]) -> float | None:
        """The last announced or baselined share band of (model, parent, region, metric)."""
        level = await self._val(
            self.pool,
            "SELECT level FROM share_levels WHERE model_key = $1 AND parent_key = $2 "
            "AND region = $3 AND metric = $4",
            *key,
        )
        return float(level) if level is not None else None

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
        return [
            (r[0], r[1], r[2], r[3], parse_month(r[4]), parse_month(r[5]) if r[5] else None)
            for r in rows
        ]

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
            *_columns(series, 4),
            table="milestones",
        )
        out: dict[tuple[str, str, str], dict[int, Recorded]] = defaultdict(dict)
        for subject_key, region, metric, lowest, highest, count, period, value, below, hist in rows:
            out[(subject_key, region, metric)][lowest] = Recorded(
                lowest, highest, count, parse_month(period), value, bool(below), bool(hist)
            )
        return dict(out)

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
            *_columns(models, 3),
            table="share_levels",
        )
        return {(r[0], r[1], r[2], r[3]): float(r[4]) if r[4] is not None else None for r in rows}

    async def series_states(
        self, series: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], SeriesState]:
        """The kept detection states of many (subject key, region, metric) at once; a series
        without one is absent."""
        if not series:
            return {}
        rows = await self._fetch(
            self.pool,
            "SELECT s.subject_key, s.region, s.metric, s.fingerprint, s.first_month, "
            "s.first_nonzero, s.last_month, s.total, s.peak, s.best, s.best_month, "
            "s.recent_from, s.recent, s.year_sources, s.flagged "
            "FROM unnest($1::text[], $2::text[], $3::text[]) "
            "AS j(subject_key, region, metric) JOIN series_state s "
            "USING (subject_key, region, metric)",
            *_columns(series, 3),
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
            if current != expected:
                raise StoreError(f"watermark {name!r} moved from {expected} to {current} meanwhile")
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
            "INSERT INTO series_state (subject_key, region, metric, fingerprint, first_month, "
            "first_nonzero, last_month, total, peak, best, best_month, recent_from, recent, "
            "year_sources, flagged) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
            "ON CONFLICT (subject_key, region, metric) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, first_month = excluded.first_month, "
            "first_nonzero = excluded.first_nonzero, last_month = excluded.last_month, "
            "total = excluded.total, peak = excluded.peak, best = excluded.best, "
            "best_month = excluded.best_month, recent_from = excluded.recent_from, "
            "recent = excluded.recent, year_sources = excluded.year_sources, "
            "flagged = excluded.flagged",
            await asyncio.to_thread(state_rows, states),
        )

    async def _write_detection(
        self, con: Connection, write: DetectionWrite
    ) -> list[tuple[StoredEvent, Sequence[str]]]:
        await self._keep_told_corrections(con, write)
        await self._many(
            con,
            "DELETE FROM milestones WHERE subject_key = $1 AND region = $2 AND metric = $3 "
            "AND lowest = $4",
            [
                (ref.subject_key, ref.region, ref.metric, lowest)
                for ref, lowest in write.milestone_drops
            ],
        )
        await self._many(
            con,
            "INSERT INTO milestones (subject_key, region, metric, lowest, highest, count, ladder, "
            "subject_name, period, value, below, history) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
            "ON CONFLICT (subject_key, region, metric, lowest) DO UPDATE SET "
            "highest = excluded.highest, count = excluded.count, ladder = excluded.ladder, "
            "period = excluded.period, value = excluded.value, below = excluded.below",
            [
                (
                    ref.subject_key,
                    ref.region,
                    ref.metric,
                    rec.lowest,
                    rec.highest,
                    rec.count,
                    write.ladder,
                    ref.subject_name,
                    str(rec.period),
                    rec.value,
                    rec.below,
                    history,
                )
                for ref, rec, history in write.milestones
            ],
        )
        await self._many(
            con,
            "INSERT INTO corrections (subject_key, subject_name, region, metric, lowest, "
            "highest, count, ladder, reason, old_period, new_period, old_value, new_value) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            [
                (
                    ref.subject_key,
                    ref.subject_name,
                    ref.region,
                    ref.metric,
                    c.lowest,
                    c.highest,
                    c.count,
                    write.ladder,
                    c.reason,
                    str(c.old_period),
                    str(c.new_period) if c.new_period else None,
                    c.old_value,
                    c.new_value,
                )
                for ref, c in write.corrections
            ],
        )
        await self._many(
            con,
            "INSERT INTO share_levels (model_key, parent_key, region, metric, level) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_key, parent_key, region, metric) "
            "DO UPDATE SET level = excluded.level",
            [(*key, level) for key, level in write.share_levels.items()],
        )
        stored: list[tuple[StoredEvent, Sequence[str]]] = []
        keys = write.event_keys or [[event.subject.key] for event in write.events]
        for event, covering in zip(write.events, keys, strict=True):
            event_id = await self._val(
                con,
                "INSERT INTO events (dedupe_key, kind, subject_key, region, period, payload) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING "
                "RETURNING id",
                dedupe_key(event),
                event.kind,
                event.subject.key,
                event.region,
                str(event.period),
                json.dumps(event_to_dict(event)),
            )
            if event_id is not None:
                stored.append((StoredEvent(int(event_id), event), covering))
        return stored

    async def events(self, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Recorded events with an id above `after_id`, oldest first."""
        rows = await self._fetch(
            self.pool,
            "SELECT id, payload FROM events WHERE id > $1 ORDER BY id LIMIT $2",
            after_id,
            limit,
            table="events",
        )
        return [StoredEvent(r[0], event_from_dict(json.loads(r[1]))) for r in rows]

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
        keys = (
            "subject",
            "region",
            "metric",
            "lowest",
            "highest",
            "count",
            "period",
            "value",
            "below",
            "history",
            "recorded_at",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def correction_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Corrections to recorded milestones, newest first."""
        rows = await self._fetch(
            self.pool,
            "SELECT subject_name, region, metric, lowest, highest, count, reason, old_period, "
            "new_period, old_value, new_value, recorded_at FROM corrections "
            "ORDER BY id DESC LIMIT $1",
            limit,
        )
        keys = (
            "subject",
            "region",
            "metric",
            "lowest",
            "highest",
            "count",
            "reason",
            "old_period",
            "new_period",
            "old_value",
            "new_value",
            "recorded_at",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def events_about(
        self, subject_key: str, region: str, limit: int = 5
    ) -> list[StoredEvent]:
        """The newest `limit` events about one subject in one region, oldest first (one
        indexed read: its cost does not depend on other events)."""
        rows = await self._fetch(
            self.pool,
            "SELECT id, payload FROM events WHERE subject_key = $1 AND region = $2 "
            "ORDER BY id DESC LIMIT $3",
            subject_key,
            region,
            limit,
            table="events",
        )
        return [StoredEvent(r[0], event_from_dict(json.loads(r[1]))) for r in reversed(rows)]

    async def count_records(self) -> int:
        """How many sales figures are stored (for tests and summaries)."""
        return int(await self._val(self.pool, "SELECT COUNT(*) FROM records"))


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


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as columns, for `unnest` (one statement instead of one per row)."""
    return [[row[i] for row in rows] for i in range(width)]
