"""A store written before the powertrain split counted fuel-cell cars in every total, milestone
and announcement. On open, `split_powertrains` takes them out (electric cars are BEV + PHEV) and
fills the powertrain cells; the next poll re-records the history and tells no one.

The old store is written by this version, then its aggregates are put back to what the old
code kept (every powertrain summed into `cells`, `make_cells` and `all_cells`, no
`powertrain_cells`) and its schema version set back to before the step: exactly what an older
evbot left. Detection runs on those old aggregates, so its milestones counted fuel-cell cars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.detection.detector import Detector
from bot.domain.corrections import SILENT_FLAG
from bot.domain.events import Subject
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.domain.subjects import SubjectKey
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.postgres.migrations import PG_MIGRATIONS
from bot.store.powertrain_cells import split_powertrains
from bot.store.sqlite.migrations import MIGRATIONS
from tests.test_corrections import Recorder, worker
from tests.test_key_migration import HERE, Backend, Store

BEFORE = MIGRATIONS.index(split_powertrains)
PG_BEFORE = PG_MIGRATIONS.index(split_powertrains)
HYUNDAI = Subject("make", SubjectKey.for_make("hyundai"), "Hyundai")

BASE = [SalesRecord("2019-12", WORLD, "Kia", "EV6", 1, "BEV")]  # a first import: history
# Hyundai reaches 2,500 only with its fuel-cell Nexo: announced by the old code
NEWS = [
    SalesRecord("2020-01", WORLD, "Hyundai", "Kona", 2_200, "BEV"),
    SalesRecord("2020-01", WORLD, "Hyundai", "Nexo", 400, "FCEV"),
]
BATCHES = [("s", BASE), ("s", NEWS)]

# what the old code kept: every powertrain summed (the sources here give period figures only)
OLD_AGGREGATES = [
    "DELETE FROM cells",
    "DELETE FROM make_cells",
    "DELETE FROM all_cells",
    "INSERT INTO cells (source_id, make_key, model_key, region, month, period_units, "
    "running_units, inc) SELECT source_id, make_key, model_key, region, month, SUM(units), NULL, "
    "SUM(units) FROM records GROUP BY source_id, make_key, model_key, region, month",
    "INSERT INTO make_cells (source_id, make_key, region, month, inc) SELECT source_id, "
    "make_key, region, month, SUM(inc) FROM cells GROUP BY source_id, make_key, region, month",
    "INSERT INTO all_cells (source_id, region, month, inc) SELECT source_id, region, month, "
    "SUM(inc) FROM make_cells GROUP BY source_id, region, month",
]


@pytest.fixture(params=["sqlite", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Backend]:
    if request.param == "sqlite":
        return lambda name: Backend("sqlite", str(tmp_path / f"{name}.sqlite3"))
    dsn = request.getfixturevalue("pg_dsn")
    return lambda name: (
        Backend("postgres", dsn)
        if name == "old"
        else Backend("sqlite", str(tmp_path / f"{name}.sqlite3"))
    )


async def _as_old(backend: Backend) -> None:
    for statement in OLD_AGGREGATES:
        await backend.sql(statement)


async def _old_store(backend: Backend) -> None:
    async with backend.store() as store:
        await store.sync_groups(default_config().groups)
        await store.subscribe(SubscriptionSpec(HERE, HYUNDAI, charts=False))
        detector = Detector(store, default_config())
        for source, records in BATCHES:
            await store.import_records([(SourceSpec(source), records)])
            await _as_old(backend)
            await detector.poll()
            await worker(store, Recorder()).drain()
    await backend.sql("DROP TABLE powertrain_cells")
    if backend.kind == "sqlite":
        await backend.sql(f"PRAGMA user_version = {BEFORE}")
    else:
        await backend.sql(f"DELETE FROM evbot_schema WHERE version > {PG_BEFORE}")


async def _figures(store: Store) -> tuple[list[tuple[Any, ...]], ...]:
    names = {s.id: s.name for s in await store.sources()}

    def plain(rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (names[r.source_id], r.region, r.make_key, r.model_key, str(r.month), r.inc)
            for r in rows
        )

    return (
        plain(await store.every_model_increment()),
        plain(await store.make_increments(["hyundai", "kia"])),
        plain(await store.all_increments()),
        plain(await store.powertrain_increments("FCEV")),
        plain(await store.powertrain_increments("BEV")),
    )


async def test_fuel_cell_figures_leave_the_totals_and_nothing_is_told(
    place: Callable[[str], Backend],
) -> None:
    old = place("old")
    await _old_store(old)
    # as the old code kept it: Hyundai at 2,600, its 2,500 milestone announced
    assert await old.sql("SELECT SUM(inc) FROM make_cells WHERE make_key = 'hyundai'") == [(2_600,)]
    told = await old.count("deliveries")
    assert told >= 1
    async with place("new").store() as fresh:
        await fresh.sync_groups(default_config().groups)
        for source, records in BATCHES:
            await fresh.import_records([(SourceSpec(source), records)])
        reference = await _figures(fresh)
    async with old.store() as store:
        assert await _figures(store) == reference  # as this version makes them
        assert sum(r.inc for r in await store.make_increments(["hyundai"])) == 2_200
        flags = await old.sql(f"SELECT name FROM store_flags WHERE name = '{SILENT_FLAG}'")
        assert len(flags) == 1
        corrected = len(await store.correction_log())
        events = await Detector(store, default_config()).poll()
        await worker(store, Recorder()).drain()
        assert [e.event.kind for e in events if e.event.kind != "correction"] == []
        assert len(await store.correction_log()) > corrected  # recorded, told to no one
        assert await old.count("deliveries") == told
        assert await old.sql("SELECT name FROM store_flags") == []
    # opened again: the step is not run twice, and a replay of it changes nothing
    async with old.store() as store:
        assert await _figures(store) == reference
    if old.kind == "sqlite":
        await old.sql(f"PRAGMA user_version = {BEFORE}")
        before = await old.count("journal")
        async with old.store() as store:
            assert await _figures(store) == reference
        assert await old.count("journal") == before  # nothing to re-record
        assert await old.sql("SELECT name FROM store_flags") == []


async def test_a_store_without_fuel_cell_figures_is_left_as_it_was(tmp_path: Path) -> None:
    backend = Backend("sqlite", str(tmp_path / "plain.sqlite3"))
    async with backend.store() as store:
        await store.import_records([(SourceSpec("s"), BASE)])
    journal = await backend.count("journal")
    await backend.sql(f"PRAGMA user_version = {BEFORE}")
    async with backend.store() as store:
        assert await store.schema_version() == len(MIGRATIONS)
        assert [r.inc for r in await store.powertrain_increments("BEV")] == [1]
        assert [r.inc for r in await store.all_increments()] == [1]
    assert await backend.count("journal") == journal
    assert await backend.sql("SELECT name FROM store_flags") == []
