"""Imports on SQLite: streamed rows staged, repeats and overlaps judged, the source's figures
written and journalled in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from dataclasses import replace
from itertools import chain
from typing import Any

from bot.domain import holds as hold_rows
from bot.domain.names import Spellings
from bot.domain.overlaps import overlapping
from bot.domain.periods import Month, encode_years, news_cutoff
from bot.domain.plausibility import DEFAULT_RULE, LINE_IN_RECORDS, HoldRule
from bot.domain.records import (
    ImportFailed,
    ImportSummary,
    SourceInfo,
    SourceSpec,
)
from bot.domain.staging import (
    ROW_WIDTH,
    MakeCell,
    Repeats,
    Row,
    StagedChunk,
    respell_regions,
    source_named,
)
from bot.store.common import YEARLY_YEARS_SQL
from bot.store.sales_rows import (
    InMemoryImports,
    check_metric,
    make_updates,
    model_updates,
    summary_of,
)
from bot.store.sqlite.cells import ROW_COLUMNS, ROW_KEY, FirstImport, SqliteCells

_STAGING_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS staging ({ROW_COLUMNS}, PRIMARY KEY ({ROW_KEY})) "
    "WITHOUT ROWID"
)
_CHUNK_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS chunk ({ROW_COLUMNS})"


ROWS_PER_INSERT = 50
MAKE_SUMS_HELD = 20_000  # make sums held in memory during a first import, at most


def _insert_rows(table: str, source_id: int, conflict: str = "", rows: int = 1) -> str:
    """An INSERT of `rows` `bot.domain.staging.Row`s for one source. The id is our own integer,
    written
    into the statement so that each of a million rows binds only its own nine values."""
    values = ", ".join([f"({int(source_id)}, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    on_conflict = f" ON CONFLICT ({ROW_KEY}) {conflict}" if conflict else ""
    return f"INSERT INTO {table} ({ROW_KEY}, cumulative, units, line) VALUES {values}{on_conflict}"


def _batched(rows: list[Row]) -> tuple[list[list[Any]], list[Row]]:
    """Rows as flat runs of `ROWS_PER_INSERT` rows, and the rows left over. A statement of fifty
    rows wrote a million rows in 60 % of the time of one per row, and sqlite3 lets go of Python's
    lock once per statement: per row, a parser thread and the store's took turns at it a million
    times, each turn a wait."""
    whole = len(rows) - len(rows) % ROWS_PER_INSERT
    flat = list(chain.from_iterable(rows[:whole]))
    width = ROW_WIDTH * ROWS_PER_INSERT
    return [flat[i : i + width] for i in range(0, len(flat), width)], rows[whole:]


class SqliteImports(SqliteCells, InMemoryImports):
    """`import_records` and `import_stream`."""

    _judging: tuple[HoldRule | None, bool] = (DEFAULT_RULE, False)  # the import's hold rule

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
                load.snapshot = snapshot
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
                                load.first[info.id] = FirstImport()
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
            f"c.cumulative OR c.powertrain = 'FCEV', c.make_key, c.region, c.month "
            f"FROM temp.chunk c JOIN {table} s "
            f"USING ({ROW_KEY}) WHERE c.line != s.line ORDER BY c.line"
        )
        await self._run("DELETE FROM temp.chunk")
        # `unsummed`: a running total or a fuel-cell figure, never in the first import's sums
        for line, first_line, units, first_units, same, unsummed, make, region, month in repeats:
            exact = load.repeats.repeat(source_id, line, first_line, units, first_units, same)
            if exact and first is not None and not unsummed:
                first.sums[(make, region, month)] -= units  # counted once, not twice

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
        summary = summary_of(info, int(count), load.repeats, dry_run)
        if running:
            await self._run("UPDATE sources SET running = 1 WHERE id = ?", (info.id,))
        if first is not None:
            await self._write_first(info.id, first)
            summary.new = summary.records
        else:
            await self._write_revisions(info.id, summary, (info.name, file, load.snapshot))
        latest_month = Month.parse(latest) if latest else None
        return await self._finish_import(
            info, summary, latest_month, first is not None, file, dry_run
        )

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
            # only a figure held before this import can be revised by it, and drop states
            held = bool(await self._rows("SELECT 1 FROM holds WHERE state = 'held' LIMIT 1"))
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
            if held:
                self._kept = None  # a revised held figure may have dropped series states
        if after > before and not dry_run:
            summary.journal_from, summary.journal_to = before + 1, after
        await self._run(
            "UPDATE sources SET imports = imports + 1, latest_month = ?, yearly = ? WHERE id = ?",
            (str(new_latest) if new_latest else None, encode_years(yearly), info.id),
        )
        return summary

    async def _ensure_source(self, source: SourceSpec) -> SourceInfo:
        known = source_named(await self.sources(), source.name)
        if known is not None:  # under the name it was first imported as
            source = replace(source, name=known.name)
        rows = await self._rows(
            "SELECT id, metric FROM sources WHERE name = ?", (source.name,), table="sources"
        )
        if rows:
            check_metric(source, rows[0][1])
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
            make_updates(known_makes, makes),
        )
        known_models = {
            (a, b): c
            for a, b, c in await self._rows("SELECT make_key, model_key, display FROM models")
        }
        await self._many(
            "INSERT INTO models (make_key, model_key, display) VALUES (?, ?, ?) "
            "ON CONFLICT (make_key, model_key) DO UPDATE SET display = excluded.display",
            model_updates(known_models, models),
        )


class _Load:
    """One import in progress: its repeats, and the sources it imports for the first time."""

    def __init__(self, file: str, aggregate: bool) -> None:
        self.file = file
        self.aggregate = aggregate
        self.repeats = Repeats(file, aggregate)
        self.first: dict[int, FirstImport] = {}
        self.lengths: dict[int, set[int]] = {}  # the period lengths (granularities) staged
        self.snapshot = ""  # `import_stream(snapshot=...)`

    def restart(self) -> None:
        self.repeats = Repeats(self.file, self.aggregate)
        self.first = {source_id: FirstImport() for source_id in self.first}
        self.lengths = {}
