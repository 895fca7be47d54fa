"""The in-memory read model answers exactly as SeriesReader does, and stays current."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bot.domain.events import Subject
from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import Config, default_config
from bot.domain.subjects import ALL, Catalog
from bot.ingest.importer import import_demo
from bot.reading.queries import SeriesReader, load_catalog, period_total, region_tree, total
from bot.reading.read_model import ReadModel, Series
from bot.store.sqlite.sales import SqliteStore

REGIONS = ["USA", "WA", "France", "Europe", WORLD]


def subjects(catalog: Catalog, config: Config) -> list[Subject]:
    out: list[Subject] = [ALL]
    out += [catalog.resolve(f"{m.make} {m.model}").subject for m in catalog.models]
    out += [catalog.resolve(name).subject for name in catalog.makes.values()]
    out += [catalog.resolve(g.name).subject for g in config.groups]
    return out


async def assert_same(
    store: SqliteStore, config: Config, model: ReadModel, regions: list[str], metrics: list[str]
) -> int:
    catalog = await load_catalog(store, config)
    reader = SeriesReader(store, region_tree(config), list(config.groups))
    checked = 0
    for subject in subjects(catalog, config):
        for region in regions:
            for metric in metrics:
                monthly = await reader.monthly(subject, region, metric)
                assert model.monthly(subject, region, metric) == monthly
                assert model.series(subject, region, metric).monthly == monthly
                months = sorted(monthly)
                probes: list[Month | None] = [None, Month(2009, 1)]
                probes += months[len(months) // 3 :: max(1, len(months) // 2)]
                for as_of in probes:
                    expected = await total(reader, catalog, subject, region, as_of, metric)
                    assert model.total(subject, region, as_of, metric) == expected
                    checked += 1
                for first, last in [
                    (Month(2014, 1), Month(2014, 12)),
                    (Month(2015, 3), Month(2015, 3)),
                ]:
                    assert model.period_total(subject, region, first, last, metric) == (
                        await period_total(reader, subject, region, first, last, metric)
                    )
    return checked


async def test_equal_to_series_reader_on_the_demo_data(store: SqliteStore) -> None:
    config = default_config()
    await store.sync_groups(config.groups)
    await import_demo(store, config)
    model = ReadModel(store, config)
    await model.load()
    assert await assert_same(store, config, model, [WORLD], ["sales"]) > 20
    alliance = model.catalog.resolve("alliance").subject
    answer = model.total(alliance)
    assert answer.total == 377_700
    assert answer.breakdown[0].name == "Nissan Leaf"


def random_records(rng: random.Random, months: int = 30) -> list[SalesRecord]:
    out = []
    for make, models in [
        ("Nissan", ["Leaf", "e-NV200"]),
        ("Renault", ["Zoe"]),
        ("Mitsubishi", ["i-MiEV"]),
        ("Tesla", ["Model S"]),
    ]:
        for name in models:
            for region in ["USA", "WA", "France", "Europe"]:
                if rng.random() < 0.3:
                    continue
                for i in range(months):
                    if rng.random() < 0.2:
                        continue
                    month = Month(2015, 1).plus(i)
                    out.append(SalesRecord(str(month), region, make, name, rng.randint(0, 500)))
    return out


def running_records(rng: random.Random) -> list[SalesRecord]:
    level = 0
    out = []
    for i in range(0, 30, 3):
        level += rng.randint(100, 900)
        out.append(
            SalesRecord(str(Month(2015, 1).plus(i)), "USA", "Nissan", "Leaf", level, "", True)
        )
    return out


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.slow
async def test_equal_to_series_reader_on_random_data(store: SqliteStore, seed: int) -> None:
    rng = random.Random(seed)
    config = replace(default_config(), region_parents={"WA": "USA", "France": "Europe"})
    await store.sync_groups(config.groups)
    await store.import_records(
        [
            (SourceSpec("a", "sales", 10), random_records(rng)),
            (SourceSpec("b", "sales", 5), random_records(rng, 18)),
            (SourceSpec("run", "sales", 1), running_records(rng)),
            (SourceSpec("stock", "stock", 1), random_records(rng, 12)),
        ]
    )
    model = ReadModel(store, config)
    await model.load()
    await assert_same(store, config, model, REGIONS, ["sales", "stock"])
    # revisions and new figures: refresh catches up from the journal alone
    for subject in subjects(model.catalog, config):
        model.series(subject, WORLD)  # in use: recomputed on refresh
    before = dict(store.stats.rows_read)
    await store.import_records([(SourceSpec("a", "sales", 10), random_records(rng, 34))])
    await store.import_records([(SourceSpec("c", "sales", 20), random_records(rng, 6))])
    applied = await model.refresh()
    assert applied > 0
    assert model.watermark == await store.journal_head()
    assert store.stats.rows_read.get("records", 0) == before.get("records", 0)
    await assert_same(store, config, model, REGIONS, ["sales", "stock"])
    assert await model.refresh() == 0


async def test_refresh_picks_up_new_models_and_names(store: SqliteStore) -> None:
    config = default_config()
    await store.sync_groups(config.groups)
    await store.import_records(
        [(SourceSpec("s"), [SalesRecord("2015-01", WORLD, "Nissan", "Leaf", 10)])]
    )
    model = ReadModel(store, config)
    await model.load()
    version = model.version
    await store.import_records(
        [(SourceSpec("s"), [SalesRecord("2015-02", WORLD, "Renault", "Zoe", 7)])]
    )
    assert await model.refresh() > 0
    assert model.version > version
    zoe = model.catalog.resolve("zoe").subject
    assert model.total(zoe).total == 7
    assert model.total(ALL).total == 17
    alliance = model.catalog.resolve("alliance").subject
    assert [s.name for s in model.total(alliance).breakdown] == ["Nissan Leaf", "Renault Zoe"]


def test_series_bisect() -> None:
    s = Series.of({Month(2015, 1): 5, Month(2015, 3): 0, Month(2015, 4): 10})
    assert s.at(None) == (15, Month(2015, 4))
    assert s.at(Month(2015, 2)) == (5, Month(2015, 1))
    assert s.at(Month(2015, 3)) == (5, Month(2015, 3))
    assert s.at(Month(2014, 12)) == (0, None)
    assert s.window(Month(2015, 2), Month(2015, 4)) == 10
    assert s.window(Month(2016, 1), Month(2016, 2)) == 0
    assert s.points() == [(Month(2015, 1), 5), (Month(2015, 3), 5), (Month(2015, 4), 15)]
