"""The four real files in ../shared/data, imported through configured sources and `--format iea`.

The TOML below is also the documentation of how to map them. The expected figures are the facts
in ../shared/data/README.md, and where the README gives none, sums computed here from the raw CSV
with the csv module (an oracle independent of the importer).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from bot.config.load import load_config
from bot.domain.events import Subject
from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.regions import RegionTree, region_warnings
from bot.domain.series import regional_coverage, regional_increments
from bot.domain.settings import Config, SourceConfig
from bot.domain.subjects import ALL, Catalog
from bot.ingest.iea import parse_iea
from bot.ingest.mapped import parse_mapped
from bot.reading.queries import SeriesReader, load_catalog, period_total, region_tree, total
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import built_once

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
US = DATA / "us_ev_monthly_sales_by_model_2006_2019.csv"
WA_COUNTY = DATA / "wa_ev_population_history_by_county_2017_2021.csv"
WA_VEHICLES = DATA / "wa_ev_population_sample_16662.csv"
IEA = DATA / "iea_global_ev_data_2024.csv"

pytestmark = pytest.mark.skipif(
    not all(p.is_file() for p in (US, WA_COUNTY, WA_VEHICLES, IEA)),
    reason=f"the shared data files are not in {DATA}",
)

# `{data}` is the folder of the files; in a real config a path relative to the config file works.
CONFIG = """
# WA is inside the USA: a USA figure with no figures of its own is the sum of its states
[regions.parents]
WA = "USA"

# US monthly sales by model (hybridcars.com / insideEVs): one row per model and month.
# Only plug-ins: the hybrid, diesel and CNG rows (and with them the file's 4 exact duplicate
# rows, all hybrids) are left out by the include filter.
[sources.us-monthly]
file = "{data}/us_ev_monthly_sales_by_model_2006_2019.csv"
metric = "sales"
priority = 50
constants = {{ region = "USA" }}
include = {{ category = ["bev", "phev", "fcev"] }}
granularity = "month"
[sources.us-monthly.columns]
period = "date"
make = "brand"
model = "model"
units = "sales"
powertrain = "category"

# WA registrations by county, monthly snapshots: the EV total of every WA county summed per month
# is the state's registered stock, a running total. Out-of-state and NULL rows are left out.
[sources.wa-county]
file = "{data}/wa_ev_population_history_by_county_2017_2021.csv"
metric = "stock"
figures = "running"
aggregate = true
columns = {{ period = "Date", region = "State", units = "Electric Vehicle (EV) Total" }}
include = {{ State = ["WA"] }}
period_format = "%B %d %Y"
granularity = "month"
thousands = ","

# WA per-vehicle registrations (a 16,662-vehicle sample of a snapshot taken about 2026-01): each
# row is one vehicle, counted by make, model and powertrain. It goes in a region of its own: it is a
# sample, so it must not be added to (nor chosen over) the county history's WA stock.
[sources.wa-vehicles]
file = "{data}/wa_ev_population_sample_16662.csv"
metric = "stock"
figures = "running"
aggregate = true
columns = {{ make = "Make", model = "Model", powertrain = "Electric Vehicle Type" }}
constants = {{ period = "2026-01", region = "WA sample", units = "1" }}

# IEA Global EV Outlook 2024: historical car sales by country and year; the same as
# `evbot import FILE --format iea`
[sources.iea]
file = "{data}/iea_global_ev_data_2024.csv"
format = "iea"
priority = 100
"""


@dataclass
class Loaded:
    config: Config
    config_path: Path
    db: Path
    outputs: dict[str, str]


def _cli(*args: str) -> str:
    out = io.StringIO()
    assert main(list(args), out=out) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """US sales, WA county stock and the IEA in one database; built once for the module."""
    folder = tmp_path_factory.mktemp("shared")
    config_path = folder / "evbot.toml"
    config_path.write_text(CONFIG.format(data=DATA), encoding="utf-8")
    db = folder / "shared.sqlite3"
    common = ("--config", str(config_path), "--db", str(db))
    outputs = {
        "us": _cli("import", "--source", "us-monthly", *common),
        "wa": _cli("import", "--source", "wa-county", *common),
        "iea": _cli("import", str(IEA), "--format", "iea", *common),
    }
    return Loaded(load_config(config_path), config_path, db, outputs)


@pytest.fixture(scope="module")
def vehicles(loaded: Loaded, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """The WA per-vehicle sample, alone in its own database."""
    db = tmp_path_factory.mktemp("vehicles") / "vehicles.sqlite3"
    out = _cli(
        "import", "--source", "wa-vehicles", "--config", str(loaded.config_path), "--db", str(db)
    )
    return Loaded(loaded.config, loaded.config_path, db, {"vehicles": out})


class Queries:
    """Opens the database for one test and answers totals."""

    def __init__(self, store: SqliteStore, config: Config, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog
        self.reader = SeriesReader(store, region_tree(config), list(config.groups))

    def subject(self, name: str) -> Subject:
        return self.catalog.resolve(name).subject

    async def total(
        self, name: str, region: str, as_of: str | None = None, metric: str = "sales"
    ) -> int:
        subject = ALL if name == "all" else self.subject(name)
        month = Month.parse(as_of) if as_of else None
        answer = await total(self.reader, self.catalog, subject, region, month, metric)
        return answer.total

    async def year(self, name: str, region: str, year: int, metric: str = "sales") -> int:
        subject = ALL if name == "all" else self.subject(name)
        answer = await period_total(
            self.reader, subject, region, Month(year, 1), Month(year, 12), metric
        )
        return answer.units

    async def monthly(self, name: str, region: str, metric: str = "sales") -> dict[Month, int]:
        subject = ALL if name == "all" else self.subject(name)
        return await self.reader.monthly(subject, region, metric)


async def _open(db: Path, config: Config) -> tuple[SqliteStore, Queries]:
    store = SqliteStore(db)
    await store.open()
    return store, Queries(store, config, await load_catalog(store, config))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# -- US monthly sales by model -----------------------------------------------------------------


def test_us_import_report(loaded: Loaded) -> None:
    rows = _read_csv(US)
    plugins = [r for r in rows if r["category"] in ("bev", "phev", "fcev")]
    assert (len(rows), len(plugins)) == (8241, 2568)
    assert loaded.outputs["us"] == (
        f"imported {US} as source 'us-monthly': 8,241 rows read, 2,568 figures: 2,568 new, "
        "0 revised, 0 unchanged; 5,673 rows left out by filters "
        "(first import of this source: recorded as history)\n"
    )


def test_us_exact_duplicates_are_hybrids_left_out_by_the_filter(loaded: Loaded) -> None:
    source = loaded.config.sources["us-monthly"]
    parsed = parse_mapped(US, source)
    assert (parsed.duplicates, parsed.notices, parsed.problems) == (0, [], [])
    # without the filter (and the powertrain), the file's own quirks show: its 4 exact duplicate
    # rows are counted once, and hybrids listed twice with different figures are refused
    unfiltered = SourceConfig(
        name="us-all",
        columns={k: v for k, v in source.columns.items() if k != "powertrain"},
        constants=source.constants,
        granularity="month",
    )
    parsed = parse_mapped(US, unfiltered)
    for line, first in ((131, 130), (145, 144), (177, 176), (192, 191)):
        assert f"{US}:{line}: duplicate of line {first}, counted once" in parsed.notices
    assert parsed.problems[0].startswith(f"{US}:390: conflicting duplicate of line 333: ")


async def test_us_leaf_yearly_totals(loaded: Loaded) -> None:
    store, q = await _open(loaded.db, loaded.config)
    try:
        years = {y: await q.year("Nissan Leaf", "USA", y) for y in range(2011, 2017)}
    finally:
        await store.close()
    assert years == {
        2011: 9_674,
        2012: 9_819,
        2013: 22_610,
        2014: 30_200,
        2015: 17_269,
        2016: 14_006,
    }


async def test_us_leaf_cumulative_milestones(loaded: Loaded) -> None:
    store, q = await _open(loaded.db, loaded.config)
    try:
        leaf = {
            m: await q.total("nissan leaf", "USA", m)
            for m in ("2013-06", "2014-04", "2014-05", "2015-02", "2015-03")
        }
        assert await q.total("leaf", "USA", "2013-06") == 29_351  # a bare model name resolves
    finally:
        await store.close()
    assert leaf["2013-06"] == 29_351  # the figure Nissan quoted in July 2013
    assert leaf["2014-04"] < 50_000 <= leaf["2014-05"] == 52_511
    assert leaf["2015-02"] < 75_000 <= leaf["2015-03"] == 76_407


async def test_us_sales_are_the_file_and_never_include_stock(loaded: Loaded) -> None:
    expected: Counter[int] = Counter()
    for r in _read_csv(US):
        if r["category"] in ("bev", "phev"):  # electric cars: fuel-cell ones are imported apart
            expected[int(r["year"])] += int(r["sales"])
    store, q = await _open(loaded.db, loaded.config)
    try:
        got = {y: await q.year("all", "USA", y) for y in expected}
        usa_sales = await q.total("all", "USA", "2019-12")
        usa_stock = await q.total("all", "USA", metric="stock")
        wa_sales = await q.total("all", "WA")
    finally:
        await store.close()
    # the US file (priority 50) is chosen over the IEA's USA rows for the years it covers
    assert got == dict(expected)
    assert usa_sales == sum(expected.values())
    assert usa_stock == 82_851  # WA's stock rolls up into the USA, as stock
    assert wa_sales == 0  # and never shows up as sales


# -- WA registrations by county ----------------------------------------------------------------


def _wa_monthly_stock() -> dict[str, int]:
    from datetime import datetime

    sums: Counter[str] = Counter()
    for r in _read_csv(WA_COUNTY):
        if r["State"] == "WA":
            month = datetime.strptime(r["Date"], "%B %d %Y").strftime("%Y-%m")
            sums[month] += int(r["Electric Vehicle (EV) Total"].replace(",", ""))
    return dict(sums)


def test_wa_import_report(loaded: Loaded) -> None:
    rows = _read_csv(WA_COUNTY)
    left_out = sum(1 for r in rows if r["State"] != "WA")
    assert loaded.outputs["wa"] == (
        f"imported {WA_COUNTY} as source 'wa-county': 11,818 rows read, 58 figures: 58 new, "
        f"0 revised, 0 unchanged; {left_out:,} rows left out by filters "
        "(first import of this source: recorded as history)\n"
    )


async def test_wa_stock_is_the_running_total_of_its_counties(loaded: Loaded) -> None:
    expected = _wa_monthly_stock()
    assert len(expected) == 58
    assert (expected["2017-01"], expected["2019-07"], expected["2021-10"]) == (
        22_576,
        50_632,
        82_851,
    )
    store, q = await _open(loaded.db, loaded.config)
    try:
        stock = {m: await q.total("all", "WA", m, "stock") for m in sorted(expected)}
        assert await q.total("all", "WA", "2019-06", "stock") < 50_000
        assert await q.total("all", "WA", metric="stock") == 82_851
    finally:
        await store.close()
    assert stock == expected


async def test_world_stock_includes_wa_through_the_usa(loaded: Loaded) -> None:
    store, q = await _open(loaded.db, loaded.config)
    try:
        assert await q.total("all", "World", metric="stock") == 82_851
    finally:
        await store.close()


# -- IEA: countries beside World, Europe and EU27 ----------------------------------------------


def _iea_sales(powertrains: tuple[str, ...] = ("BEV", "PHEV")) -> dict[tuple[str, int], int]:
    """The IEA's historical car sales per region and year: electric cars (BEV + PHEV, the
    totals' default) unless other powertrains are asked."""
    sums: Counter[tuple[str, int]] = Counter()
    for r in _read_csv(IEA):
        if (r["category"], r["parameter"], r["mode"], r["unit"]) == (
            "Historical",
            "EV sales",
            "Cars",
            "Vehicles",
        ) and r["powertrain"] in powertrains:
            sums[(r["region"], int(r["year"]))] += round(float(r["value"]))
    return dict(sums)


def test_iea_car_sales_by_powertrain() -> None:
    parsed = parse_iea(IEA, "iea")
    assert parsed.problems == [] and parsed.duplicates == 0
    figures = {(r.region, r.period, r.powertrain): r.units for r in parsed.records["iea"]}
    assert figures[("World", "2014", "BEV")] == 200_000
    assert figures[("Norway", "2014", "BEV")] == 20_000
    assert all(r.make == r.model == "" for r in parsed.records["iea"])


async def test_iea_world_is_the_world_row_never_the_sum_of_parts(loaded: Loaded) -> None:
    sums = _iea_sales()
    world = {y: v for (region, y), v in sums.items() if region == "World"}
    parts: defaultdict[int, int] = defaultdict(int)
    for (region, y), v in sums.items():
        if region not in ("World", "Europe", "EU27"):
            parts[y] += v
    assert sum(v for y, v in world.items() if y <= 2014) == 707_450  # BEV + PHEV cars
    assert sum(v for y, v in parts.items() if y <= 2014) != 707_450  # so the test can tell
    store, q = await _open(loaded.db, loaded.config)
    try:
        assert await q.total("all", "World", "2014-12") == 707_450
        assert {y: await q.year("all", "World", y) for y in world} == world
        europe = {y: await q.year("all", "Europe", y) for y in range(2010, 2024)}
        norway = await q.year("Norway", "Norway", 2014)  # a region's name means all EVs there
    finally:
        await store.close()
    assert europe == {y: sums.get(("Europe", y), 0) for y in range(2010, 2024)}
    assert norway == 20_000 + 1_700  # BEV and PHEV cars: the 4 fuel-cell cars are not in it


async def test_iea_powertrains_apart_on_the_reading_commands(loaded: Loaded) -> None:
    """The IEA's fuel-cell cars: never in "electric cars" (BEV + PHEV), told with fcev."""
    from bot.app.bootstrap import open_commands
    from bot.commands.dispatch import run_text
    from bot.commands.types import Invocation
    from bot.domain.channels import Channel

    who = Invocation(Channel("discord", "guild", "general"), "alice", can_manage=False)
    electric, fuel_cell = _iea_sales(), _iea_sales(("FCEV",))
    assert fuel_cell[("World", 2023)] > 0 and fuel_cell[("Norway", 2014)] > 0
    store = SqliteStore(loaded.db)
    await store.open()
    try:
        ctx = await open_commands(store, loaded.config)
        got = {}
        for question in (
            "/ev-total all region:World period:2023",
            "/ev-total all region:World period:2023 powertrain:fcev",
            "/ev-total norway period:2014",
            "/ev-total norway period:2014 powertrain:fcev",
            "/ev-total norway period:2014 powertrain:bev",
        ):
            reply = await run_text(ctx, who, question)
            assert reply.ok and reply.data is not None, reply.message.body
            got[question] = reply.data["total"]
            last = reply
    finally:
        await store.close()
    assert list(got.values()) == [
        electric[("World", 2023)],
        fuel_cell[("World", 2023)],
        electric[("Norway", 2014)],
        fuel_cell[("Norway", 2014)],
        20_000,
    ]
    assert "battery-electric cars sold in 2014" in last.message.body


def test_iea_fuel_cell_cars_from_the_cli(loaded: Loaded) -> None:
    common = ("--config", str(loaded.config_path), "--db", str(loaded.db))
    out = _cli("total", "Norway", "--period", "2014", "--powertrain", "fcev", "--json", *common)
    assert json.loads(out)["total"] == _iea_sales(("FCEV",))[("Norway", 2014)]


# The IEA's European regions, by hand (an oracle independent of the region table).
IEA_EUROPE = set(
    [
        "Austria",
        "Belgium",
        "Bulgaria",
        "Croatia",
        "Cyprus",
        "Denmark",
        "Estonia",
        "Finland",
        "France",
        "Germany",
        "Greece",
        "Hungary",
        "Iceland",
        "Ireland",
        "Italy",
        "Latvia",
        "Lithuania",
        "Luxembourg",
        "Netherlands",
        "Norway",
        "Poland",
        "Portugal",
        "Romania",
        "Slovakia",
        "Slovenia",
        "Spain",
        "Sweden",
        "Switzerland",
        "Turkiye",
    ]
) | {"Czech Republic", "United Kingdom"}


def test_iea_regions_all_resolve_and_its_world_without_the_world_row_counts_europe_once() -> None:
    tree = RegionTree()
    regions = {r["region"] for r in _read_csv(IEA)}
    assert len(regions) == 54 and sorted(r for r in regions if not tree.knows(r)) == []
    assert all(tree.contains("Europe", r) for r in IEA_EUROPE)
    warnings = region_warnings({"iea": regions}, tree)
    assert not any("does not know" in w or "two-letter" in w for w in warnings)
    sums = _iea_sales()
    rows = [
        IncRow(1, region, "", "", Month(y, 12), v)
        for (region, y), v in sums.items()
        if region != "World"
    ]
    figures = regional_increments(rows, {1: 1}, tree, "World")
    cover = regional_coverage(rows, {1: 1}, tree, "World")
    for year in sorted({y for (_, y) in sums}):
        # Europe's own figure (never with EU27 or its countries), the other countries, the rest
        expected = sums[("Europe", year)] + sum(
            v
            for (region, y), v in sums.items()
            if y == year and region not in IEA_EUROPE | {"World", "Europe", "EU27"}
        )
        assert sum(v for m, v in figures.items() if m.year == year) == expected
        assert "Europe" in cover[year].regions and not cover[year].partial
        assert not cover[year].regions & (IEA_EUROPE | {"EU27"})
    # 2023: within 0.4 % of the IEA's own World row, where the countries alone miss 1.6 %
    world = sums[("World", 2023)]
    assert abs(sum(v for m, v in figures.items() if m.year == 2023) - world) < 0.004 * world


def test_iea_import_report(loaded: Loaded) -> None:
    figures = len(parse_iea(IEA, "iea").records["iea"])
    assert loaded.outputs["iea"].startswith(
        f"imported {IEA} as source 'iea': 12,654 rows read, {figures:,} figures: {figures:,} new"
    )


# -- WA per-vehicle sample ---------------------------------------------------------------------


async def test_wa_vehicles_counted_by_make_and_model(vehicles: Loaded) -> None:
    rows = _read_csv(WA_VEHICLES)
    kinds = Counter(r["Electric Vehicle Type"] for r in rows)
    assert len(rows) == 16_662
    assert kinds == {
        "Battery Electric Vehicle (BEV)": 10_725,
        "Plug-in Hybrid Electric Vehicle (PHEV)": 5_937,
    }
    combos = {(r["Make"], r["Model"], r["Electric Vehicle Type"]) for r in rows}
    assert vehicles.outputs["vehicles"].startswith(
        f"imported {WA_VEHICLES} as source 'wa-vehicles': 16,662 rows read, "
        f"{len(combos):,} figures: {len(combos):,} new"
    )
    parsed = parse_mapped(WA_VEHICLES, vehicles.config.sources["wa-vehicles"])
    by_powertrain: Counter[str] = Counter()
    for r in parsed.records["wa-vehicles"]:
        by_powertrain[r.powertrain] += r.units
    assert by_powertrain == {"BEV": 10_725, "PHEV": 5_937}

    store, q = await _open(vehicles.db, vehicles.config)
    try:
        leaf = await q.total("Nissan Leaf", "WA sample", metric="stock")
        everything = await q.total("all", "WA sample", metric="stock")
        world = await q.total("all", "World", metric="stock")
        sales = await q.total("all", "WA sample")
        tesla = await total(q.reader, q.catalog, q.subject("tesla"), "WA sample", None, "stock")
    finally:
        await store.close()
    assert (leaf, everything, world, sales) == (359, 16_662, 16_662, 0)
    assert tesla.total == sum(1 for r in rows if r["Make"] == "TESLA")
    assert abs(sum(s.share for s in tesla.breakdown) - 1) < 1e-9


def test_reimporting_an_unchanged_file_changes_nothing(loaded: Loaded) -> None:
    common = ("--config", str(loaded.config_path), "--db", str(loaded.db))
    head = asyncio.run(_journal_head(loaded.db))
    out = _cli("import", "--source", "wa-county", *common)
    assert "0 new, 0 revised, 58 unchanged" in out
    assert asyncio.run(_journal_head(loaded.db)) == head


async def _journal_head(db: Path) -> int:
    async with SqliteStore(db) as store:
        return await store.journal_head()


# -- one fact, one line (issue 15, point 5) ----------------------------------------------------

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config.example.toml"
ALLIANCE_MAKES = {"make:nissan", "make:renault", "make:mitsubishi"}
STELLANTIS_MAKES = {"make:peugeot", "make:citroen", "make:fiat", "make:jeep"}
GROUP_MAKES = {
    "group:renault-nissan-alliance": ALLIANCE_MAKES,
    "group:stellantis": STELLANTIS_MAKES,
}
EXAMPLE = EXAMPLE_CONFIG
EXAMPLE_SOURCES = ("us-monthly", "wa-history", "wa-vehicles", "iea", "iea-stock")


def replay_the_example(folder: Path) -> list[dict[str, Any]]:
    config_path = folder / "config.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace('"../shared/data/', f'"{DATA}/')
    config_path.write_text(text, encoding="utf-8")
    common = ("--config", str(config_path), "--db", str(folder / "example.sqlite3"))
    for source in EXAMPLE_SOURCES:
        _cli("import", "--source", source, *common)
    return [json.loads(line) for line in _cli("replay", "--json", *common).splitlines()]


@pytest.fixture(scope="module")
def example_replay(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """`evbot replay --json` on the four files imported through config.example.toml, once for
    the run (its tests may run in several workers)."""
    return built_once(tmp_path_factory, "example", replay_the_example)


def test_the_example_replay_makes_no_monthly_claim_from_yearly_data(
    example_replay: list[dict[str, Any]],
) -> None:
    yearly = [e for e in example_replay if e["granularity"] == "year"]
    assert yearly, "the IEA's figures are yearly"
    for event in yearly:
        assert len(event["period"]) == 4, event
        assert "best month" not in event["text"] and "December" not in event["text"], event
    # the IEA's own World figures are told as such, yearly
    assert any(e["subject"] == "all EVs" and e["region"] == "World" for e in yearly)


def test_the_example_replay_never_says_worldwide_of_partial_coverage(
    example_replay: list[dict[str, Any]],
) -> None:
    # the Leaf's figures are US figures only: each of its facts is told of the USA (the
    # world's event, the same fact, is told once, under the USA)
    leaf = [e for e in example_replay if e["subject"] == "Nissan Leaf"]
    assert leaf
    for event in leaf:
        assert event["region"] == "USA" or event.get("covers") == ["USA"], event
        assert "in the USA" in event["text"], event
    for event in example_replay:
        if event.get("covers"):
            assert "worldwide" not in event["text"], event


def test_the_example_replay_compares_growth_only_like_with_like(
    example_replay: list[dict[str, Any]],
) -> None:
    growth = [e for e in example_replay if e["kind"] == "growth"]
    assert growth
    for event in growth:
        assert event["metric"] == "sales"  # stock is a level: no growth of registrations
    # the USA: US monthly sales (2010-2019) and the IEA's yearly figures are not compared
    usa_years = {e["period"][:4] for e in growth if e["region"] == "USA"}
    assert "2020" not in usa_years, "2020 (IEA) against 2019 (US monthly) is unlike"
    # every event cites the sources behind its own figure, by their attribution, never the
    # store's list: the Leaf's cite the US file alone, the world's the IEA alone
    config = load_config(EXAMPLE)
    attributions = {s.cited for s in config.sources.values()}
    for event in example_replay:
        assert event["source"] and set(event["source"].split("; ")) <= attributions, event
    us = config.sources["us-monthly"].cited
    assert {e["source"] for e in example_replay if e["subject"] == "Nissan Leaf"} == {us}
    world = {
        e["source"] for e in example_replay if e["subject"] == "all EVs" and e["region"] == "World"
    }
    assert world == {config.sources["iea"].cited, config.sources["iea-stock"].cited}


def _subject_contains(outer: str, inner: str) -> bool:
    """Whether every figure of subject `inner` is one of `outer`'s (by subject key)."""
    if outer == inner or outer == "all":
        return True
    make = "make:" + inner.removeprefix("model:").split("/", 1)[0]
    if outer.startswith("make:"):
        return inner.startswith("model:") and make == outer
    if outer in GROUP_MAKES:
        return (inner if inner.startswith("make:") else make) in GROUP_MAKES[outer]
    return False


def _region_contains(outer: str, inner: str) -> bool:
    return outer == inner or outer == "World" or (outer, inner) == ("USA", "WA")


def _nested(a: dict[str, Any], b: dict[str, Any]) -> bool:
    sa, sb = a["subject_ref"]["key"], b["subject_ref"]["key"]
    ra, rb = a["region"], b["region"]
    return (_subject_contains(sa, sb) and _region_contains(ra, rb)) or (
        _subject_contains(sb, sa) and _region_contains(rb, ra)
    )


def test_replay_of_the_example_sources_tells_no_fact_twice(
    example_replay: list[dict[str, Any]],
) -> None:
    # before: 3,582 lines, 1,394 of them a fact already told ("passes 100,000 sales in USA" and
    # "passes 100,000 sales"; the Leaf, Nissan, the Alliance and all EVs on one crossing)
    milestones: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for event in example_replay:
        if event["kind"] == "milestone":
            key = (event["metric"], event["period"], event["thresholds"]["highest"], event["value"])
            milestones[key].append(event)
    # an oracle apart from the bases: one cumulative figure of a subject and region that holds
    # another's, equal to it, is the same figures (units are never negative)
    twice = [
        (a["text"], b["text"])
        for told in milestones.values()
        for i, a in enumerate(told)
        for b in told[i + 1 :]
        if _nested(a, b)
    ]
    assert twice == []
    facts = Counter(
        (
            e["kind"],
            e["metric"],
            e["period"],
            e["basis"],
            str(e.get("thresholds", e.get("boundary"))),
            e.get("direction"),
        )
        for e in example_replay
        if e.get("basis")
    )
    assert [fact for fact, n in facts.items() if n > 1] == []
    # the Leaf in the USA is all the world's Leafs: told once, in the USA
    leaf = [
        e["region"]
        for e in example_replay
        if e["kind"] == "milestone"
        and e["subject"] == "Nissan Leaf"
        and e["metric"] == "sales"
        and e["thresholds"]["highest"] == 100_000
    ]
    assert leaf == ["USA"]
