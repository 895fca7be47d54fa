"""The aggregates on SQLite, kept on write in the import's transaction: `cells` holds each
source's period figures and running total per model, region and month, with the increment of
the model's cumulative series; `make_cells` and `all_cells` hold the same increments summed per
make and over everything."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from operator import itemgetter

from bot.domain.records import REFUSE_SHRINK, ImportFailed, ImportSummary
from bot.domain.staging import (
    MakeCell,
    Row,
)
from bot.store.powertrain_cells import (
    DELETE_TOUCHED,
    ELECTRIC,
    INSERT_TOUCHED,
    fresh_powertrain_cells_sql,
    powertrain_cells_sql,
)
from bot.store.rows import increment_updates
from bot.store.sales_rows import shrink_refused
from bot.store.sqlite.detection_reads import SqliteDetectionReads

_KEY = "source_id, make_key, model_key, region, month"
_JOIN_KEY = " AND ".join(f"r.{c} = s.{c}" for c in ("source_id", "make_key", "model_key", "region"))
_CELL_JOIN = " AND ".join(
    f"s.{c} = cells.{c}" for c in ("source_id", "make_key", "model_key", "region", "month")
)
# a source's figures that the staged snapshot lacks (parameter: the source's id)
_FIGURE_OF = (
    f"{_JOIN_KEY} AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain"
)
_MISSING = (
    f"FROM records r WHERE r.source_id = ? AND NOT EXISTS (SELECT 1 FROM temp.staging s WHERE "
    f"{_FIGURE_OF})"
)

# A source's first import is written straight into `records` (where repeated keys meet, told
# apart by their lines); an import over figures a source already holds is staged here first, to
# be compared with them.
ROW_COLUMNS = (
    "source_id INTEGER NOT NULL, make_key TEXT NOT NULL, model_key TEXT NOT NULL, "
    "region TEXT NOT NULL, month TEXT NOT NULL, period TEXT NOT NULL, powertrain TEXT NOT NULL, "
    "cumulative INTEGER NOT NULL, units INTEGER NOT NULL, line INTEGER NOT NULL"
)
ROW_KEY = "source_id, make_key, model_key, region, month, period, powertrain"


# A first import's cells from its records. Without running totals a cell's increment is its
# period units: each record is added to its cell as it is read (the rare cell of several records,
# a model sold as BEV and PHEV say, takes the upsert), which costs half of a GROUP BY.
_FRESH_CELLS = (
    f"INSERT INTO cells ({_KEY}, period_units, running_units, inc) "
    f"SELECT {_KEY}, units, NULL, units FROM records WHERE source_id = ? AND {ELECTRIC} "
    f"ON CONFLICT ({_KEY}) DO UPDATE SET period_units = period_units + excluded.period_units, "
    "inc = inc + excluded.inc"
)
# With running totals: period units summed per month, running totals kept.
_CELL_SUMS = (
    "SELECT source_id, make_key, model_key, region, month, "
    "COALESCE(SUM(CASE WHEN cumulative = 0 THEN units END), 0) AS pu, "
    "SUM(CASE WHEN cumulative = 1 THEN units END) AS ru "
    f"FROM records WHERE source_id = ? AND {ELECTRIC} GROUP BY make_key, model_key, region, month"
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


class SqliteCells(SqliteDetectionReads):
    """Cells, their increments and sums, from the records an import wrote."""

    async def _add_make_sums(self, source_id: int, first: FirstImport) -> None:
        """Add the make sums held so far to `make_cells` and let go of them: held to the end,
        they would grow with a file of many makes, regions and months."""
        await self._many(
            "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
            f"VALUES ({int(source_id)}, ?, ?, ?, ?) ON CONFLICT (make_key, source_id, region, "
            "month) DO UPDATE SET inc = inc + excluded.inc",
            [(*cell, inc) for cell, inc in sorted(first.sums.items())],
        )
        first.sums.clear()

    async def _write_first(self, source_id: int, first: FirstImport) -> None:
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
        split = (
            powertrain_cells_sql("r.source_id = ?")
            if first.running
            else fresh_powertrain_cells_sql("sqlite", "r.source_id = ?")
        )
        await self._run(split, (source_id,))

    async def _write_revisions(
        self, source_id: int, summary: ImportSummary, snapshot: tuple[str, str, str] = ("", "", "")
    ) -> None:
        """An import over known figures: classify, upsert what changed, refresh its cells;
        `snapshot` (source name, file, `import_stream`'s snapshot) says what becomes of the
        figures the import lacks."""
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
        if snapshot[2]:
            await self._missing(source_id, summary, snapshot)
        await self._run(
            f"INSERT INTO records ({ROW_KEY}, cumulative, units, line) "
            f"SELECT {ROW_KEY}, cumulative, units, line FROM temp.staging "
            f"WHERE source_id = ? ON CONFLICT ({ROW_KEY}) DO UPDATE SET "
            "units = excluded.units, cumulative = excluded.cumulative, line = excluded.line "
            "WHERE units != excluded.units OR cumulative != excluded.cumulative",
            (source_id,),
        )
        await self._refresh_cells()
        if summary.removed:  # emptied cells are 0 now, their increments taken off the sums
            await self._run(
                "DELETE FROM cells WHERE source_id = ? AND inc = 0 AND EXISTS (SELECT 1 FROM "
                f"touched s WHERE {_CELL_JOIN}) AND NOT EXISTS (SELECT 1 FROM records r "
                f"WHERE {_JOIN_KEY.replace('s.', 'cells.')} AND r.month = cells.month)",
                (source_id,),
            )

    async def _missing(
        self, source_id: int, summary: ImportSummary, snapshot: tuple[str, str, str]
    ) -> None:
        """A snapshot's missing figures: refused, or removed (their cells touched, so emptied
        cells count 0 and the journal tells their months)."""
        name, file, mode = snapshot
        (count,) = (await self._rows(f"SELECT COUNT(*) {_MISSING}", (source_id,)))[0]
        if not count:
            return
        if mode == REFUSE_SHRINK:
            first = (
                await self._rows(
                    f"SELECT make_key, model_key, region, period {_MISSING} "
                    "ORDER BY period, make_key, model_key, region LIMIT 1",
                    (source_id,),
                )
            )[0]
            raise ImportFailed([shrink_refused(file, name, int(count), first)])
        summary.removed = int(count)
        await self._run(
            f"INSERT INTO temp.touched SELECT DISTINCT r.source_id, r.make_key, r.model_key, "
            f"r.region, r.month {_MISSING}",
            (source_id,),
        )
        await self._run(
            "DELETE FROM records WHERE source_id = ? AND NOT EXISTS (SELECT 1 FROM temp.staging s "
            f"WHERE {_FIGURE_OF.replace('r.', 'records.')})",
            (source_id,),
        )
        await self._run(
            "UPDATE cells SET period_units = 0, running_units = NULL WHERE source_id = ? "
            f"AND EXISTS (SELECT 1 FROM touched s WHERE {_CELL_JOIN}) AND NOT EXISTS (SELECT 1 "
            f"FROM records r WHERE {_JOIN_KEY.replace('s.', 'cells.')} AND r.month = cells.month)",
            (source_id,),
        )

    async def _refresh_cells(self) -> None:
        """Recompute the touched cells, their series' increments, and the make/all sums."""
        await self._run(
            f"INSERT INTO cells ({_KEY}, period_units, running_units) "
            f"SELECT r.source_id, r.make_key, r.model_key, r.region, r.month, "
            "COALESCE(SUM(CASE WHEN r.cumulative = 0 THEN r.units END), 0), "
            "SUM(CASE WHEN r.cumulative = 1 THEN r.units END) "
            f"FROM touched s JOIN records r ON {_JOIN_KEY} AND r.month = s.month "
            f"WHERE r.{ELECTRIC} "
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
        await self._run(DELETE_TOUCHED)
        await self._run(INSERT_TOUCHED)

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


class FirstImport:
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
