"""One key, one spelling in a store written before regions and sources compared by `name_key`.

Such a store may hold `Chile` and `chile` as two regions (the world counted both) or `Press` and
`press` as two sources. `merge_spellings`, a migration step both backends run in their migration's
transaction, makes each such set one key:

- The kept spelling is chosen by `better_display`, first seen first (regions in the order the
  journal first met them, sources by id); a merged source keeps the lowest id.
- Where two spellings hold the same figure (same source after the merge, make, model, region,
  month, period and powertrain), the one an import wrote last stands, as a re-import of the key
  revises it: records keep no import order of their own, so "last" is the higher journal number
  of the (source, spelling) pair the row was stored under (`journal.seq` only grows); ties, which
  only a store without a journal has, go to the higher source id, then the later spelling.
- The cells, make sums and all-EV sums of every merged (source, region) are computed again from
  the records, so totals count each figure once.
- Every merged series gets one journal entry marked history from its first month: the next poll
  reads it whole and records what it finds without announcing it, and the corrections that
  detection makes are silenced by `SILENT_FLAG` (recorded in the log, told to no one).
- Milestones of a merged region become one series' (where two ranges overlap the earlier crossing
  stays), corrections follow the name, share levels are dropped (the next observation is a
  silent baseline), events are renamed (payload and dedupe key, unless another event holds that
  key), subscriptions of one channel and subject merge into the oldest (its digest keeps the
  others' items), and every series state is dropped (a cache: the next poll reads whole).
- Sources of one key but different metrics (sales, stock) cannot be one source: they stay apart,
  with a warning.

Each merge is logged: which names became which, and how many rows of each table it moved.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from bot.domain.corrections import SILENT_FLAG
from bot.domain.names import better_display, name_key
from bot.domain.periods import decode_years, encode_years
from bot.domain.regions import WORLD
from bot.domain.series import increments
from bot.store.key_merge_series import (
    journal_history,
    merge_milestones,
    merge_subscriptions,
    rename_events,
)
from bot.store.migration_steps import MigrationSql

log = logging.getLogger(__name__)

REGION_TABLES = (
    "records",
    "cells",
    "make_cells",
    "all_cells",
    "journal",
    "milestones",
    "corrections",
    "share_levels",
    "events",
    "subscriptions",
    "series_state",
)
SOURCE_TABLES = ("records", "cells", "make_cells", "all_cells", "imports", "journal")


def plan_merges(names: Iterable[str], fixed: Iterable[str] = ()) -> dict[str, str]:
    """Which names merge into which: `{old: kept}` for every name that shares its `name_key`
    with another, the kept spelling chosen by `better_display` in the order given (first seen
    first), or the `fixed` name of that key (the built-in `World`). A name alone under its key is
    left as it is."""
    groups: dict[str, list[str]] = {}
    for name in names:
        group = groups.setdefault(name_key(name), [])
        if name not in group:
            group.append(name)
    pinned = {name_key(name): name for name in fixed}
    out: dict[str, str] = {}
    for key, group in groups.items():
        if len(group) < 2:
            continue
        kept: str | None = pinned.get(key)
        if kept is None:
            for name in group:
                kept = better_display(kept, name)
        assert kept is not None
        out.update({name: kept for name in group if name != kept})
    return out


def plan_source_merges(
    sources: Sequence[tuple[int, str, str]],
) -> tuple[dict[int, int], dict[int, str]]:
    """From (id, name, metric) rows: `{old id: kept id}` for the sources that merge (the lowest
    id of a key and metric stays), and the kept sources' names."""
    by_key: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    metrics: dict[str, set[str]] = defaultdict(set)
    for source_id, name, metric in sorted(sources):
        by_key[(name_key(name), metric)].append((source_id, name))
        metrics[name_key(name)].add(metric)
    for key, found in metrics.items():
        if len(found) > 1:
            names = sorted(n for i, n, m in sources if name_key(n) == key)
            log.warning(
                "sources %s differ only in spelling but hold %s figures: left apart (import "
                "them under names of their own)",
                ", ".join(repr(n) for n in names),
                " and ".join(sorted(found)),
            )
    moves: dict[int, int] = {}
    names_kept: dict[int, str] = {}
    for group in by_key.values():
        if len(group) < 2:
            continue
        kept_id = group[0][0]
        kept: str | None = None
        for source_id, name in group:
            kept = better_display(kept, name)
            if source_id != kept_id:
                moves[source_id] = kept_id
        assert kept is not None
        names_kept[kept_id] = kept
    return moves, names_kept


async def merge_spellings(db: MigrationSql) -> None:
    """The migration step: make keys equal under `name_key` one key (see the module's doc)."""
    sources = [
        (int(i), str(n), str(m))
        for i, n, m in await db.rows("SELECT id, name, metric FROM sources")
    ]
    source_moves, source_names = plan_source_merges(sources)
    first_seen = {
        str(r): int(s)
        for r, s in await db.rows("SELECT region, MIN(seq) FROM journal GROUP BY region")
    }
    regions: set[str] = set(first_seen)
    for table in REGION_TABLES:
        regions.update(str(r) for (r,) in await db.rows(f"SELECT DISTINCT region FROM {table}"))
    in_order = sorted(regions, key=lambda r: (r not in first_seen, first_seen.get(r, 0), r))
    region_moves = plan_merges(in_order, fixed=(WORLD,))
    if not source_moves and not region_moves:
        return
    ids = sorted({*source_moves, *source_moves.values()})
    spellings = sorted({*region_moves, *region_moves.values()})
    where, params = _where(ids, spellings)
    counts = await _counts(db, source_moves, region_moves)
    ranks = {
        (int(s), str(r)): int(q)
        for s, r, q in await db.rows(
            "SELECT source_id, region, MAX(seq) FROM journal GROUP BY source_id, region"
        )
    }
    revised = await _merge_records(db, where, params, source_moves, region_moves, ranks)
    for table in ("cells", "make_cells", "all_cells"):
        await db.run(f"DELETE FROM {table} WHERE {where}", params)
    series_from = await _write_cells(db, where, params)
    for old, kept_id in source_moves.items():
        for table in ("imports", "journal"):
            await db.run(f"UPDATE {table} SET source_id = ? WHERE source_id = ?", (kept_id, old))
    for old_region, kept_region in region_moves.items():
        await db.run("UPDATE journal SET region = ? WHERE region = ?", (kept_region, old_region))
    await _merge_sources(db, source_moves, source_names)
    await journal_history(db, series_from)
    if region_moves:
        await merge_milestones(db, region_moves)
        for old_region, kept_region in region_moves.items():
            await db.run(
                "UPDATE corrections SET region = ? WHERE region = ?", (kept_region, old_region)
            )
        marks = ", ".join("?" for _ in spellings)
        await db.run(f"DELETE FROM share_levels WHERE region IN ({marks})", spellings)
        await rename_events(db, region_moves)
        await merge_subscriptions(db, region_moves)
    await db.run("DELETE FROM series_state")
    await db.run(
        "INSERT INTO store_flags (name, value) VALUES (?, '') "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (SILENT_FLAG,),
    )
    names = {i: n for i, n, _ in sources}
    for old, kept_id in sorted(source_moves.items()):
        log.info(
            "merged source %r (id %d) into %r (id %d): %s",
            names[old],
            old,
            source_names[kept_id],
            kept_id,
            _said(counts[("source", str(old))], revised.get(("source", str(old)), 0)),
        )
    for kept_id, kept_name in sorted(source_names.items()):
        if kept_name != names[kept_id]:
            log.info("source %r (id %d) renamed %r", names[kept_id], kept_id, kept_name)
    for old_region, kept_region in sorted(region_moves.items()):
        log.info(
            "merged region %r into %r: %s",
            old_region,
            kept_region,
            _said(counts[("region", old_region)], revised.get(("region", old_region), 0)),
        )


def _where(ids: Sequence[int], spellings: Sequence[str]) -> tuple[str, list[Any]]:
    """Rows of the merged sources or the merged regions (before the merge, or after)."""
    parts: list[str] = []
    params: list[Any] = []
    if ids:
        parts.append(f"source_id IN ({', '.join('?' for _ in ids)})")
        params.extend(ids)
    if spellings:
        parts.append(f"region IN ({', '.join('?' for _ in spellings)})")
        params.extend(spellings)
    return " OR ".join(parts), params


async def _counts(
    db: MigrationSql, source_moves: dict[int, int], region_moves: dict[str, str]
) -> dict[tuple[str, str], dict[str, int]]:
    """Rows per table under each name that goes, for the log."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    if source_moves:
        olds = sorted(source_moves)
        marks = ", ".join("?" for _ in olds)
        for table in SOURCE_TABLES:
            found: dict[Any, Any] = {
                r[0]: r[1]
                for r in await db.rows(
                    f"SELECT source_id, COUNT(*) FROM {table} WHERE source_id IN ({marks}) "
                    "GROUP BY source_id",
                    olds,
                )
            }
            for old in olds:
                counts[("source", str(old))][table] = int(found.get(old, 0))
    if region_moves:
        regions = sorted(region_moves)
        marks = ", ".join("?" for _ in regions)
        for table in REGION_TABLES:
            found = {
                r[0]: r[1]
                for r in await db.rows(
                    f"SELECT region, COUNT(*) FROM {table} WHERE region IN ({marks}) "
                    "GROUP BY region",
                    regions,
                )
            }
            for region in regions:
                counts[("region", region)][table] = int(found.get(region, 0))
    return counts


def _said(counts: dict[str, int], revised: int) -> str:
    moved = [f"{table} {n}" for table, n in counts.items() if n]
    if revised:
        moved.append(f"{revised} records of one key in both: the later import's stands")
    return ", ".join(moved) or "no rows"


def _record_columns(db: MigrationSql) -> str:
    base = "source_id, make_key, model_key, region, month, period, powertrain, cumulative, units"
    return base + (", line" if db.backend == "sqlite" else "")


async def _merge_records(
    db: MigrationSql,
    where: str,
    params: list[Any],
    source_moves: dict[int, int],
    region_moves: dict[str, str],
    ranks: dict[tuple[int, str], int],
) -> dict[tuple[str, str], int]:
    """Rewrite the records of the merged names under the kept ones; of two for one key the
    later import's stands. Returns, per name that goes, how many keys it shared so."""
    columns = _record_columns(db)
    rows = await db.rows(f"SELECT {columns} FROM records WHERE {where}", params)
    best: dict[tuple[Any, ...], tuple[tuple[int, int, str], list[Any]]] = {}
    lost: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        source_id, region = int(row[0]), str(row[3])
        new = [
            source_moves.get(source_id, source_id),
            *row[1:3],
            region_moves.get(region, region),
            *row[4:],
        ]
        key = tuple(new[:7])
        rank = (ranks.get((source_id, region), 0), source_id, region)
        held = best.get(key)
        if held is not None:
            # one key in two spellings: counted under the name (or source) that goes
            for side in (held[0], rank):
                if side[1] in source_moves:
                    lost[("source", str(side[1]))] += 1
                if side[2] in region_moves:
                    lost[("region", side[2])] += 1
            if rank < held[0]:
                continue
        best[key] = (rank, new)
    await db.run(f"DELETE FROM records WHERE {where}", params)
    marks = ", ".join("?" for _ in columns.split(","))
    await db.many(
        f"INSERT INTO records ({columns}) VALUES ({marks})", [row for _, row in best.values()]
    )
    return dict(lost)


async def _write_cells(
    db: MigrationSql, where: str, params: list[Any]
) -> dict[tuple[int, str, str, str], str]:
    """Compute the cells, make sums and all-EV sums of the merged records again, as an import
    does; returns each series' first month."""
    rows = await db.rows(
        f"SELECT source_id, make_key, model_key, region, month, cumulative, units FROM records "
        f"WHERE ({where}) AND powertrain <> 'FCEV'",  # electric cars: not the fuel-cell ones
        params,
    )
    cells: dict[tuple[int, str, str, str, str], list[int | None]] = {}
    for source_id, make_key, model_key, region, month, cumulative, units in rows:
        cell = cells.setdefault((int(source_id), make_key, model_key, region, month), [0, None])
        if cumulative:
            cell[1] = (cell[1] or 0) + int(units)
        else:
            cell[0] = (cell[0] or 0) + int(units)
    series: dict[tuple[int, str, str, str], list[tuple[str, int, int | None]]] = defaultdict(list)
    for (source_id, make_key, model_key, region, month), (period, running) in sorted(cells.items()):
        series[(source_id, make_key, model_key, region)].append((month, period or 0, running))
    cell_rows: list[tuple[Any, ...]] = []
    make_sums: dict[tuple[int, str, str, str], int] = defaultdict(int)
    all_sums: dict[tuple[int, str, str], int] = defaultdict(int)
    for (source_id, make_key, model_key, region), months in series.items():
        incs = increments([(p, r) for _, p, r in months])
        for (month, period, running), inc in zip(months, incs, strict=True):
            cell_rows.append((source_id, make_key, model_key, region, month, period, running, inc))
            make_sums[(source_id, make_key, region, month)] += inc
            all_sums[(source_id, region, month)] += inc
    await db.many(
        "INSERT INTO cells (source_id, make_key, model_key, region, month, period_units, "
        "running_units, inc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        cell_rows,
    )
    await db.many(
        "INSERT INTO make_cells (source_id, make_key, region, month, inc) VALUES (?, ?, ?, ?, ?)",
        [(*k, v) for k, v in sorted(make_sums.items())],
    )
    await db.many(
        "INSERT INTO all_cells (source_id, region, month, inc) VALUES (?, ?, ?, ?)",
        [(*k, v) for k, v in sorted(all_sums.items())],
    )
    return {key: months[0][0] for key, months in series.items()}


async def _merge_sources(
    db: MigrationSql, source_moves: dict[int, int], source_names: dict[int, str]
) -> None:
    """One source row per merged set: imports summed, latest month and years of both."""
    if not source_moves:
        return
    members: dict[int, list[int]] = defaultdict(list)
    for old, kept_id in source_moves.items():
        members[kept_id].append(old)
    for kept_id, olds in sorted(members.items()):
        group = [kept_id, *sorted(olds)]
        marks = ", ".join("?" for _ in group)
        rows = await db.rows(
            f"SELECT imports, latest_month, running, yearly FROM sources WHERE id IN ({marks})",
            group,
        )
        kept_running = (await db.rows("SELECT running FROM sources WHERE id = ?", (kept_id,)))[0][0]
        imports = sum(int(r[0]) for r in rows)
        latest = max((str(r[1]) for r in rows if r[1]), default=None)
        running = type(kept_running)(any(bool(r[2]) for r in rows))
        yearly = encode_years(set().union(*(decode_years(r[3]) for r in rows)))
        marks = ", ".join("?" for _ in olds)
        await db.run(f"DELETE FROM sources WHERE id IN ({marks})", sorted(olds))
        await db.run(
            "UPDATE sources SET name = ?, imports = ?, latest_month = ?, running = ?, yearly = ? "
            "WHERE id = ?",
            (source_names[kept_id], imports, latest, running, yearly, kept_id),
        )
