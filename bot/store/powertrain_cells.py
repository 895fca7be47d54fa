"""The powertrain split kept on write (issue 18), the same SQL on both backends.

`cells`, `make_cells` and `all_cells` count electric cars: every figure but a fuel-cell one
(BEV + PHEV, the IEA's definition, and a figure without a powertrain). `powertrain_cells` holds
each model's cells per powertrain (BEV, PHEV, FCEV; a figure without one is in none of them),
with the increments of its cumulative series, so that `powertrain:bev|phev|fcev` reads kept
aggregates, never the sales rows. A make's or all EVs' split is the sum of its models' cells.

`split_powertrains`, a migration step both backends run, creates the table, fills it from the
records, and takes the fuel-cell figures out of the electric cells of a store written before:
history is re-recorded silently, as `bot.store.key_merge.merge_spellings` does it (one history
journal entry per changed series, series states and share levels dropped, the next detection's
corrections silenced).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bot.domain.corrections import SILENT_FLAG
from bot.domain.powertrains import FUEL_CELL
from bot.domain.series import increments
from bot.store.key_merge_series import journal_history
from bot.store.migration_steps import MigrationSql

log = logging.getLogger(__name__)

# What the electric cells count: every record but a fuel-cell one.
ELECTRIC = f"powertrain <> '{FUEL_CELL}'"

_SERIES = "PARTITION BY powertrain, source_id, make_key, model_key, region"
_KEY = "powertrain, source_id, make_key, model_key, region, month"
# in the order a first import's records are read (make, model, region, month), so that writing
# the table appends, as `cells` does
PRIMARY_KEY = "make_key, model_key, region, month, powertrain, source_id"


def fresh_powertrain_cells_sql(backend: str, where: str) -> str:
    """The powertrain cells of a first import without running totals, whose increments are its
    period units: SQLite adds each record to its cell as it reads it (the rare cell of several
    records takes the upsert, as `cells` does), PostgreSQL sums them (an upsert there may not
    touch a row twice)."""
    if backend == "sqlite":
        return (
            f"INSERT INTO powertrain_cells ({_KEY}, period_units, running_units, inc) "
            f"SELECT {_KEY}, units, NULL, units FROM records r "
            f"WHERE powertrain <> '' AND ({where}) ON CONFLICT ({PRIMARY_KEY}) DO UPDATE SET "
            "period_units = period_units + excluded.period_units, inc = inc + excluded.inc"
        )
    return (
        f"INSERT INTO powertrain_cells ({_KEY}, period_units, running_units, inc) "
        f"SELECT {_KEY}, SUM(units), NULL, SUM(units) FROM records r "
        f"WHERE powertrain <> '' AND ({where}) GROUP BY {_KEY}"
    )


def powertrain_cells_sql(where: str) -> str:
    """The statement adding the powertrain cells of the records `where` says (a condition on
    `records r`), their increments computed as `series.increments` does: a cell's value is the
    latest running total at or before it (0 before the first) plus the period units since."""
    sums = (
        f"SELECT {_KEY}, "
        "COALESCE(SUM(CASE WHEN cumulative THEN 0 ELSE units END), 0) AS pu, "
        "SUM(CASE WHEN cumulative THEN units END) AS ru "
        f"FROM records r WHERE powertrain <> '' AND ({where}) GROUP BY {_KEY}"
    )
    return (
        f"INSERT INTO powertrain_cells ({_KEY}, period_units, running_units, inc) "
        f"SELECT {_KEY}, pu, ru, value - COALESCE(LAG(value) OVER ({_SERIES} ORDER BY month), 0) "
        "FROM (SELECT *, "
        f"COALESCE(MAX(ru) OVER ({_SERIES}, grp), 0) + SUM(CASE WHEN ru IS NULL THEN pu ELSE 0 "
        f"END) OVER ({_SERIES}, grp ORDER BY month ROWS UNBOUNDED PRECEDING) AS value "
        f"FROM (SELECT *, COUNT(ru) OVER ({_SERIES} ORDER BY month ROWS UNBOUNDED PRECEDING) "
        f"AS grp FROM ({sums}) AS sums) AS grouped) AS valued"
    )


# The series (source, make, model, region) an import over known figures touched: their
# powertrain cells are computed again whole.
TOUCHED_SERIES = (
    "EXISTS (SELECT 1 FROM touched t WHERE t.source_id = {table}.source_id "
    "AND t.make_key = {table}.make_key AND t.model_key = {table}.model_key "
    "AND t.region = {table}.region)"
)
DELETE_TOUCHED = "DELETE FROM powertrain_cells WHERE " + TOUCHED_SERIES.format(
    table="powertrain_cells"
)
INSERT_TOUCHED = powertrain_cells_sql(TOUCHED_SERIES.format(table="r"))


def _create(backend: str) -> str:
    number = "INTEGER" if backend == "sqlite" else "BIGINT"
    return (
        "CREATE TABLE IF NOT EXISTS powertrain_cells ("
        "powertrain TEXT NOT NULL, "
        f"source_id {number} NOT NULL REFERENCES sources (id), "
        "make_key TEXT NOT NULL, model_key TEXT NOT NULL, region TEXT NOT NULL, "
        f"month TEXT NOT NULL, period_units {number} NOT NULL, running_units {number}, "
        f"inc {number} NOT NULL DEFAULT 0, "
        f"PRIMARY KEY ({PRIMARY_KEY}))" + (" WITHOUT ROWID" if backend == "sqlite" else "")
    )


Series = tuple[int, str, str, str]  # source id, make key, model key, region
Cell = tuple[int, str, str, str, str]  # ... and month


async def split_powertrains(db: MigrationSql) -> None:
    """The migration step (see the module's doc); re-runnable: on a store already split it
    finds nothing to change and records nothing."""
    await db.run(_create(db.backend))
    await db.run("DELETE FROM powertrain_cells")
    await db.run(powertrain_cells_sql("true"))
    fuel_cell = f"powertrain = '{FUEL_CELL}'"
    series: set[Series] = {
        (int(s), str(a), str(b), str(r))
        for s, a, b, r in await db.rows(
            f"SELECT DISTINCT source_id, make_key, model_key, region FROM records WHERE {fuel_cell}"
        )
    }
    if not series:
        return
    sources = sorted({s[0] for s in series})
    marks = ", ".join("?" for _ in sources)
    old: dict[Cell, tuple[int, int | None, int]] = {
        (int(s), a, b, r, m): (int(p), None if u is None else int(u), int(i))
        for s, a, b, r, m, p, u, i in await db.rows(
            "SELECT source_id, make_key, model_key, region, month, period_units, running_units, "
            f"inc FROM cells WHERE source_id IN ({marks})",
            sources,
        )
        if (int(s), a, b, r) in series
    }
    records = [
        row
        for row in await db.rows(
            "SELECT source_id, make_key, model_key, region, month, cumulative, units "
            f"FROM records WHERE source_id IN ({marks}) AND {ELECTRIC}",
            sources,
        )
        if (int(row[0]), row[1], row[2], row[3]) in series
    ]
    new = electric_cells(records)
    if new == old:
        return
    changed = {cell[:4] for cell in set(new) ^ set(old)}
    changed |= {cell[:4] for cell in set(new) & set(old) if new[cell] != old[cell]}
    await _rewrite(db, changed, new)
    first: dict[Series, str] = {}
    for cell in (*old, *new):
        key = cell[:4]
        if key in changed and (key not in first or cell[4] < first[key]):
            first[key] = cell[4]
    await journal_history(db, first)
    await db.run("DELETE FROM series_state")
    await db.run("DELETE FROM share_levels")
    await db.run(
        "INSERT INTO store_flags (name, value) VALUES (?, '') "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (SILENT_FLAG,),
    )
    log.info(
        "fuel-cell figures taken out of the electric totals of %d series (shown with "
        "powertrain:fcev); history re-recorded silently",
        len(changed),
    )


def electric_cells(
    records: Sequence[Sequence[Any]],
) -> dict[Cell, tuple[int, int | None, int]]:
    """Cells (period units, running total, increment) of (source, make, model, region, month,
    cumulative, units) records, as an import computes them."""
    cells: dict[Cell, list[int | None]] = {}
    for source_id, make_key, model_key, region, month, cumulative, units in records:
        cell = cells.setdefault((int(source_id), make_key, model_key, region, month), [0, None])
        if cumulative:
            cell[1] = (cell[1] or 0) + int(units)
        else:
            cell[0] = (cell[0] or 0) + int(units)
    by_series: dict[Series, list[tuple[str, int, int | None]]] = defaultdict(list)
    for (source_id, make_key, model_key, region, month), (period, running) in sorted(cells.items()):
        by_series[(source_id, make_key, model_key, region)].append((month, period or 0, running))
    out: dict[Cell, tuple[int, int | None, int]] = {}
    for key, months in by_series.items():
        incs = increments([(p, r) for _, p, r in months])
        for (month, period, running), inc in zip(months, incs, strict=True):
            out[(*key, month)] = (period, running, inc)
    return out


async def _rewrite(
    db: MigrationSql,
    changed: set[Series],
    new: dict[Cell, tuple[int, int | None, int]],
) -> None:
    """The changed series' cells written again, and the make and all-EV sums they are in
    summed again from the cells (a sum left with no cell goes, as a fresh import leaves none)."""
    await db.many(
        "DELETE FROM cells WHERE source_id = ? AND make_key = ? AND model_key = ? AND region = ?",
        sorted(changed),
    )
    await db.many(
        "INSERT INTO cells (source_id, make_key, model_key, region, month, period_units, "
        "running_units, inc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(*cell, *value) for cell, value in sorted(new.items()) if cell[:4] in changed],
    )
    makes = sorted({(s, a, r) for s, a, _, r in changed})
    await db.many(
        "DELETE FROM make_cells WHERE source_id = ? AND make_key = ? AND region = ?", makes
    )
    await db.many(
        "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
        "SELECT source_id, make_key, region, month, SUM(inc) FROM cells "
        "WHERE source_id = ? AND make_key = ? AND region = ? "
        "GROUP BY source_id, make_key, region, month",
        makes,
    )
    regions = sorted({(s, r) for s, _, r in makes})
    await db.many("DELETE FROM all_cells WHERE source_id = ? AND region = ?", regions)
    await db.many(
        "INSERT INTO all_cells (source_id, region, month, inc) "
        "SELECT source_id, region, month, SUM(inc) FROM make_cells "
        "WHERE source_id = ? AND region = ? GROUP BY source_id, region, month",
        regions,
    )
