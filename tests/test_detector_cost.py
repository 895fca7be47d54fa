"""Detection costs what it tells: a figure of the accepted maximum (10**12 units) is detected,
recorded, fanned out and corrected with the same statements and the same rows written as a
figure of 10,000 (issue 26; `bench/detect.py` shows the time)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.config import default_config
from bot.delivery import Channel
from bot.detector import Detector
from bot.events import MilestoneEvent
from bot.ingest import MAX_UNITS
from bot.records import SalesRecord, SourceSpec
from bot.sqlite_store import SqliteStore
from bot.subjects import ALL
from bot.subscriptions import SubscriptionSpec

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
        await store.import_records([(SOURCE, [july(figure)])])
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
