"""The sales store on SQLite (aiosqlite): WAL, foreign keys, migrations on open.

Aggregates are kept up to date on write, in the import's transaction: `cells` holds each
source's period figures and running total per model, region and month, with the increment of
the model's cumulative series; `make_cells` and `all_cells` hold the same increments summed per
make and over everything. Totals therefore read a few hundred cells, never the sales rows.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.bulk import without_gc
from bot.event_codec import dedupe_key, event_from_dict, event_to_dict
from bot.milestones import Recorded
from bot.names import better_display, name_key
from bot.periods import Month, end_month
from bot.records import (
    DetectionWrite,
    GroupMember,
    GroupSpec,
    ImportSummary,
    IncRow,
    JournalEntry,
    ModelName,
    SalesRecord,
    SourceInfo,
    SourceSpec,
    StoredEvent,
)
from bot.series import increments
from bot.sqlite_outbox import SqliteOutbox
from bot.store import StoreError
from bot.subscriptions import FanoutPlan, Subscription

HISTORY_MONTHS = 3  # a change this many months older than the source's latest is history

_KEY = "source_id, make_key, model_key, region, month"
_JOIN_KEY = " AND ".join(f"r.{c} = s.{c}" for c in ("source_id", "make_key", "model_key", "region"))

# A first import's cells from its records: period units summed per month, running totals kept.
# Without running totals a cell's increment is its period units.
_CELL_SUMS = (
    "SELECT source_id, make_key, model_key, region, month, "
    "COALESCE(SUM(CASE WHEN cumulative = 0 THEN units END), 0) AS pu, "
    "SUM(CASE WHEN cumulative = 1 THEN units END) AS ru "
    "FROM records WHERE source_id = ? GROUP BY make_key, model_key, region, month"
)
_FRESH_CELLS = (
    f"INSERT INTO cells ({_KEY}, period_units, running_units, inc) "
    f"SELECT {_KEY}, pu, NULL, pu FROM ({_CELL_SUMS})"
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


class SqliteStore(SqliteOutbox):
    """`SalesStore` on one SQLite file."""

    # -- writing ----------------------------------------------------------------------------

    async def import_records(
        self,
        batches: Sequence[tuple[SourceSpec, Sequence[SalesRecord]]],
        *,
        file: str = "",
        dry_run: bool = False,
    ) -> list[ImportSummary]:
        async with self._lock:
            await self._run("BEGIN IMMEDIATE")
            try:
                summaries = [
                    await self._import(source, records, file, dry_run)
                    for source, records in batches
                ]
                await self._run("ROLLBACK" if dry_run else "COMMIT")
            except BaseException:
                await self._run("ROLLBACK")
                raise
            return summaries

    async def _import(
        self, source: SourceSpec, records: Sequence[SalesRecord], file: str, dry_run: bool
    ) -> ImportSummary:
        info = await self._ensure_source(source)
        summary = ImportSummary(
            source=source.name,
            records=len(records),
            first_import=info.imports == 0,
            dry_run=dry_run,
        )
        makes: dict[str, str] = {}
        models: dict[tuple[str, str], str] = {}
        staged = await asyncio.to_thread(without_gc, _stage_rows, info.id, records, makes, models)
        if any(r.cumulative for r in records):
            await self._run("UPDATE sources SET running = 1 WHERE id = ?", (info.id,))
        fresh = info.imports == 0 and not await self._rows(
            "SELECT 1 FROM records WHERE source_id = ? LIMIT 1", (info.id,)
        )
        if fresh:
            await self._write_fresh(info.id, staged)
            summary.new = len(staged)
        else:
            await self._write_revisions(staged, summary)
        return await self._finish_import(
            info, summary, records, makes, models, fresh, file, dry_run
        )

    async def _write_fresh(self, source_id: int, staged: list[tuple[Any, ...]]) -> None:
        """A source's first import: nothing to compare with or revise, so the figures are
        written once and their cells, increments and sums computed by SQLite in a few set
        statements (C speed; a million rows would take seconds more in Python)."""
        await self._many(
            f"INSERT INTO records ({_KEY}, period, powertrain, cumulative, units) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            staged,
        )
        running = any(row[7] for row in staged)
        await self._run(_FRESH_RUNNING_CELLS if running else _FRESH_CELLS, (source_id,))
        await self._run(
            "INSERT INTO make_cells (source_id, make_key, region, month, inc) "
            "SELECT source_id, make_key, region, month, SUM(inc) FROM cells "
            "WHERE source_id = ? GROUP BY make_key, region, month "
            "ON CONFLICT (make_key, source_id, region, month) "
            "DO UPDATE SET inc = inc + excluded.inc",
            (source_id,),
        )
        await self._run(
            "INSERT INTO all_cells (source_id, region, month, inc) "
            "SELECT source_id, region, month, SUM(inc) FROM make_cells "
            "WHERE source_id = ? GROUP BY region, month "
            "ON CONFLICT (source_id, region, month) DO UPDATE SET inc = inc + excluded.inc",
            (source_id,),
        )

    async def _write_revisions(self, staged: list[tuple[Any, ...]], summary: ImportSummary) -> None:
        """An import over known figures: classify, upsert what changed, refresh its cells."""
        await self._run("DROP TABLE IF EXISTS temp.staging")
        await self._run(
            "CREATE TEMP TABLE staging (source_id INTEGER, make_key TEXT, model_key TEXT, "
            "region TEXT, month TEXT, period TEXT, powertrain TEXT, cumulative INTEGER, "
            "units INTEGER)"
        )
        await self._many("INSERT INTO staging VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", staged)
        new, revised, unchanged = (
            await self._rows(
                "SELECT COALESCE(SUM(r.units IS NULL), 0), "
                "COALESCE(SUM(r.units != s.units OR r.cumulative != s.cumulative), 0), "
                "COALESCE(SUM(r.units = s.units AND r.cumulative = s.cumulative), 0) "
                f"FROM staging s LEFT JOIN records r ON {_JOIN_KEY} "
                "AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain"
            )
        )[0]
        summary.new, summary.revised, summary.unchanged = int(new), int(revised), int(unchanged)
        await self._run("DROP TABLE IF EXISTS temp.touched")
        await self._run(
            f"CREATE TEMP TABLE touched AS SELECT DISTINCT s.source_id, s.make_key, s.model_key, "
            f"s.region, s.month FROM staging s LEFT JOIN records r ON {_JOIN_KEY} "
            "AND r.month = s.month AND r.period = s.period AND r.powertrain = s.powertrain "
            "WHERE r.units IS NULL OR r.units != s.units OR r.cumulative != s.cumulative"
        )
        await self._run(
            f"INSERT INTO records ({_KEY}, period, powertrain, cumulative, units) "
            f"SELECT {_KEY}, period, powertrain, cumulative, units FROM staging WHERE true "
            f"ON CONFLICT ({_KEY}, period, powertrain) DO UPDATE SET "
            "units = excluded.units, cumulative = excluded.cumulative "
            "WHERE units != excluded.units OR cumulative != excluded.cumulative"
        )
        await self._refresh_cells()

    async def _finish_import(
        self,
        info: SourceInfo,
        summary: ImportSummary,
        records: Sequence[SalesRecord],
        makes: dict[str, str],
        models: dict[tuple[str, str], str],
        fresh: bool,
        file: str,
        dry_run: bool,
    ) -> ImportSummary:
        await self._save_names(makes, models)
        latest = max((end_month(r.period) for r in records), default=None)
        previous_latest = info.latest_month
        new_latest = max(filter(None, (latest, previous_latest)), default=None)
        cursor = await self._run(
            "INSERT INTO imports (source_id, file, rows_read, new, revised, unchanged, "
            "first_import) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                info.id,
                file,
                len(records),
                summary.new,
                summary.revised,
                summary.unchanged,
                int(summary.first_import),
            ),
        )
        import_id = cursor.lastrowid
        cutoff = str(new_latest.plus(-HISTORY_MONTHS)) if new_latest else ""
        before = await self.journal_head()
        if fresh:
            # a first import is all history: one entry per series, from its first month, says
            # as much to a reader as one per cell (readers re-read a changed series from the
            # earliest month they are told of) at a hundredth of the rows
            await self._run(
                "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, "
                "history) SELECT ?, source_id, make_key, model_key, region, MIN(month), 1 "
                "FROM cells WHERE source_id = ? GROUP BY make_key, model_key, region "
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
        if after > before and not dry_run:
            summary.journal_from, summary.journal_to = before + 1, after
        await self._run(
            "UPDATE sources SET imports = imports + 1, latest_month = ? WHERE id = ?",
            (str(new_latest) if new_latest else None, info.id),
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
        updates, make_deltas, all_deltas = await asyncio.to_thread(_increment_updates, rows)
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
            "SELECT id, name, metric, priority, imports, latest_month, running FROM sources "
            "ORDER BY id",
            table="sources",
        )
        return [
            SourceInfo(
                r[0], r[1], r[2], r[3], r[4], Month.parse(r[5]) if r[5] else None, bool(r[6])
            )
            for r in rows
        ]

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
        return _inc_rows(rows)

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
        return _inc_rows(rows)

    async def all_increments(self) -> list[IncRow]:
        rows = await self._rows(
            "SELECT source_id, region, '', '', month, inc FROM all_cells ORDER BY month",
            table="all_cells",
        )
        return _inc_rows(rows)

    async def every_model_increment(self) -> list[IncRow]:
        rows = await self._rows(
            "SELECT source_id, region, make_key, model_key, month, inc FROM cells "
            "WHERE model_key != '' ORDER BY month",
            table="cells",
        )
        return _inc_rows(rows)

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
        async with self._lock:
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
        """The milestones recorded for one series, by threshold."""
        rows = await self._rows(
            "SELECT threshold, period, value, below FROM milestones "
            "WHERE subject_key = ? AND region = ? AND metric = ?",
            (subject_key, region, metric),
            table="milestones",
        )
        return {r[0]: Recorded(r[0], Month.parse(r[1]), r[2], bool(r[3])) for r in rows}

    async def share_level(self, key: tuple[str, str, str, str]) -> float | None:
        """The last announced or baselined share band of (model, parent, region, metric)."""
        rows = await self._rows(
            "SELECT level FROM share_levels WHERE model_key = ? AND parent_key = ? "
            "AND region = ? AND metric = ?",
            key,
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

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
    ) -> list[StoredEvent]:
        """Record a detection, fan its news out to the outbox, and advance the watermark from
        `expected` to `new`, all in one transaction.

        Refuses (StoreError) when another detector moved the watermark meanwhile, so nothing is
        recorded twice. Returns the events that were new (an event already stored is skipped).
        """
        async with self.transaction():
            current = await self.watermark(name)
            if current != expected:
                raise StoreError(f"watermark {name!r} moved from {expected} to {current} meanwhile")
            stored = await self._write_detection(write)
            if plan_for is not None:
                await self._fan_out([s for s, _ in stored], [k for _, k in stored], plan_for, now)
            await self._run(
                "INSERT INTO watermarks (name, seq) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                (name, new),
            )
        return [s for s, _ in stored]

    async def _write_detection(
        self, write: DetectionWrite
    ) -> list[tuple[StoredEvent, Sequence[str]]]:
        await self._many(
            "INSERT INTO milestones (subject_key, region, metric, threshold, subject_name, "
            "period, value, below, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subject_key, region, metric, threshold) DO UPDATE SET "
            "period = excluded.period, value = excluded.value, below = excluded.below",
            [
                (
                    ref.subject_key,
                    ref.region,
                    ref.metric,
                    rec.threshold,
                    ref.subject_name,
                    str(rec.period),
                    rec.value,
                    int(rec.below),
                    int(history),
                )
                for ref, rec, history in write.milestones
            ],
        )
        await self._many(
            "INSERT INTO corrections (subject_key, subject_name, region, metric, threshold, "
            "reason, old_period, new_period, old_value, new_value) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    ref.subject_key,
                    ref.subject_name,
                    ref.region,
                    ref.metric,
                    c.threshold,
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
            "INSERT INTO share_levels (model_key, parent_key, region, metric, level) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_key, parent_key, region, metric) "
            "DO UPDATE SET level = excluded.level",
            [(*key, level) for key, level in write.share_levels.items()],
        )
        stored: list[tuple[StoredEvent, Sequence[str]]] = []
        keys = write.event_keys or [[event.subject.key] for event in write.events]
        for event, covering in zip(write.events, keys, strict=True):
            cursor = await self._run(
                "INSERT INTO events (dedupe_key, kind, subject_key, region, period, payload) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
                (
                    dedupe_key(event),
                    event.kind,
                    event.subject.key,
                    event.region,
                    str(event.period),
                    json.dumps(event_to_dict(event)),
                ),
            )
            if cursor.rowcount == 1 and cursor.lastrowid is not None:
                stored.append((StoredEvent(cursor.lastrowid, event), covering))
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
            "SELECT subject_name, region, metric, threshold, period, value, below, history, "
            "recorded_at FROM milestones ORDER BY period DESC, threshold DESC LIMIT ?",
            (limit,),
            table="milestones",
        )
        keys = (
            "subject",
            "region",
            "metric",
            "threshold",
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
            "SELECT subject_name, region, metric, threshold, reason, old_period, new_period, "
            "old_value, new_value, recorded_at FROM corrections ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        keys = (
            "subject",
            "region",
            "metric",
            "threshold",
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


def _stage_rows(
    source_id: int,
    records: Sequence[SalesRecord],
    makes: dict[str, str],
    models: dict[tuple[str, str], str],
) -> list[tuple[Any, ...]]:
    keys: dict[str, str] = {}  # a file repeats a few thousand names and periods a million times
    months: dict[str, str] = {}
    staged = []
    for r in records:
        make_key = keys.get(r.make)
        if make_key is None:
            make_key = keys[r.make] = name_key(r.make)
        model_key = keys.get(r.model)
        if model_key is None:
            model_key = keys[r.model] = name_key(r.model)
        month = months.get(r.period)
        if month is None:
            month = months[r.period] = str(end_month(r.period))
        if (make_key, model_key) not in models:
            makes.setdefault(make_key, r.make)
            models[(make_key, model_key)] = r.model
        staged.append(
            (
                source_id,
                make_key,
                model_key,
                r.region,
                month,
                r.period,
                r.powertrain,
                int(r.cumulative),
                r.units,
            )
        )
    return staged


def _increment_updates(
    rows: list[Any],
) -> tuple[
    list[tuple[int, int, str, str, str, str]],
    dict[tuple[int, str, str, str], int],
    dict[tuple[int, str, str], int],
]:
    """New increments for every cell of the touched series, and the deltas for the sums."""
    updates: list[tuple[int, int, str, str, str, str]] = []
    make_deltas: dict[tuple[int, str, str, str], int] = defaultdict(int)
    all_deltas: dict[tuple[int, str, str], int] = defaultdict(int)
    start = 0
    while start < len(rows):
        end = start
        series = rows[start][:4]
        while end < len(rows) and rows[end][:4] == series:
            end += 1
        chunk = rows[start:end]
        for row, inc in zip(chunk, increments([(r[5], r[6]) for r in chunk]), strict=True):
            source_id, make_key, model_key, region, month, _, _, old = row
            delta = inc - old
            if delta:
                updates.append((inc, source_id, make_key, model_key, region, month))
                make_deltas[(source_id, make_key, region, month)] += delta
                all_deltas[(source_id, region, month)] += delta
            elif old == 0 and inc == 0:
                # keep an all-zero cell visible in the sums, so the month counts as covered
                make_deltas[(source_id, make_key, region, month)] += 0
                all_deltas[(source_id, region, month)] += 0
        start = end
    return updates, make_deltas, all_deltas


_MONTHS: dict[str, Month] = {}  # "2015-06" -> Month: a few thousand at most, parsed once


def _inc_rows(rows: Iterable[Any]) -> list[IncRow]:
    out = []
    for source_id, region, make_key, model_key, month, inc in rows:
        m = _MONTHS.get(month)
        if m is None:
            m = _MONTHS[month] = Month.parse(month)
        out.append(IncRow(source_id, region, make_key, model_key, m, inc))
    return out
