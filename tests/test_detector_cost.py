"""Detection costs what it tells: a figure of the accepted maximum (10**12 units) is detected,
recorded, fanned out and corrected with the same statements and the same rows written as a
figure of 10,000 (issue 26; `bench/detect.py` shows the time)."""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from pathlib import Path

from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.events import MilestoneEvent
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import SubscriptionSpec
from bot.ingest.fields import MAX_UNITS
from bot.store.sqlite.migrations import MIGRATIONS, V_MILESTONE_RANGES
from bot.store.sqlite.sales import SqliteStore

SOURCE = SourceSpec("feed")
HISTORY = [SalesRecord(f"2020-{m:02d}", "World", "Nissan", "Leaf", 100) for m in range(1, 7)]


def july(units: int) -> SalesRecord:
    return SalesRecord("2020-07", "World", "Nissan", "Leaf", units)


@dataclasses.dataclass(frozen=True)
class Cost:
    statements: int
    rows_written: int


async def poll_cost(store: SqliteStore, detector: Detector) -> tuple[Cost, list[MilestoneEvent]]:
    """What one poll cost: statements run, and rows inserted, updated or deleted."""
    statements, changes = store.stats.statements, store.db.total_changes
    stored = await detector.poll()
    cost = Cost(store.stats.statements - statements, store.db.total_changes - changes)
    return cost, [s.event for s in stored if isinstance(s.event, MilestoneEvent)]


async def costs_of(path: Path, figure: int) -> tuple[Cost, Cost, list[MilestoneEvent]]:
    """(the poll after importing `figure` as July's, the poll after revising it back to
    normal, the milestone events of the first) on a store with six months of history and a
    channel subscribed to everything on the default ladder and one on a few of its rungs (each
    told of both figures)."""
    config = dataclasses.replace(
        default_config(), ladders={"default": "default", "headline": (5_000, 100_000, 1_000_000)}
    )
    store = SqliteStore(path)
    await store.open()
    try:
        await store.sync_groups(config.groups)
        await store.subscribe(SubscriptionSpec(Channel("console", "w", "all"), ALL))
        await store.subscribe(
            SubscriptionSpec(Channel("console", "w", "big"), ALL, ladder="headline")
        )
        detector = Detector(store, config)
        await store.import_records([(SOURCE, HISTORY)])
        await detector.poll()
        # accepted as a jump (`--accept-jumps`): told, so its whole cost is paid (held, a
        # figure of either size would be told nothing)
        await store.import_records([(SOURCE, [july(figure)])], hold=None)
        up, events = await poll_cost(store, detector)
        await store.import_records([(SOURCE, [july(100)])])
        down, _ = await poll_cost(store, detector)
        return up, down, events
    finally:
        await store.close()


async def test_a_maximal_figure_costs_a_poll_what_ten_thousand_does(tmp_path: Path) -> None:
    normal_up, normal_down, normal = await costs_of(tmp_path / "normal.db", 10_000)
    huge_up, huge_down, huge = await costs_of(tmp_path / "huge.db", MAX_UNITS)
    assert huge_up == normal_up
    assert huge_down == normal_down
    assert normal_up.rows_written > 0 and normal_down.rows_written > 0
    # the same events, each one range: 1,000 to 10,000 against 1,000 to 10**12
    assert [e.subject.key for e in huge] == [e.subject.key for e in normal]
    assert all(e.thresholds.count == 4 for e in normal)
    assert all(e.thresholds.highest == MAX_UNITS for e in huge)
    assert all(e.thresholds.count > 1_000_000 for e in huge)


async def test_the_revision_back_is_one_correction_per_series(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    await costs_of(path, MAX_UNITS)
    store = SqliteStore(path)
    await store.open()
    try:
        log = await store.correction_log()
        # the model, its make, the Alliance and all EVs: each fell back below once, as a range
        assert sorted((r["subject"], r["reason"]) for r in log) == [
            ("Nissan", "fell_below"),
            ("Nissan Leaf", "fell_below"),
            ("Renault-Nissan Alliance", "fell_below"),
            ("all EVs", "fell_below"),
        ]
        assert {(r["lowest"], r["highest"]) for r in log} == {(1_000, MAX_UNITS)}
    finally:
        await store.close()


async def test_a_store_of_one_row_per_threshold_is_migrated_to_ranges(tmp_path: Path) -> None:
    """Rows from before ranges become ranges of one threshold, and detection goes on from
    them: nothing is announced again, and a revision corrects them as ranges."""
    path = tmp_path / "old.db"
    before = MIGRATIONS.index(V_MILESTONE_RANGES)
    with closing(sqlite3.connect(path)) as db:
        for script in MIGRATIONS[:before]:
            db.executescript(script)
        db.execute(f"PRAGMA user_version = {before}")
        db.executemany(
            "INSERT INTO milestones (subject_key, region, metric, threshold, subject_name, "
            "period, value, below, history) VALUES (?, 'World', 'sales', ?, ?, ?, ?, 0, 0)",
            [
                ("model:nissan/leaf", 1_000, "Nissan Leaf", "2020-02", 1_200),
                ("model:nissan/leaf", 2_500, "Nissan Leaf", "2020-03", 2_600),
            ],
        )
        db.execute(
            "INSERT INTO corrections (subject_key, subject_name, region, metric, threshold, "
            "reason, old_period, new_period, old_value, new_value) VALUES "
            "('model:nissan/leaf', 'Nissan Leaf', 'World', 'sales', 2500, 'moved', '2020-04', "
            "'2020-03', 2550, 2600)"
        )
        db.commit()
    store = SqliteStore(path)
    await store.open()
    try:
        leaf = await store.recorded_milestones("model:nissan/leaf", "World", "sales")
        assert sorted((r.lowest, r.highest, r.count) for r in leaf.values()) == [
            (1_000, 1_000, 1),
            (2_500, 2_500, 1),
        ]
        (moved,) = await store.correction_log()
        assert (moved["lowest"], moved["highest"], moved["count"]) == (2_500, 2_500, 1)
        # the Leaf's figures as they were; a revision takes March back below 2,500
        detector = Detector(store, default_config())
        months = [("2020-01", 600), ("2020-02", 600), ("2020-03", 1_400)]
        await store.import_records(
            [(SOURCE, [SalesRecord(p, "World", "Nissan", "Leaf", u) for p, u in months])]
        )
        await detector.poll()
        await store.import_records([(SOURCE, [july(1)])])
        await store.import_records(
            [(SOURCE, [SalesRecord("2020-03", "World", "Nissan", "Leaf", 100)])]
        )
        stored = await detector.poll()
        leaf_told = [
            s.event
            for s in stored
            if isinstance(s.event, MilestoneEvent) and s.event.subject.key == "model:nissan/leaf"
        ]
        assert leaf_told == []  # 1,000 and 2,500 were recorded: never announced again
        after = await store.recorded_milestones("model:nissan/leaf", "World", "sales")
        assert after[2_500].below and not after[1_000].below
    finally:
        await store.close()


async def test_postgresql_rows_of_one_threshold_are_migrated_to_ranges(pg_dsn: str) -> None:
    import asyncpg

    from bot.store.postgres.migrations import PG_MIGRATIONS, V_MILESTONE_RANGES
    from bot.store.postgres.sales import PgStore

    before = PG_MIGRATIONS.index(V_MILESTONE_RANGES)
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute("CREATE TABLE evbot_schema (version INTEGER NOT NULL)")
        for number, script in enumerate(PG_MIGRATIONS[:before], start=1):
            await con.execute(script)
            await con.execute("INSERT INTO evbot_schema (version) VALUES ($1)", number)
        await con.execute(
            "INSERT INTO milestones (subject_key, region, metric, threshold, subject_name, "
            "period, value, below, history) VALUES ('model:nissan/leaf', 'World', 'sales', "
            "5000, 'Nissan Leaf', '2020-03', 5100, true, false)"
        )
    finally:
        await con.close()
    store = PgStore(pg_dsn)
    await store.open()
    try:
        leaf = await store.recorded_milestones("model:nissan/leaf", "World", "sales")
        assert [(r.lowest, r.highest, r.count, r.below) for r in leaf.values()] == [
            (5_000, 5_000, 1, True)
        ]
    finally:
        await store.close()
