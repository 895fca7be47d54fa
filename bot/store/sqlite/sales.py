"""The sales store on SQLite (aiosqlite): WAL, foreign keys, migrations on open.

Aggregates are kept up to date on write, in the import's transaction: `cells` holds each
source's period figures and running total per model, region and month, with the increment of
the model's cumulative series; `make_cells` and `all_cells` hold the same increments summed per
make and over everything. Totals therefore read a few hundred cells, never the sales rows.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import replace
from itertools import chain
from operator import itemgetter
from typing import Any

from bot.domain import holds as hold_rows
from bot.domain.bulk import without_gc
from bot.domain.event_codec import dedupe_key, event_from_dict, event_to_dict
from bot.domain.milestones import Recorded
from bot.domain.names import Spellings, better_display, name_key
from bot.domain.overlaps import overlapping
from bot.domain.periods import Month, encode_years, news_cutoff
from bot.domain.plausibility import DEFAULT_RULE, LINE_IN_RECORDS, Hold, HoldRule
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
from bot.domain.series_state import (
    SeriesState,
    parse_month,
)
from bot.domain.staging import (
    ROW_WIDTH,
    MakeCell,
    Repeats,
    Row,
    StagedChunk,
    in_memory,
    respell_regions,
    source_named,
)
from bot.domain.subscriptions import FanoutPlan, Subscription
from bot.ports.store import StoreError
from bot.store.common import SOURCE_COLUMNS, YEARLY_YEARS_SQL, source_info
from bot.store.rows import inc_rows, increment_updates, state_rows, states_from_rows
from bot.store.sqlite.installations import SqliteInstallations
from bot.store.sqlite.outbox import SqliteOutbox

_KEY = "source_id, make_key, model_key, region, month"
_JOIN_KEY = " AND ".join(f"r.{c} = s.{c}" for c in ("source_id", "make_key", "model_key", "region"))

# A source's first import is written straight into `records` (where repeated keys meet, told
# apart by their lines); an import over figures a source already holds is staged here first, to
# be compared with them.
_ROW_COLUMNS = (
    "source_id INTEGER NOT NULL, make_key TEXT NOT NULL, model_key TEXT NOT NULL, "
    "region TEXT NOT NULL, month TEXT NOT NULL, period TEXT NOT NULL, powertrain TEXT NOT NULL, "
    "cumulative INTEGER NOT NULL, units INTEGER NOT NULL, line INTEGER NOT NULL"
)
_ROW_KEY = "source_id, make_key, model_key, region, month, period, powertrain"
_STAGING_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS staging ({_ROW_COLUMNS}, PRIMARY KEY ({_ROW_KEY})) "
    "WITHOUT ROWID"
)
_CHUNK_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS chunk ({_ROW_COLUMNS})"


ROWS_PER_INSERT = 50
MAKE_SUMS_HELD = 20_000  # make sums held in memory during a first import, at most


def _insert_rows(table: str, source_id: int, conflict: str = "", rows: int = 1) -> str:
    """An INSERT of `rows` `bot.domain.staging.Row`s for one source. The id is our own integer,
    written
    into the statement so that each of a million rows binds only its own nine values."""
    values = ", ".join([f"({int(source_id)}, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    on_conflict = f" ON CONFLICT ({_ROW_KEY}) {conflict}" if conflict else ""
    return f"INSERT INTO {table} ({_ROW_KEY}, cumulative, units, line) VALUES {values}{on_conflict}"


def _batched(rows: list[Row]) -> tuple[list[list[Any]], list[Row]]:
    """Rows as flat runs of `ROWS_PER_INSERT` rows, and the rows left over. A statement of fifty
    rows wrote a million rows in 60 % of the time of one per row, and sqlite3 lets go of Python's
    lock once per statement: per row, a parser thread and the store's took turns at it a million
    times, each turn a wait."""
    whole = len(rows) - len(rows) % ROWS_PER_INSERT
    flat = list(chain.from_iterable(rows[:whole]))
    width = ROW_WIDTH * ROWS_PER_INSERT
    return [flat[i : i + width] for i in range(0, len(flat), width)], rows[whole:]


# A first import's cells from its records. Without running totals a cell's increment is its
# period units: each record is added to its cell as it is read (the rare cell of several records,
# a model sold as BEV and PHEV say, takes the upsert), which costs half of a GROUP BY.
_FRESH_CELLS = (
    f"INSERT INTO cells ({_KEY}, period_units, running_units, inc) "
    f"SELECT {_KEY}, units, NULL, units FROM records WHERE source_id = ? "
    f"ON CONFLICT ({_KEY}) DO UPDATE SET period_units = period_units + excluded.period_units, "
    "inc = inc + excluded.inc"
)
# With running totals: period units summed per month, running totals kept.
_CELL_SUMS = (
    "SELECT source_id, make_key, model_key, region, month, "
    "COALESCE(SUM(CASE WHEN cumulative = 0 THEN units END), 0) AS pu, "
    "SUM(CASE WHEN cumulative = 1 THEN units END) AS ru "
    "FROM records WHERE source_id = ? GROUP BY make_key, model_key, region, month"
)
# With running totals, `series.increments` in SQL: a cell's value is the latest running total
# at or before it (0 before the first) plus the period units since; its increment is the
# difference from the previous cell's value. `grp` numbers the stretches that each start at a
# running total.
_SERIES = "PARTITION BY make_key, model_key, region"
_FRESH_RUNNING_CELLS = (
    f"INSERT INTO cells ({_KEY}, period_units, running_units, inc) "
    f"SELECT {_KEY}, pu, ru, value - COALESCE(LAG(value) OVER ({_SERIES} ORDER BY month), 0) "
    "FROM (SELECT *, "
    f"COALESCE(MAX(ru) OVER ({_SERIES}, grp), 0) + SUM(CASE WHEN ru IS NULL THEN pu ELSE 0 END) "
    f"OVER ({_SERIES}, grp ORDER BY month ROWS UNBOUNDED PRECEDING) AS value "
    f"FROM (SELECT *, COUNT(ru) OVER ({_SERIES} ORDER BY month ROWS UNBOUNDED PRECEDING) AS grp "
    f"FROM ({_CELL_SUMS}))) WHERE true"
)


class SqliteStore(SqliteOutbox, SqliteInstallations):
    """`SalesStore` on one SQLite file."""

    # the series states this connection saved last, with the watermark they were saved at
    _kept: tuple[str, int, dict[tuple[str, str, str], SeriesState]] | None = None

    _judging: tuple[HoldRule | None, bool] = (DEFAULT_RULE, False)  # the import's hold rule

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

        Each figure written is judged by `hold` (None: `--accept-jumps`, nothing is held); a
        held one is kept, and a notice says where and why.

        Rows are written as they arrive, so memory stays flat whatever the file's size: a
        source's first import straight into `records`, any other into a temporary table to be
        compared with what the source holds. Repeated keys meet there: an exact repeat is counted
        once, a conflicting one is a problem (with `aggregate`, repeats are summed instead). A
        `None` chunk restarts the stream. When the stream ends without raising, each source's
        figures are finished (cells, sums, journal); an `ImportFailed` from the stream (the
        parser's problems) or from the repeats rolls everything back.
        """
        async with self._writing():
            # created once per connection, outside any transaction, and emptied, never
            # dropped: a DROP fails while another task's statement is open on the connection
            await self._run(_STAGING_TABLE)
            await self._run("BEGIN IMMEDIATE")
            try:
                await self._run("DELETE FROM temp.staging")
                load = _Load(file, aggregate)
                self._judging = (hold, aggregate)
                infos: dict[str, SourceInfo] = {}
                regions = Spellings(await self.regions())
                try:
                    async for chunk in chunks:
                        if chunk is None:
                            await self._restart(load)
                            continue
                        respell_regions(chunk, regions)
                        for name in sorted(chunk.rows.keys() - infos.keys()):
                            info = infos[name] = await self._ensure_source(spec_for(name))
                            if info.imports == 0 and not await self._rows(
                                "SELECT 1 FROM records WHERE source_id = ? LIMIT 1", (info.id,)
                            ):
                                load.first[info.id] = _First()
                        load.repeats.names(chunk)
                        for name, rows in chunk.rows.items():
                            await self._stage(infos[name].id, rows, chunk.sums.get(name, {}), load)
                except ImportFailed as exc:
                    raise ImportFailed(load.repeats.with_problems(exc.problems)) from None
                for info in infos.values():
                    load.repeats.problems.extend(await self._overlaps(info, load))
                if load.repeats.problems:
                    raise ImportFailed(load.repeats.with_problems([]))
                await self._save_names(load.repeats.makes, load.repeats.models)
                summaries = [
                    await self._import_source(info, load, file, dry_run) for info in infos.values()
                ]
                await self._run("ROLLBACK" if dry_run else "COMMIT")
            except BaseException:
                await self._run("ROLLBACK")
                raise
            finally:
                await self._run("DELETE FROM temp.staging")  # an empty table costs nothing
            return summaries

    async def _overlaps(self, info: SourceInfo, load: _Load) -> list[str]:
        """Rows of one key whose periods overlap, in this import or with what the source
        holds; read only where the periods are of more than one granularity."""
        lengths = load.lengths.get(info.id, set())
        first = info.id in load.first
        before = not first and (
            bool(info.yearly and lengths - {4})
            or (
                4 in lengths
                and bool(
                    await self._rows(
                        "SELECT 1 FROM records WHERE source_id = ? AND length(period) != 4 LIMIT 1",
                        (info.id,),
                    )
                )
            )
        )
        if len(lengths) < 2 and not before:
            return []
        table = "records" if first else "temp.staging"
        sql = (
            "SELECT make_key, model_key, region, powertrain, period, line "
            f"FROM {table} WHERE source_id = ?"
        )
        params: tuple[int, ...] = (info.id,)
        if before:
            sql += (
                " UNION ALL SELECT make_key, model_key, region, powertrain, period, 0 "
                "FROM records WHERE source_id = ?"
            )
            params = (info.id, info.id)
        return overlapping(await self._rows(sql + " ORDER BY 1, 2, 3, 4, 5", params), load.file)

    async def _restart(self, load: _Load) -> None:
        """Forget what the stream sent so far: it starts again from its first row."""
        await self._run("DELETE FROM temp.staging")
        for source_id in load.first:
            await self._run("DELETE FROM records WHERE source_id = ?", (source_id,))
            await self._run("DELETE FROM make_cells WHERE source_id = ?", (source_id,))
        load.restart()

    async def _stage(
        self, source_id: int, rows: list[Row], sums: dict[MakeCell, int], load: _Load
    ) -> None:
        first = load.first.get(source_id)
        table = "records" if first is not None else "temp.staging"
        load.lengths.setdefault(source_id, set()).update({len(row[4]) for row in rows})
        conflict = "DO UPDATE SET units = units + excluded.units" if load.aggregate else None
        before = self.db.total_changes
        runs, rest = _batched(rows)
        on_conflict = conflict or "DO NOTHING"
        await self._many(_insert_rows(table, source_id, on_conflict, ROWS_PER_INSERT), runs)
        await self._many(_insert_rows(table, source_id, on_conflict), rest)
        if first is not None:
            first.add(rows, sums)
            if len(first.sums) > MAKE_SUMS_HELD:
                await self._add_make_sums(source_id, first)
        if conflict or self.db.total_changes - before == len(rows):
            return
        # some rows repeat a key written before: say which, and whether the figures agree
        await self._run(_CHUNK_TABLE)
        await self._run("DELETE FROM temp.chunk")
        await self._many(_insert_rows("temp.chunk", source_id), rows)
        repeats = await self._rows(
            "SELECT c.line, s.line, c.units, s.units, c.cumulative = s.cumulative, "
            f"c.cumulative, c.make_key, c.region, c.month FROM temp.chunk c JOIN {table} s "
            f"USING ({_ROW_KEY}) WHERE c.line != s.line ORDER BY c.line"
        )
        await self._run("DELETE FROM temp.chunk")
        for line, first_line, units, first_units, same, running, make, region, month in repeats:
            exact = load.repeats.repeat(source_id, line, first_line, units, first_units, same)
            if exact and first is not None and not running:
                first.sums[(make, region, month)] -= units  # counted once, not twice

    async def _add_make_sums(self, source_id: int, first: _First) -> None:
        """Add the make sums held so far to `make_cells` and let go of them: held to the end,
        they would grow with a file of many makes, regions and months."""
        await self._many(
            "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
            f"VALUES ({int(source_id)}, ?, ?, ?, ?) ON CONFLICT (make_key, source_id, region, "
            "month) DO UPDATE SET inc = inc + excluded.inc",
            [(*cell, inc) for cell, inc in sorted(first.sums.items())],
        )
        first.sums.clear()

    async def _import_source(
        self, info: SourceInfo, load: _Load, file: str, dry_run: bool
    ) -> ImportSummary:
        first = load.first.get(info.id)
        if first is not None:
            (count,) = (
                await self._rows("SELECT COUNT(*) FROM records WHERE source_id = ?", (info.id,))
            )[0]
            latest, running = first.latest, first.running
        else:
            count, latest, running = (
                await self._rows(
                    "SELECT COUNT(*), MAX(month), MAX(cumulative) FROM temp.staging "
                    "WHERE source_id = ?",
                    (info.id,),
                )
            )[0]
        summary = ImportSummary(
            source=info.name,
            records=int(count),
            duplicates=load.repeats.duplicates.get(info.id, 0),
            first_import=info.imports == 0,
            dry_run=dry_run,
            notices=load.repeats.notices.get(info.id, []),
        )
        if running:
            await self._run("UPDATE sources SET running = 1 WHERE id = ?", (info.id,))
        if first is not None:
            await self._write_first(info.id, first)
            summary.new = summary.records
        else:
            await self._write_revisions(info.id, summary)
        latest_month = Month.parse(latest) if latest else None
        return await self._finish_import(
            info, summary, latest_month, first is not None, file, dry_run
        )

    async def _write_first(self, source_id: int, first: _First) -> None:
        """A source's first import, already in `records`: nothing to compare with or revise, so
        its cells, increments and sums are computed by SQLite in a few set statements (in
        Python a million rows took seconds more), the make sums from the parser's."""
        if first.running:
            await self._run(_FRESH_RUNNING_CELLS, (source_id,))
            # the parser's sums are of period units, not of a running total's increments
            await self._run("DELETE FROM make_cells WHERE source_id = ?", (source_id,))
            await self._run(
                "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
                "SELECT source_id, make_key, region, month, SUM(inc) FROM cells "
                "WHERE source_id = ? GROUP BY make_key, region, month",
                (source_id,),
            )
        else:
            await self._run(_FRESH_CELLS, (source_id,))
            await self._add_make_sums(source_id, first)
        await self._run(
            "INSERT INTO all_cells (source_id, region, month, inc) "
            "SELECT source_id, region, month, SUM(inc) FROM make_cells "
            "WHERE source_id = ? GROUP BY region, month",
            (source_id,),
        )

    async def _write_revisions(self, source_id: int, summary: ImportSummary) -> None:
        """An import over known figures: classify, upsert what changed, refresh its cells."""
        new, revised, unchanged = (
            await self._rows(
                "SELECT COALESCE(SUM(r.units IS NULL), 0), "
                "COALESCE(SUM(r.units != s.units OR r.cumulative != s.cumulative), 0), "
                "COALESCE(SUM(r.units = s.units AND r.cumulative = s.cumulative), 0) "
                f"FROM temp.staging s LEFT JOIN records r ON {_JOIN_KEY} "
                "AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain "
                "WHERE s.source_id = ?",
                (source_id,),
            )
        )[0]
        summary.new, summary.revised, summary.unchanged = int(new), int(revised), int(unchanged)
        await self._run(
            "CREATE TEMP TABLE IF NOT EXISTS touched (source_id INTEGER, make_key TEXT, "
            "model_key TEXT, region TEXT, month TEXT)"
        )
        await self._run("DELETE FROM temp.touched")
        await self._run(
            "INSERT INTO temp.touched SELECT DISTINCT s.source_id, s.make_key, s.model_key, "
            f"s.region, s.month FROM temp.staging s LEFT JOIN records r ON {_JOIN_KEY} "
            "AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain "
            "WHERE s.source_id = ? "
            "AND (r.units IS NULL OR r.units != s.units OR r.cumulative != s.cumulative)",
            (source_id,),
        )
        await self._run(
            f"INSERT INTO records ({_ROW_KEY}, cumulative, units, line) "
            f"SELECT {_ROW_KEY}, cumulative, units, line FROM temp.staging "
            f"WHERE source_id = ? ON CONFLICT ({_ROW_KEY}) DO UPDATE SET "
            "units = excluded.units, cumulative = excluded.cumulative, line = excluded.line "
            "WHERE units != excluded.units OR cumulative != excluded.cumulative",
            (source_id,),
        )
        await self._refresh_cells()

    async def _finish_import(
        self,
        info: SourceInfo,
        summary: ImportSummary,
        latest: Month | None,
        fresh: bool,
        file: str,
        dry_run: bool,
    ) -> ImportSummary:
        previous_latest = info.latest_month
        new_latest = max(filter(None, (latest, previous_latest)), default=None)
        cursor = await self._run(
            "INSERT INTO imports (source_id, file, rows_read, new, revised, unchanged, "
            "first_import) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                info.id,
                file,
                summary.records,
                summary.new,
                summary.revised,
                summary.unchanged,
                int(summary.first_import),
            ),
        )
        import_id = cursor.lastrowid
        yearly = frozenset(
            int(y) for (y,) in await self._rows(YEARLY_YEARS_SQL.replace("$1", "?"), (info.id,))
        )
        cutoff = str(news_cutoff(new_latest, yearly)) if new_latest else ""
        before = await self.journal_head()
        if fresh:
            # a first import is all history: one entry per series, from its first month, says
            # as much to a reader as one per cell (readers re-read a changed series from the
            # earliest month they are told of) at a hundredth of the rows
            await self._run(
                "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, "
                "history) SELECT ?, source_id, make_key, model_key, region, MIN(month), 1 "
                "FROM records WHERE source_id = ? GROUP BY make_key, model_key, region "
                "ORDER BY MIN(month), make_key, model_key, region",
                (import_id, info.id),
            )
        else:
            await self._run(
                "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, "
                "history) SELECT ?, source_id, make_key, model_key, region, month, "
                "CASE WHEN ? THEN 1 WHEN month < ? THEN 1 ELSE 0 END FROM touched "
                "ORDER BY month, make_key, model_key, region",
                (import_id, int(summary.first_import), cutoff),
            )
        after = await self.journal_head()
        # a source's first import is all history: nothing of it is announced, so nothing held
        # (and judging it would read every figure it wrote)
        if after > before and not fresh:
            rule, aggregate = self._judging
            summary.notices.extend(
                await hold_rows.judge_import(
                    self._fetch_q,
                    self._run_q,
                    (before + 1, after),
                    info.name,
                    file,
                    aggregate,
                    rule,
                    LINE_IN_RECORDS,
                )
            )
            self._kept = None  # a revised held figure may have dropped series states
        if after > before and not dry_run:
            summary.journal_from, summary.journal_to = before + 1, after
        await self._run(
            "UPDATE sources SET imports = imports + 1, latest_month = ?, yearly = ? WHERE id = ?",
            (str(new_latest) if new_latest else None, encode_years(yearly), info.id),
        )
        return summary

    async def _refresh_cells(self) -> None:
        """Recompute the touched cells, their series' increments, and the make/all sums."""
        await self._run(
            f"INSERT INTO cells ({_KEY}, period_units, running_units) "
            f"SELECT r.source_id, r.make_key, r.model_key, r.region, r.month, "
            "COALESCE(SUM(CASE WHEN r.cumulative = 0 THEN r.units END), 0), "
            "SUM(CASE WHEN r.cumulative = 1 THEN r.units END) "
            f"FROM touched s JOIN records r ON {_JOIN_KEY} AND r.month = s.month WHERE true "
            "GROUP BY r.source_id, r.make_key, r.model_key, r.region, r.month "
            f"ON CONFLICT ({_KEY}) DO UPDATE SET period_units = excluded.period_units, "
            "running_units = excluded.running_units"
        )
        rows = await self._rows(
            "SELECT c.source_id, c.make_key, c.model_key, c.region, c.month, c.period_units, "
            "c.running_units, c.inc FROM cells c JOIN (SELECT DISTINCT source_id, make_key, "
            "model_key, region FROM touched) s ON "
            + _JOIN_KEY.replace("r.", "c.")
            + " ORDER BY c.source_id, c.make_key, c.model_key, c.region, c.month",
            table="cells",
        )
        updates, make_deltas, all_deltas = await asyncio.to_thread(increment_updates, rows)
        if updates:
            await self._many(
                "UPDATE cells SET inc = ? WHERE source_id = ? AND make_key = ? AND model_key = ? "
                "AND region = ? AND month = ?",
                updates,
            )
        await self._apply_deltas(make_deltas, all_deltas)

    async def _apply_deltas(
        self,
        make_deltas: dict[tuple[int, str, str, str], int],
        all_deltas: dict[tuple[int, str, str], int],
    ) -> None:
        """Add increments' changes to the per-make and all-EV sums."""
        if make_deltas:
            await self._many(
                "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (make_key, source_id, region, month) "
                "DO UPDATE SET inc = inc + excluded.inc",
                [(*key, d) for key, d in make_deltas.items()],
            )
        if all_deltas:
            await self._many(
                "INSERT INTO all_cells (source_id, region, month, inc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source_id, region, month) DO UPDATE SET inc = inc + excluded.inc",
                [(*key, d) for key, d in all_deltas.items()],
            )

    async def _ensure_source(self, source: SourceSpec) -> SourceInfo:
        known = source_named(await self.sources(), source.name)
        if known is not None:  # under the name it was first imported as
            source = replace(source, name=known.name)
        rows = await self._rows(
            "SELECT id, metric FROM sources WHERE name = ?", (source.name,), table="sources"
        )
        if rows and rows[0][1] != source.metric:
            raise StoreError(
                f"source {source.name!r} holds {rows[0][1]} figures; this import says "
                f"{source.metric}: import it under another source name"
            )
        if rows:
            await self._run(
                "UPDATE sources SET priority = ? WHERE id = ?", (source.priority, rows[0][0])
            )
        else:
            await self._run(
                "INSERT INTO sources (name, metric, priority) VALUES (?, ?, ?)",
                (source.name, source.metric, source.priority),
            )
        return next(s for s in await self.sources() if s.name == source.name)

    async def _save_names(self, makes: dict[str, str], models: dict[tuple[str, str], str]) -> None:
        known_makes = dict(await self._rows("SELECT make_key, display FROM makes"))
        await self._many(
            "INSERT INTO makes (make_key, display) VALUES (?, ?) "
            "ON CONFLICT (make_key) DO UPDATE SET display = excluded.display",
            [
                (k, better_display(known_makes.get(k), v))
                for k, v in makes.items()
                if k and better_display(known_makes.get(k), v) != known_makes.get(k)
            ],
        )
        known_models = {
            (a, b): c
            for a, b, c in await self._rows("SELECT make_key, model_key, display FROM models")
        }
        await self._many(
            "INSERT INTO models (make_key, model_key, display) VALUES (?, ?, ?) "
            "ON CONFLICT (make_key, model_key) DO UPDATE SET display = excluded.display",
            [
                (*k, better_display(known_models.get(k), v))
                for k, v in models.items()
                if k[1] and better_display(known_models.get(k), v) != known_models.get(k)
            ],
        )

    # -- reading ----------------------------------------------------------------------------

    async def sources(self) -> list[SourceInfo]:
        rows = await self._rows(
            f"SELECT {SOURCE_COLUMNS} FROM sources ORDER BY id",
            table="sources",
        )
        return [source_info(r) for r in rows]

    async def model_names(self) -> list[ModelName]:
        rows = await self._rows(
            "SELECT m.make_key, m.model_key, COALESCE(k.display, m.make_key), m.display "
            "FROM models m LEFT JOIN makes k USING (make_key) ORDER BY 1, 2",
            table="models",
        )
        return [ModelName(*r) for r in rows]

    async def make_names(self) -> dict[str, str]:
        return dict(await self._rows("SELECT make_key, display FROM makes", table="makes"))

    async def regions(self) -> list[str]:
        rows = await self._rows(
            "SELECT DISTINCT region FROM all_cells ORDER BY 1", table="all_cells"
        )
        return [r[0] for r in rows]

    async def model_increments(self, make_key: str, model_key: str) -> list[IncRow]:
        rows = await self._rows(
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE make_key = ? AND model_key = ? ORDER BY month",
            (make_key, model_key),
            table="cells",
        )
        return inc_rows(rows)

    async def make_increments(self, make_keys: Sequence[str]) -> list[IncRow]:
        if not make_keys:
            return []
        marks = ", ".join("?" for _ in make_keys)
        rows = await self._rows(
            f"SELECT source_id, region, make_key, '', month, inc FROM make_cells "
            f"WHERE make_key IN ({marks}) ORDER BY month",
            list(make_keys),
            table="make_cells",
        )
        return inc_rows(rows)

    async def parts_between(
        self, make_keys: Sequence[str] | None, first: Month, last: Month
    ) -> list[IncRow]:
        if make_keys is None:
            rows = await self._rows(
                "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
                "WHERE month BETWEEN ? AND ?",
                (str(first), str(last)),
                table="make_cells",
            )
            return inc_rows(rows)
        if not make_keys:
            return []
        marks = ", ".join("?" for _ in make_keys)
        rows = await self._rows(
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            f"WHERE make_key IN ({marks}) AND month BETWEEN ? AND ?",
            [*make_keys, str(first), str(last)],
            table="cells",
        )
        return inc_rows(rows)

    async def all_increments(self) -> list[IncRow]:
        rows = await self._rows(
            "SELECT source_id, region, '', '', month, inc FROM all_cells ORDER BY month",
            table="all_cells",
        )
        return inc_rows(rows)

    async def every_model_increment(self) -> list[IncRow]:
        rows = await self._rows(
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE model_key != '' ORDER BY month",
            table="cells",
        )
        return inc_rows(rows)

    async def journal_head(self) -> int:
        rows = await self._rows("SELECT COALESCE(MAX(seq), 0) FROM journal")
        return int(rows[0][0])

    async def journal_since(self, seq: int, limit: int = 10_000) -> list[JournalEntry]:
        rows = await self._rows(
            "SELECT seq, source_id, region, make_key, model_key, month, history FROM journal "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
            table="journal",
        )
        return [
            JournalEntry(r[0], r[1], r[2], r[3], r[4], Month.parse(r[5]), bool(r[6])) for r in rows
        ]

    async def sync_groups(self, groups: Sequence[GroupSpec]) -> None:
        async with self._writing():
            await self._run("BEGIN IMMEDIATE")
            try:
                await self._run("DELETE FROM group_members")
                await self._run("DELETE FROM group_aliases")
                await self._run("DELETE FROM groups")
                for position, group in enumerate(groups):
                    await self._run(
                        "INSERT INTO groups (name, position) VALUES (?, ?)", (group.name, position)
                    )
                    await self._many(
                        "INSERT INTO group_members (group_name, make_key, make, valid_from, "
                        "valid_to) VALUES (?, ?, ?, ?, ?)",
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
                        "INSERT INTO group_aliases (group_name, alias) VALUES (?, ?)",
                        [(group.name, a) for a in group.aliases],
                    )
                await self._run("COMMIT")
            except BaseException:
                await self._run("ROLLBACK")
                raise

    async def groups(self) -> list[GroupSpec]:
        names = [r[0] for r in await self._rows("SELECT name FROM groups ORDER BY position")]
        members: dict[str, list[GroupMember]] = defaultdict(list)
        for group, make, start, end in await self._rows(
            "SELECT group_name, make, valid_from, valid_to FROM group_members ORDER BY rowid"
        ):
            members[group].append(
                GroupMember(
                    make,
                    Month.parse(start) if start else None,
                    Month.parse(end) if end else None,
                )
            )
        aliases: dict[str, list[str]] = defaultdict(list)
        for group, alias in await self._rows(
            "SELECT group_name, alias FROM group_aliases ORDER BY rowid"
        ):
            aliases[group].append(alias)
        return [GroupSpec(n, tuple(members[n]), tuple(aliases[n])) for n in names]

    # -- detection --------------------------------------------------------------------------

    async def watermark(self, name: str) -> int:
        """How far in the journal a reader called `name` has got (0: nowhere yet)."""
        rows = await self._rows("SELECT seq FROM watermarks WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    async def recorded_milestones(
        self, subject_key: str, region: str, metric: str
    ) -> dict[int, Recorded]:
        """The milestone ranges recorded for one series, by lowest threshold."""
        rows = await self._rows(
            "SELECT lowest, highest, count, period, value, below, history FROM milestones "
            "WHERE subject_key = ? AND region = ? AND metric = ?",
            (subject_key, region, metric),
            table="milestones",
        )
        return {
            r[0]: Recorded(r[0], r[1], r[2], Month.parse(r[3]), r[4], bool(r[5]), bool(r[6]))
            for r in rows
        }

    async def share_level(self, key: tuple[str, str, str, str]) -> float | None:
        """The last announced or baselined share band of (model, parent, region, metric)."""
        rows = await self._rows(
            "SELECT level FROM share_levels WHERE model_key = ? AND parent_key = ? "
            "AND region = ? AND metric = ?",
            key,
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def journal_changes(
        self, after: int, upto: int
    ) -> list[tuple[int, str, str, str, Month, Month | None]]:
        """The cells the journal entries `after` < seq <= `upto` changed, once each: (source id,
        region, make key, model key, earliest month changed, earliest month a news change
        touched or None when all was history)."""
        rows = await self._rows(
            "SELECT source_id, region, make_key, model_key, MIN(month), "
            "MIN(CASE WHEN history = 0 THEN month END) FROM journal "
            "WHERE seq > ? AND seq <= ? GROUP BY source_id, region, make_key, model_key",
            (after, upto),
            table="journal",
        )
        return await asyncio.to_thread(
            without_gc,
            lambda: [
                (r[0], r[1], r[2], r[3], parse_month(r[4]), parse_month(r[5]) if r[5] else None)
                for r in rows
            ],
        )

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
        rows = await self._rows(
            "SELECT l.model_key, l.parent_key, l.region, l.metric, l.level "
            "FROM json_each(?) j JOIN share_levels l ON l.model_key = j.value ->> 0 "
            "AND l.region = j.value ->> 1 AND l.metric = j.value ->> 2",
            (await asyncio.to_thread(json.dumps, models),),
            table="share_levels",
        )
        return await asyncio.to_thread(
            without_gc,
            lambda: {
                (r[0], r[1], r[2], r[3]): float(r[4]) if r[4] is not None else None for r in rows
            },
        )

    async def series_states(
        self, series: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], SeriesState]:
        """The kept detection states of many (subject key, region, metric) at once; a series
        without one is absent.

        The states this connection saved last are kept in memory too, and served from there
        while the detector's watermark is still the one they were saved with (no other
        detection has saved anything since): a running bot reads them from disk once.
        """
        if not series:
            return {}
        found: dict[tuple[str, str, str], SeriesState] = {}
        if self._kept is not None:
            name, seq, kept = self._kept
            if await self.watermark(name) == seq:
                found = {k: kept[k] for k in series if k in kept}
                series = [k for k in series if k not in found]
                if not series:
                    return found
            else:
                self._kept = None
        rows = await self._rows(
            "SELECT s.subject_key, s.region, s.metric, s.fingerprint, s.first_month, "
            "s.first_nonzero, s.last_month, s.total, s.peak, s.best, s.best_month, "
            "s.recent_from, s.recent, s.year_sources, s.flagged FROM json_each(?) j "
            "JOIN series_state s "
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
            make_rows = await self._rows(
                "SELECT c.source_id, c.region, c.make_key, '', c.month, c.inc "
                "FROM json_each(?) j JOIN make_cells c ON c.make_key = j.value ->> 0 "
                "AND c.month > j.value ->> 1",
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
            current = await self.watermark(name)
            if current != expected:
                raise StoreError(f"watermark {name!r} moved from {expected} to {current} meanwhile")
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
        # committed: what this connection now knows of the states, as of the new watermark
        kept = self._kept[2] if self._kept and self._kept[:2] == (name, expected) else {}
        for state in states:
            kept[(state.subject_key, state.region, state.metric)] = state
        self._kept = (name, new, kept)
        return [s for s, _ in stored]

    async def _save_states(self, states: Sequence[SeriesState]) -> None:
        if not states:
            return
        rows = await asyncio.to_thread(without_gc, state_rows, states)
        # each row whole (nothing refers to a state): replacing it is the upsert, and faster
        await self._many(
            "INSERT OR REPLACE INTO series_state (subject_key, region, metric, fingerprint, "
            "first_month, first_nonzero, last_month, total, peak, best, best_month, "
            "recent_from, recent, year_sources, flagged) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    async def _write_detection(
        self, write: DetectionWrite
    ) -> list[tuple[StoredEvent, Sequence[str]]]:
        await self._keep_told_corrections(write)

        def prepare() -> tuple[list[Any], list[Any], list[Any], list[Any], list[str], str]:
            milestones = [
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
                    int(rec.below),
                    int(history),
                )
                for ref, rec, history in write.milestones
            ]
            drops = [
                (ref.subject_key, ref.region, ref.metric, lowest)
                for ref, lowest in write.milestone_drops
            ]
            corrections = [
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
            ]
            levels = [(*key, level) for key, level in write.share_levels.items()]
            dedupes = [dedupe_key(event) for event in write.events]
            events = json.dumps(
                [
                    (
                        dedupe,
                        event.kind,
                        event.subject.key,
                        event.region,
                        str(event.period),
                        json.dumps(event_to_dict(event)),
                    )
                    for dedupe, event in zip(dedupes, write.events, strict=True)
                ]
            )
            return milestones, drops, corrections, levels, dedupes, events

        # a poll can find thousands of each: made into rows off the event loop
        milestones, drops, corrections, levels, dedupes, events = await asyncio.to_thread(
            without_gc, prepare
        )
        if drops:
            await self._many(
                "DELETE FROM milestones WHERE subject_key = ? AND region = ? AND metric = ? "
                "AND lowest = ?",
                drops,
            )
        await self._many(
            "INSERT INTO milestones (subject_key, region, metric, lowest, highest, count, ladder, "
            "subject_name, period, value, below, history) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subject_key, region, metric, lowest) DO UPDATE SET "
            "highest = excluded.highest, count = excluded.count, ladder = excluded.ladder, "
            "period = excluded.period, value = excluded.value, below = excluded.below",
            milestones,
        )
        await self._many(
            "INSERT INTO corrections (subject_key, subject_name, region, metric, lowest, "
            "highest, count, ladder, reason, old_period, new_period, old_value, new_value) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            corrections,
        )
        await self._many(
            "INSERT INTO share_levels (model_key, parent_key, region, metric, level) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_key, parent_key, region, metric) "
            "DO UPDATE SET level = excluded.level",
            levels,
        )
        stored: list[tuple[StoredEvent, Sequence[str]]] = []
        if not write.events:
            return stored
        keys = write.event_keys or [[event.subject.key] for event in write.events]
        # one statement for every event (a poll can find thousands): an event already stored
        # is skipped, and RETURNING names the ones that were new
        rows = await self._rows(
            "INSERT INTO events (dedupe_key, kind, subject_key, region, period, payload) "
            "SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, "
            "j.value ->> 5 FROM json_each(?) j WHERE true ORDER BY j.key "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key",
            (events,),
        )
        new = {dedupe: event_id for event_id, dedupe in rows}
        for dedupe, event, covering in zip(dedupes, write.events, keys, strict=True):
            event_id = new.pop(dedupe, None)  # pop: a repeat within the batch is not new
            if event_id is not None:
                stored.append((StoredEvent(event_id, event), covering))
        return stored

    async def _fetch_q(self, sql: str, *args: Any) -> list[Any]:
        return await self._rows(_positional(sql), args)

    async def _run_q(self, sql: str, *args: Any) -> None:
        await self._run(_positional(sql), args)

    async def holds(self, everything: bool = False) -> list[Hold]:
        """The figures held (with `everything`, released and revised ones too)."""
        return await hold_rows.holds(self._fetch_q, everything)

    async def held_event_ids(self) -> set[int]:
        """The events held now."""
        return await hold_rows.held_event_ids(self._fetch_q)

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

    async def events(self, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Recorded events with an id above `after_id`, oldest first."""
        rows = await self._rows(
            "SELECT id, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
            table="events",
        )
        return [StoredEvent(r[0], event_from_dict(json.loads(r[1]))) for r in rows]

    async def milestone_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded milestones, newest crossing first."""
        rows = await self._rows(
            "SELECT subject_name, region, metric, lowest, highest, count, period, value, below, "
            "history, recorded_at FROM milestones ORDER BY period DESC, highest DESC LIMIT ?",
            (limit,),
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
        rows = await self._rows(
            "SELECT subject_name, region, metric, lowest, highest, count, reason, old_period, "
            "new_period, old_value, new_value, recorded_at FROM corrections "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
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

    async def count_records(self) -> int:
        """How many sales figures are stored (for tests and summaries)."""
        return int((await self._rows("SELECT COUNT(*) FROM records"))[0][0])

    # -- preview ----------------------------------------------------------------------------

    async def events_about(
        self, subject_key: str, region: str, limit: int = 5
    ) -> list[StoredEvent]:
        """The newest `limit` events about one subject in one region, oldest first.

        One indexed read (`events_by_subject`): its cost does not depend on other events.
        """
        rows = await self._rows(
            "SELECT id, payload FROM events WHERE subject_key = ? AND region = ? "
            "ORDER BY id DESC LIMIT ?",
            (subject_key, region, limit),
            table="events",
        )
        return [StoredEvent(r[0], event_from_dict(json.loads(r[1]))) for r in reversed(rows)]


class _First:
    """A source's first import as it streams into `records`: what its rows said in passing."""

    def __init__(self) -> None:
        self.latest = ""
        self.running = False
        self.sums: dict[MakeCell, int] = defaultdict(int)

    def add(self, rows: list[Row], sums: dict[MakeCell, int]) -> None:
        if rows:
            self.latest = max(self.latest, max(map(itemgetter(3), rows)))
            self.running = self.running or any(map(itemgetter(6), rows))
        for cell, units in sums.items():
            self.sums[cell] += units


class _Load:
    """One import in progress: its repeats, and the sources it imports for the first time."""

    def __init__(self, file: str, aggregate: bool) -> None:
        self.file = file
        self.aggregate = aggregate
        self.repeats = Repeats(file, aggregate)
        self.first: dict[int, _First] = {}
        self.lengths: dict[int, set[int]] = {}  # the period lengths (granularities) staged

    def restart(self) -> None:
        self.repeats = Repeats(self.file, self.aggregate)
        self.first = {source_id: _First() for source_id in self.first}
        self.lengths = {}


def _positional(sql: str) -> str:
    """`$N` placeholders (used in order, once each) as SQLite's `?`."""
    return re.sub(r"\$\d+", "?", sql)
