"""The aggregates on PostgreSQL, kept on write in the import's transaction: an import's figures
staged, classified and upserted, `cells` per model, region and month with the increment of the
model's cumulative series, `make_cells` and `all_cells` summed."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.records import REFUSE_SHRINK, ImportFailed, ImportSummary
from bot.store.postgres.base import Connection, columns
from bot.store.postgres.detection_reads import PgDetectionReads
from bot.store.powertrain_cells import (
    DELETE_TOUCHED,
    ELECTRIC,
    INSERT_TOUCHED,
    fresh_powertrain_cells_sql,
    powertrain_cells_sql,
)
from bot.store.rows import increment_updates
from bot.store.sales_rows import shrink_refused

_KEY = "source_id, make_key, model_key, region, month"
_SERIES_KEY = ("source_id", "make_key", "model_key", "region")
_JOIN_KEY = " AND ".join(f"r.{c} = s.{c}" for c in _SERIES_KEY)
_FIGURE_JOIN = (
    f"{_JOIN_KEY} AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain"
)
_CELL_JOIN = " AND ".join(f"c.{c} = s.{c}" for c in (*_SERIES_KEY, "month"))
_EMPTIED = " AND ".join(f"r.{c} = c.{c}" for c in (*_SERIES_KEY, "month"))
# a source's figures that the staged snapshot lacks (parameter: the source's id)
_MISSING = (
    f"FROM records r WHERE r.source_id = $1 AND NOT EXISTS (SELECT 1 FROM staging s WHERE "
    f"{_FIGURE_JOIN})"
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
    f"SUM(units) FILTER (WHERE cumulative) AS ru FROM staging WHERE {ELECTRIC} GROUP BY {_KEY}"
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


class PgCells(PgDetectionReads):
    """Records, cells, their increments and sums, from an import's staged figures."""

    async def _write(
        self,
        con: Connection,
        staged: list[tuple[Any, ...]],
        summary: ImportSummary,
        fresh: bool,
        snapshot: tuple[int, str, str, str] = (0, "", "", ""),
    ) -> None:
        """Classify the figures, upsert what changed, refresh the touched cells and sums; a
        source's first import has nothing to compare or revise and is written in set
        statements. `snapshot` (source id and name, file, `import_stream`'s snapshot) says what
        becomes of the figures the import lacks."""
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
        if snapshot[3]:
            await self._missing(con, summary, snapshot)
        await self._run(
            con,
            f"INSERT INTO records ({_KEY}, period, powertrain, cumulative, units) "
            f"SELECT {_KEY}, period, powertrain, cumulative, units FROM staging "
            f"ON CONFLICT ({_KEY}, period, powertrain) DO UPDATE SET "
            "units = excluded.units, cumulative = excluded.cumulative "
            "WHERE records.units <> excluded.units OR records.cumulative <> excluded.cumulative",
        )
        await self._refresh_cells(con)
        if summary.removed:  # emptied cells are 0 now, their increments taken off the sums
            await self._run(
                con,
                f"DELETE FROM cells c USING touched s WHERE {_CELL_JOIN} AND c.inc = 0 "
                f"AND NOT EXISTS (SELECT 1 FROM records r WHERE {_EMPTIED})",
            )

    async def _missing(
        self, con: Connection, summary: ImportSummary, snapshot: tuple[int, str, str, str]
    ) -> None:
        """A snapshot's missing figures: refused, or removed (their cells touched, so emptied
        cells count 0 and the journal tells their months)."""
        source_id, name, file, mode = snapshot
        count = int(await self._val(con, f"SELECT COUNT(*) {_MISSING}", source_id))
        if not count:
            return
        if mode == REFUSE_SHRINK:
            first = (
                await self._fetch(
                    con,
                    f"SELECT make_key, model_key, region, period {_MISSING} "
                    "ORDER BY period, make_key, model_key, region LIMIT 1",
                    source_id,
                )
            )[0]
            raise ImportFailed([shrink_refused(file, name, count, tuple(first))])
        summary.removed = count
        await self._run(
            con,
            "INSERT INTO touched SELECT DISTINCT r.source_id, r.make_key, r.model_key, "
            f"r.region, r.month {_MISSING}",
            source_id,
        )
        await self._run(
            con,
            f"DELETE FROM records r WHERE r.source_id = $1 AND NOT EXISTS "
            f"(SELECT 1 FROM staging s WHERE {_FIGURE_JOIN})",
            source_id,
        )
        await self._run(
            con,
            "UPDATE cells c SET period_units = 0, running_units = NULL FROM touched s "
            f"WHERE {_CELL_JOIN} AND NOT EXISTS (SELECT 1 FROM records r WHERE {_EMPTIED})",
        )

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
        fresh = "r.source_id IN (SELECT DISTINCT source_id FROM staging)"
        split = powertrain_cells_sql(fresh) if running else fresh_powertrain_cells_sql("pg", fresh)
        await self._run(con, split)

    async def _refresh_cells(self, con: Connection) -> None:
        """Recompute the touched cells, their series' increments, and the make/all sums."""
        await self._run(
            con,
            f"INSERT INTO cells ({_KEY}, period_units, running_units) "
            "SELECT r.source_id, r.make_key, r.model_key, r.region, r.month, "
            "COALESCE(SUM(r.units) FILTER (WHERE NOT r.cumulative), 0), "
            "SUM(r.units) FILTER (WHERE r.cumulative) "
            f"FROM touched s JOIN records r ON {_JOIN_KEY} AND r.month = s.month "
            f"WHERE r.{ELECTRIC} "
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
                *columns(updates, 6),
            )
        if make_deltas:
            await self._run(
                con,
                "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
                "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
                "$5::bigint[]) ON CONFLICT (make_key, source_id, region, month) "
                "DO UPDATE SET inc = make_cells.inc + excluded.inc",
                *columns([(*k, d) for k, d in make_deltas.items()], 5),
            )
        if all_deltas:
            await self._run(
                con,
                "INSERT INTO all_cells (source_id, region, month, inc) "
                "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) "
                "ON CONFLICT (source_id, region, month) "
                "DO UPDATE SET inc = all_cells.inc + excluded.inc",
                *columns([(*k, d) for k, d in all_deltas.items()], 4),
            )
        await self._run(con, DELETE_TOUCHED)
        await self._run(con, INSERT_TOUCHED)
