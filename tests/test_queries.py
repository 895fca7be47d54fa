"""Questions about the figures: totals, breakdowns, period changes, and naming the subject."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from bot.domain.events import Subject
from bot.domain.periods import Month
from bot.domain.records import GroupMember, GroupSpec, ModelName, SalesRecord, SourceSpec
from bot.domain.settings import Config, default_config
from bot.domain.subjects import ALL, Catalog, UnknownSubject
from bot.ingest.importer import import_demo
from bot.reading.queries import (
    SeriesReader,
    TotalAnswer,
    load_catalog,
    period_total,
    region_tree,
    total,
)
from bot.store.sqlite.sales import SqliteStore

SALES = SourceSpec("monthly")


def rec(
    period: str,
    units: int,
    make: str = "Nissan",
    model: str = "Leaf",
    region: str = "World",
    cumulative: bool = False,
) -> SalesRecord:
    return SalesRecord(period, region, make, model, units, "", cumulative)


def months(
    year: int, units: int, make: str = "Nissan", model: str = "Leaf", region: str = "World"
) -> list[SalesRecord]:
    return [rec(f"{year}-{m:02d}", units, make, model, region) for m in range(1, 13)]


class Asker:
    """A store, its configuration and catalog: asks totals the way the CLI does."""

    def __init__(self, store: SqliteStore, config: Config) -> None:
        self.store = store
        self.config = config
        self.catalog = Catalog()
        self.reader = SeriesReader(store, region_tree(config), list(config.groups))

    async def load(self, *batches: tuple[SourceSpec, Sequence[SalesRecord]]) -> Asker:
        if batches:
            await self.store.import_records(list(batches))
        self.catalog = await load_catalog(self.store, self.config)
        return self

    def subject(self, name: str) -> Subject:
        return self.catalog.resolve(name).subject

    async def total(
        self, name: str, region: str = "World", as_of: str | None = None, metric: str = "sales"
    ) -> TotalAnswer:
        subject = ALL if name == "all" else self.subject(name)
        month = Month.parse(as_of) if as_of else None
        return await total(self.reader, self.catalog, subject, region, month, metric)

    async def units(
        self, name: str, region: str = "World", as_of: str | None = None, metric: str = "sales"
    ) -> int:
        return (await self.total(name, region, as_of, metric)).total


def config(**changes: object) -> Config:
    return replace(default_config(), **changes)  # type: ignore[arg-type]


# -- totals ---------------------------------------------------------------------------------


async def test_total_as_of_a_month(store: SqliteStore) -> None:
    ask = await Asker(store, config()).load((SALES, months(2014, 100) + months(2015, 200)))
    answer = await ask.total("nissan leaf", as_of="2015-03")
    assert (answer.total, answer.as_of, answer.region, answer.metric) == (
        1800,
        Month(2015, 3),
        "World",
        "sales",
    )
    assert answer.subject == Subject("model", "model:nissan/leaf", "Nissan Leaf")
    assert await ask.units("nissan leaf") == 3600
    assert (await ask.total("nissan leaf", as_of="2016-06")).as_of == Month(2015, 12)
    before = await ask.total("nissan leaf", as_of="2013-12")
    assert (before.total, before.as_of) == (0, None)


async def test_total_in_a_region_and_of_a_make(store: SqliteStore) -> None:
    ask = await Asker(store, config()).load(
        (
            SALES,
            months(2014, 10, region="Norway")
            + months(2014, 5, region="France")
            + months(2014, 1, "Nissan", "e-NV200", "France")
            + months(2014, 3, "Tesla", "Model S", "Norway"),
        )
    )
    assert await ask.units("nissan leaf", "Norway") == 120
    assert await ask.units("nissan leaf", "France") == 60
    assert await ask.units("nissan leaf") == 180  # the world is the sum of the countries
    assert await ask.units("nissan", "France") == 72
    assert await ask.units("all", "Norway") == 156
    assert await ask.units("all") == 228
    assert await ask.units("tesla", "France") == 0


async def test_breakdown_shares_sum_to_one(store: SqliteStore) -> None:
    ask = await Asker(store, config()).load(
        (
            SALES,
            months(2014, 75)
            + months(2014, 20, "Renault", "Zoe")
            + months(2014, 5, "Renault", "Twizy")
            + months(2014, 9, "Tesla", "Model S"),
        )
    )
    answer = await ask.total("Renault-Nissan Alliance")
    assert answer.total == 1200
    assert [(s.name, s.units) for s in answer.breakdown] == [
        ("Nissan Leaf", 900),
        ("Renault Zoe", 240),
        ("Renault Twizy", 60),
    ]
    assert [round(s.share, 4) for s in answer.breakdown] == [0.75, 0.2, 0.05]
    assert sum(s.share for s in answer.breakdown) == pytest.approx(1)
    make = await ask.total("renault", as_of="2014-06")
    assert [(s.name, s.units, round(s.share, 4)) for s in make.breakdown] == [
        ("Renault Zoe", 120, 0.8),
        ("Renault Twizy", 30, 0.2),
    ]
    assert (await ask.total("nissan leaf")).breakdown == []
    breakdown = answer.as_json()["breakdown"]
    assert isinstance(breakdown, list)
    assert breakdown[0] == {"model": "Nissan Leaf", "units": 900, "share": 0.75}


async def test_period_totals_against_a_year_earlier(store: SqliteStore) -> None:
    ask = await Asker(store, config()).load((SALES, months(2014, 100) + months(2015, 120)))
    leaf = ask.subject("nissan leaf")
    answer = await period_total(ask.reader, leaf, "World", Month(2015, 1), Month(2015, 5))
    assert (answer.units, answer.previous) == (600, 500)
    assert answer.change == pytest.approx(0.2)
    first = await period_total(ask.reader, leaf, "World", Month(2014, 1), Month(2014, 12))
    assert (first.units, first.previous, first.change) == (1200, 0, None)
    month = await period_total(ask.reader, leaf, "World", Month(2015, 2), Month(2015, 2))
    assert (month.units, month.previous) == (120, 100)


async def test_demo_data_public_figures(store: SqliteStore) -> None:
    ask = Asker(store, config())
    await import_demo(store, ask.config)
    await ask.load()
    alliance = ask.subject("Renault-Nissan Alliance")
    assert (
        await ask.units("alliance", as_of="2015-05")
        < 250_000
        <= await ask.units("alliance", as_of="2015-06")
    )
    assert await ask.units("alliance", as_of="2014-12") == 217_365
    jan_may = await period_total(ask.reader, alliance, "World", Month(2015, 1), Month(2015, 5))
    assert jan_may.units == 31_700  # "31,700 sold Jan-May 2015"
    assert round(jan_may.change or 0, 3) == 0.149  # "up 14.9 % on last year"
    year = await period_total(ask.reader, alliance, "World", Month(2014, 1), Month(2014, 12))
    assert year.units == 82_602


# -- groups with membership dates -----------------------------------------------------------


async def test_mitsubishi_counts_for_the_alliance_only_from_2016_10(store: SqliteStore) -> None:
    ask = await Asker(store, config()).load(
        (SALES, months(2016, 1000) + months(2016, 10, "Mitsubishi", "Outlander PHEV"))
    )
    assert await ask.units("alliance", as_of="2016-09") == 9000
    answer = await ask.total("alliance", as_of="2016-12")
    assert answer.total == 12_030
    assert [(s.name, s.units) for s in answer.breakdown] == [
        ("Nissan Leaf", 12_000),
        ("Mitsubishi Outlander PHEV", 30),
    ]
    assert sum(s.share for s in answer.breakdown) == pytest.approx(1)
    assert await ask.units("mitsubishi") == 120  # the make itself is counted in full


async def test_a_member_that_leaves_a_group(store: SqliteStore) -> None:
    group = GroupSpec(
        "Club", (GroupMember("Nissan"), GroupMember("Tesla", None, Month(2014, 3))), ("club",)
    )
    ask = await Asker(store, config(groups=(group,))).load(
        (SALES, months(2014, 1) + months(2014, 100, "Tesla", "Model S"))
    )
    assert await ask.units("club") == 12 + 300


# -- regions: roll-ups and aggregates, never double counted -----------------------------------


async def test_aggregates_beside_countries_are_never_added(store: SqliteStore) -> None:
    ask = await Asker(store, config()).load(
        (
            SALES,
            [
                rec("2014", 20_000, "", "", "Norway"),
                rec("2014", 10_000, "", "", "France"),
                rec("2014", 50_000, "", "", "Europe"),
                rec("2014", 40_000, "", "", "EU27"),
                rec("2014", 30_000, "", "", "China"),
                rec("2015", 25_000, "", "", "Norway"),
                rec("2015", 60_000, "", "", "Europe"),
            ],
        )
    )
    # no World row: the world is Europe's own figure (never with its countries, nor EU27's)
    # and China's; Europe holds more than Norway and France, so it is never left out
    assert await ask.units("all", as_of="2014-12") == 80_000
    assert await ask.units("all", "Europe", "2014-12") == 50_000
    assert await ask.units("all", "Europe") == 110_000
    # with a World row for a year, that row is the world's figure for the year
    await ask.load((SALES, [rec("2015", 300_000, "", "", "World")]))
    assert await ask.units("all") == 380_000
    assert await ask.units("all", "Norway") == 45_000


async def test_sub_regions_roll_up_unless_the_parent_has_its_own(store: SqliteStore) -> None:
    rules = config(region_parents={"California": "USA", "Texas": "USA"})
    ask = await Asker(store, rules).load(
        (
            SALES,
            [
                rec("2014-01", 10, region="California"),
                rec("2014-01", 5, region="Texas"),
                rec("2015-01", 11, region="California"),
                rec("2015-01", 100, region="USA"),
            ],
        )
    )
    assert await ask.units("nissan leaf", "California") == 21
    assert await ask.units("nissan leaf", "USA", "2014-12") == 15  # the states
    assert await ask.units("nissan leaf", "USA") == 115  # 2015: the USA's own figure only


async def test_the_world_includes_regions_known_only_through_their_children(
    store: SqliteStore,
) -> None:
    rules = config(region_parents={"California": "USA", "Texas": "USA"})
    ask = await Asker(store, rules).load(
        (
            SALES,
            [
                rec("2014-01", 10, region="California"),
                rec("2014-01", 5, region="Texas"),
                rec("2014-01", 7, region="Norway"),
            ],
        )
    )
    assert await ask.units("all", "USA") == 15
    assert await ask.units("all") == 22


# -- overlapping sources: one per subject, region and year ------------------------------------


async def test_the_best_source_is_chosen_per_year(store: SqliteStore) -> None:
    good, broad = SourceSpec("good", priority=10), SourceSpec("broad", priority=100)
    ask = await Asker(store, config()).load(
        (broad, [rec("2014", 1_000), rec("2015", 2_000)]),
        (good, months(2014, 90)),
    )
    # 2014: the better source's monthly figures; 2015: only the other source has figures
    assert await ask.units("nissan leaf", as_of="2014-12") == 1_080
    assert await ask.units("nissan leaf") == 3_080
    equal = SourceSpec("equal", priority=100)
    await ask.load((equal, [rec("2015", 5_000)]))
    assert await ask.units("nissan leaf") == 3_080  # a tie goes to the older source


async def test_sales_and_stock_are_never_added(store: SqliteStore) -> None:
    stock = SourceSpec("registered", metric="stock")
    ask = await Asker(store, config()).load(
        (SALES, months(2014, 10)),
        (stock, [rec("2014-06", 5_000, cumulative=True), rec("2014-12", 5_500, cumulative=True)]),
    )
    assert await ask.units("nissan leaf") == 120
    assert await ask.units("nissan leaf", metric="stock") == 5_500
    assert await ask.units("all") == 120
    assert await ask.units("all", metric="stock") == 5_500


async def test_a_running_total_from_another_source_is_never_added(store: SqliteStore) -> None:
    press = SourceSpec("press", priority=10)
    ask = await Asker(store, config()).load(
        (SALES, months(2014, 1_000)),
        (press, [rec("2015-06", 20_000, cumulative=True)]),
    )
    assert await ask.units("nissan leaf", as_of="2014-12") == 12_000
    assert await ask.units("nissan leaf", as_of="2015-06") == 20_000  # "20,000 sold to date"


async def test_stock_from_a_later_source_is_its_level(store: SqliteStore) -> None:
    """Registered stock is a level: a later source's figure replaces, never adds to, the first's."""
    county, sample = SourceSpec("county", metric="stock"), SourceSpec("sample", metric="stock")
    ask = await Asker(store, config()).load(
        (
            county,
            [rec("2017-01", 22_576, cumulative=True), rec("2021-10", 82_851, cumulative=True)],
        ),
        (sample, [rec("2026-01", 16_662, cumulative=True)]),
    )
    assert await ask.units("nissan leaf", as_of="2021-12", metric="stock") == 82_851
    assert await ask.units("nissan leaf", as_of="2026-01", metric="stock") == 16_662


# -- naming the subject -----------------------------------------------------------------------


def catalog(**extra: object) -> Catalog:
    models = [
        ModelName("nissan", "leaf", "Nissan", "Leaf"),
        ModelName("nissan", "e-nv200", "Nissan", "e-NV200"),
        ModelName("renault", "zoe", "Renault", "Zoé"),
        ModelName("tesla", "model s", "Tesla", "Model S"),
        ModelName("tesla", "model 3", "Tesla", "Model 3"),
        ModelName("byd", "model 3", "BYD", "Model 3"),
    ]
    base: dict[str, object] = {
        "models": models,
        "makes": {"nissan": "Nissan", "renault": "Renault", "tesla": "Tesla", "byd": "BYD"},
        "groups": list(default_config().groups),
        "aliases": {"the leaf": "Nissan Leaf", "rnm": "alliance"},
        "regions": ["Norway", "USA", "World"],
        "region_aliases": default_config().region_aliases,
    }
    base.update(extra)
    return Catalog(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Nissan Leaf", "model:nissan/leaf"),
        ("  NISSAN   leaf ", "model:nissan/leaf"),
        ("nissan-leaf", "model:nissan/leaf"),
        ("leaf", "model:nissan/leaf"),
        ("the leaf", "model:nissan/leaf"),
        ("Renault ZOE", "model:renault/zoe"),
        ("renault zoé", "model:renault/zoe"),
        ("ZOÉ", "model:renault/zoe"),
        ("nissan e-NV200", "model:nissan/e-nv200"),
        ("nissan env200", "model:nissan/e-nv200"),
        ("tesla", "make:tesla"),
        ("Renault-Nissan Alliance", "group:renault-nissan-alliance"),
        ("alliance", "group:renault-nissan-alliance"),
        ("renault nissan", "group:renault-nissan-alliance"),
        ("RNM", "group:renault-nissan-alliance"),
        ("all", "all"),
        ("everything", "all"),
        ("", "all"),
    ],
)
def test_names_resolve(typed: str, key: str) -> None:
    assert catalog().resolve(typed).subject.key == key


def test_region_names_mean_all_evs_there() -> None:
    c = catalog()
    assert c.resolve("norway").subject == ALL and c.resolve("norway").region == "Norway"
    assert c.resolve("US").region == "USA"
    assert c.resolve("United States").region == "USA"
    assert c.region("us") == "USA" and c.region("NORWAY") == "Norway"
    assert c.region("Atlantis") == "Atlantis"


def test_an_ambiguous_model_name_is_not_guessed() -> None:
    with pytest.raises(UnknownSubject) as caught:
        catalog().resolve("model 3")
    assert {"BYD Model 3", "Tesla Model 3"} <= set(caught.value.suggestions)
    assert catalog().resolve("tesla model 3").subject.key == "model:tesla/model 3"


def test_did_you_mean() -> None:
    with pytest.raises(UnknownSubject) as caught:
        catalog().resolve("nisan lef")
    assert caught.value.suggestions[0] == "Nissan Leaf"
    assert str(caught.value).startswith("No subject called 'nisan lef'. Did you mean 'Nissan Leaf'")
    with pytest.raises(UnknownSubject) as caught:
        catalog().resolve("Renault-Nisan Aliance")
    assert caught.value.suggestions[0] == "Renault-Nissan Alliance"
    with pytest.raises(UnknownSubject) as caught:
        catalog().resolve("qqqqqqqqq")
    assert caught.value.suggestions == []
    assert str(caught.value) == "No subject called 'qqqqqqqqq'."


def test_alias_cycles_end() -> None:
    with pytest.raises(UnknownSubject):
        catalog(aliases={"ping": "pong", "pong": "ping"}).resolve("ping")


async def test_the_catalog_comes_from_the_store_and_config(store: SqliteStore) -> None:
    ask = await Asker(store, config(aliases={"leafy": "nissan leaf"})).load(
        (
            SALES,
            [rec("2014-01", 1, "NISSAN", "LEAF", "Norway"), rec("2014-01", 1, "Renault", "Zoé")],
        )
    )
    assert ask.subject("leafy").name == "NISSAN LEAF"
    assert ask.subject("renault zoe").name == "Renault Zoé"
    assert ask.catalog.resolve("norway").region == "Norway"
    assert "Renault-Nissan Alliance" in ask.catalog.subject_names()
