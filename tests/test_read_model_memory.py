"""The read model's compact forms (issue 19, memory at size) change no answer: rows held as
columns and read a few makes at a time, series as arrays sharing their months and bases, and a
big store's powertrain rows read one make at a time."""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app.bootstrap import open_commands
from bot.commands.context import CommandContext
from bot.domain import bulk
from bot.domain.periods import Month
from bot.domain.records import IncRow, SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.reading import held_rows, read_model
from bot.reading.read_model import ReadModel, Series
from bot.reading.row_columns import Regions, by_key
from bot.store.sqlite.sales import SqliteStore
from tests.test_powertrain_split import ELECTRIC, FUEL_CELL, ask, data, world
from tests.test_read_model import REGIONS, assert_same, random_records, running_records, subjects


def test_columns_give_the_rows_back() -> None:
    june, july = Month(2015, 6), Month(2015, 7)
    rows = [
        IncRow(1, "USA", "nissan", "leaf", june, 10),
        IncRow(2, "WA", "nissan", "leaf", july, -3),
        IncRow(1, "USA", "tesla", "model s", june, 7),
        IncRow(1, "USA", "nissan", "", june, 99),  # a make's own figure, not a model's
        IncRow(1, "France", "nissan", "leaf", july, 5),  # the leaf's rows again, apart
    ]
    regions = Regions()
    held = by_key(rows, regions)
    assert sorted(held) == [("nissan", "leaf"), ("tesla", "model s")]
    assert held[("nissan", "leaf")].rows(regions) == [rows[0], rows[1], rows[4]]
    assert held[("tesla", "model s")].rows(regions) == [rows[2]]
    assert sorted(regions.names) == ["France", "USA", "WA"]  # each once
    assert by_key(rows, regions, models=False)[("nissan", "")].rows(regions) == [rows[3]]


def test_series_keep_their_increments_and_share_months_and_bases() -> None:
    monthly = {Month(2015, 3): 4, Month(2015, 1): 5, Month(2015, 4): -2}
    basis = {2015: {(WORLD, 1)}}
    a = Series.of(monthly, basis)
    b = Series.of({Month(2015, 1): 1}, {2015: {(WORLD, 1)}})
    assert a.monthly == monthly
    assert list(a.cum) == [5, 9, 7] and a.latest == Month(2015, 4)
    assert a.basis == basis and a.basis is b.basis  # one object for every series that has it
    assert list(a.peaks()) == [5, 9, 9]  # the figures fall: their running peak
    assert a.recent_points(1) == [(Month(2015, 3), 9), (Month(2015, 4), 7)]
    assert Series.of({}).monthly == {} and Series.of({}).at(None) == (0, None)


@pytest.mark.parametrize("seed", [3])
async def test_a_store_read_one_make_at_a_time_answers_the_same(
    store: SqliteStore, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(held_rows, "BATCH_ROWS", 0)  # each make's models a read of their own
    monkeypatch.setattr(held_rows, "MAKE_BATCH", 1)
    rng = random.Random(seed)
    config = replace(default_config(), region_parents={"WA": "USA", "France": "Europe"})
    await store.sync_groups(config.groups)
    await store.import_records(
        [
            (SourceSpec("a", "sales", 10), random_records(rng)),
            (SourceSpec("run", "sales", 1), running_records(rng)),
            (SourceSpec("stock", "stock", 1), random_records(rng, 12)),
        ]
    )
    statements = store.stats.statements
    model = ReadModel(store, config)
    await model.load()
    makes = {m.make_key for m in model.catalog.models}
    assert len(makes) > 2 and store.stats.statements - statements > 2 * len(makes)
    await assert_same(store, config, model, REGIONS, ["sales", "stock"])
    shared: dict[Month, Month] = {}
    for subject in subjects(model.catalog, config):
        for month in model.series(subject, WORLD).months:  # one Month object a month
            assert shared.setdefault(month, month) is month
    assert len(shared) > 12
    await store.import_records([(SourceSpec("a", "sales", 10), random_records(rng, 34))])
    assert await model.refresh() > 0
    await assert_same(store, config, model, REGIONS, ["sales", "stock"])


@pytest.fixture
async def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CommandContext]:
    """The powertrain split's store, held as a big store is: powertrains read make by make."""
    monkeypatch.setattr(held_rows, "BATCH_ROWS", 0)
    config = default_config()
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        await store.sync_groups(config.groups)
        await store.import_records([(SourceSpec("press", "sales", 1), world())])
        yield await open_commands(store, config)


async def test_a_big_store_reads_a_powertrain_one_make_at_a_time(big: CommandContext) -> None:
    store = big.model.store
    assert isinstance(store, SqliteStore)
    statements = store.stats.statements
    assert data(await ask(big, "/ev-total powertrain:bev"))["total"] == 6 * 1_300
    # Hyundai, Nissan, Toyota and the country totals (make ""), one read each
    assert store.stats.statements - statements >= 4
    assert data(await ask(big, "/ev-total powertrain:fcev"))["total"] == FUEL_CELL
    assert data(await ask(big, "/ev-total toyota powertrain:fcev"))["total"] == 600
    assert data(await ask(big, "/ev-total hyundai kona powertrain:bev"))["total"] == 1_800
    assert data(await ask(big, "/ev-total"))["total"] == ELECTRIC
    # a refresh touching many models re-reads the touched makes (and empties what went away)
    many = [SalesRecord("2023-07", WORLD, "Make", f"Model {i}", 10, "BEV") for i in range(60)]
    many.append(SalesRecord("2023-06", WORLD, "Toyota", "Mirai", 0, "FCEV"))
    await store.import_records([(SourceSpec("press", "sales", 1), many)])
    await big.model.refresh()
    assert data(await ask(big, "/ev-total powertrain:bev"))["total"] == 6 * 1_300 + 600
    assert data(await ask(big, "/ev-total powertrain:fcev"))["total"] == FUEL_CELL - 100
    assert data(await ask(big, "/ev-total make powertrain:bev"))["total"] == 600
    assert data(await ask(big, "/ev-total"))["total"] == ELECTRIC + 600


async def test_a_refresh_during_a_powertrain_s_first_read_leaves_no_make_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big store's powertrain is read a make at a time; an import and another command's
    refresh landing between two makes must not leave the makes read before them stale."""
    from bot.domain.events import Subject
    from bot.domain.subjects import SubjectKey

    config = default_config()
    async with SqliteStore(tmp_path / "race.sqlite3") as store:
        await store.sync_groups(config.groups)
        first = [SalesRecord("2023-01", WORLD, make, "M", 100, "BEV") for make in ("Aaa", "Bbb")]
        await store.import_records([(SourceSpec("s"), first)])
        model = ReadModel(store, config)
        await model.load()
        monkeypatch.setattr(held_rows, "BATCH_ROWS", 0)  # read as a big store is
        read_one = store.powertrain_increments
        refreshes: list[asyncio.Task[int]] = []

        async def then_an_import(*args: str) -> list[IncRow]:
            rows = await read_one(*args)
            if args[1:2] == ("aaa",):  # Aaa read; its revision lands before Bbb is
                revised = [SalesRecord("2023-02", WORLD, "Aaa", "M", 999, "BEV")]
                await store.import_records([(SourceSpec("s"), revised)])
                refreshes.append(asyncio.create_task(model.refresh()))
                # room for the refresh to run to its end, were it let (it waits for the read)
                await asyncio.wait(refreshes, timeout=0.5)
            return rows

        monkeypatch.setattr(store, "powertrain_increments", then_an_import)
        await model.ensure_powertrain("BEV")
        await asyncio.gather(*refreshes)
        aaa = Subject("make", SubjectKey.for_make("aaa"), "Aaa")
        assert refreshes and model.monthly(aaa, WORLD, "sales:BEV") == model.monthly(
            aaa, WORLD, "sales"
        )
        assert model.monthly(aaa, WORLD, "sales:BEV") == {Month(2023, 1): 100, Month(2023, 2): 999}


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector's thresholds and frozen objects as they were, after the test."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
async def test_a_big_model_is_kept_out_of_collections_and_full_ones_are_rare(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.import_records([(SourceSpec("s"), running_records(random.Random(1)))])
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)  # Python's own
    small = ReadModel(store, default_config())
    await small.load()  # below SETTLE_ROWS: cheap to walk, left alone
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == (700, 10, 10)
    monkeypatch.setattr(read_model, "SETTLE_ROWS", 1)
    big = ReadModel(store, default_config())
    await big.load()
    assert gc.get_freeze_count() > 0  # the model is frozen
    # the answers kept from it are walked by a full collection ten times less often
    assert gc.get_threshold() == (700, 10, bulk.FULL_COLLECTION_AFTER)
    assert bulk.FULL_COLLECTION_AFTER >= 100
