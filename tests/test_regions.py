"""Regions by what they contain (issue 15, point 3): the membership table, the summing rules,
coverage, and what an import says about its regions."""

from __future__ import annotations

import csv
import importlib
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.load import load_config
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.regions import Coverage, RegionTree, country_name, region_warnings, shipped_table
from bot.domain.series import regional_coverage, regional_increments
from bot.domain.settings import ConfigError, SourceConfig, default_config
from bot.domain.subjects import ALL
from bot.ingest.importer import import_file
from bot.ingest.mapped import parse_mapped
from bot.reading.queries import SeriesReader, load_catalog, region_tree
from bot.reading.queries import total as queries_total
from bot.store.sqlite.sales import SqliteStore

PRIORITY = {1: 10, 2: 20}
# The IEA Global EV Data Explorer's 54 regions, as the file writes them.
IEA_REGIONS = [
    "Australia",
    "Austria",
    "Belgium",
    "Brazil",
    "Bulgaria",
    "Canada",
    "Chile",
    "China",
    "Colombia",
    "Costa Rica",
    "Croatia",
    "Cyprus",
    "Czech Republic",
    "Denmark",
    "EU27",
    "Estonia",
    "Europe",
    "Finland",
    "France",
    "Germany",
    "Greece",
    "Hungary",
    "Iceland",
    "India",
    "Indonesia",
    "Ireland",
    "Israel",
    "Italy",
    "Japan",
    "Korea",
    "Latvia",
    "Lithuania",
    "Luxembourg",
    "Mexico",
    "Netherlands",
    "New Zealand",
    "Norway",
    "Poland",
    "Portugal",
    "Rest of the world",
    "Romania",
    "Seychelles",
    "Slovakia",
    "Slovenia",
    "South Africa",
    "Spain",
    "Sweden",
    "Switzerland",
    "Thailand",
    "Turkiye",
    "USA",
    "United Arab Emirates",
    "United Kingdom",
    "World",
]


def row(region: str, units: int, year: int = 2023, source: int = 1, month: int = 12) -> IncRow:
    return IncRow(source, region, "", "", Month(year, month), units)


def total(rows: Sequence[IncRow], region: str = "World", tree: RegionTree | None = None) -> int:
    return sum(regional_increments(rows, PRIORITY, tree or RegionTree(), region).values())


def coverage(
    rows: Sequence[IncRow], region: str = "World", tree: RegionTree | None = None
) -> dict[int, Coverage]:
    return regional_coverage(rows, PRIORITY, tree or RegionTree(), region)


# -- the table -------------------------------------------------------------------------------


def test_every_iea_region_resolves_where_people_expect_it() -> None:
    tree = RegionTree()
    assert len(IEA_REGIONS) == 54
    assert all(tree.knows(r) for r in IEA_REGIONS)
    expected = {
        "USA": "North America",
        "Canada": "North America",
        "Mexico": "North America",
        "Costa Rica": "North America",
        "Brazil": "South America",
        "Chile": "South America",
        "Colombia": "South America",
        "China": "Asia",
        "India": "Asia",
        "Israel": "Asia",
        "Korea": "Asia",
        "United Arab Emirates": "Asia",
        "Turkiye": "Europe",
        "Norway": "Europe",
        "Iceland": "Europe",
        "Switzerland": "Europe",
        "United Kingdom": "Europe",
        "Cyprus": "Europe",
        "Seychelles": "Africa",
        "South Africa": "Africa",
        "Australia": "Oceania",
        "New Zealand": "Oceania",
    }
    for country, continent in expected.items():
        assert tree.kind(country) == "country", country
        assert tree.contains(continent, country), (country, continent)
        assert tree.contains("World", country)
    eu = [r for r in IEA_REGIONS if tree.contains("EU27", r)]
    assert len(eu) == 26 and "Norway" not in eu and "United Kingdom" not in eu  # no Malta there
    assert all(tree.contains("Europe", r) for r in eu)
    assert tree.contains("Europe", "EU27") and tree.contains("World", "Europe")
    assert tree.kind("Rest of the world") == "residual" and tree.parent("Rest of the world") == (
        name_key("World")
    )


@pytest.mark.parametrize(
    ("spellings", "where"),
    [
        (("USA", "United States", "United States of America", "U.S."), "North America"),
        (("UK", "United Kingdom", "Great Britain"), "Europe"),
        (("Korea", "South Korea", "Republic of Korea"), "Asia"),
        (("Czech Republic", "Czechia", "CZECHIA"), "EU27"),
        (("Turkiye", "Türkiye", "Turkey"), "Europe"),
        (("Viet Nam", "Vietnam"), "Asia"),
        (("EU27", "EU-27", "European Union"), "Europe"),
        (("World", "Global", "worldwide"), None),
    ],
)
def test_aliases_name_one_region(spellings: tuple[str, ...], where: str | None) -> None:
    tree = RegionTree()
    assert len({tree.key(s) for s in spellings}) == 1
    if where is not None:
        assert all(tree.contains(where, s) for s in spellings)


def test_continents_as_people_name_them() -> None:
    tree = RegionTree()
    for continent in ("North America", "South America", "Europe", "Asia", "Africa", "Oceania"):
        assert tree.kind(continent) == "continent"
        assert tree.parent(continent) == name_key("World")


def test_two_letter_codes_are_countries_only_through_country_name() -> None:
    assert (country_name("FR"), country_name("de"), country_name("GB")) == (
        "France",
        "Germany",
        "United Kingdom",
    )
    assert country_name("XX") is None and country_name("France") is None
    tree = RegionTree()
    assert not tree.knows("FR") and not tree.knows("CA")  # California? Canada? Not here


def test_the_shipped_table_is_one_tree_with_one_meaning_per_spelling() -> None:
    table = shipped_table()
    kinds = {r.kind for r in table.regions.values()}
    assert kinds == {"world", "continent", "aggregate", "country", "residual"}
    for key, region in table.regions.items():
        seen = {key}
        parent = region.parent
        while parent is not None:
            assert parent in table.regions and parent not in seen, region.name
            seen.add(parent)
            parent = table.regions[parent].parent
        assert region.kind == "world" or name_key("World") in seen
    meaning: dict[str, set[str]] = {}
    with (Path(__file__).parents[1] / "bot" / "data" / "regions.csv").open(encoding="utf-8") as f:
        for line in csv.DictReader(f):
            for spelling in (line["name"], *filter(None, line["aliases"].split("|"))):
                meaning.setdefault(name_key(spelling), set()).add(line["name"])
    assert [k for k, names in meaning.items() if len(names) > 1] == []
    assert all(table.find(k) is not None for k in meaning)
    countries = [r for r in table.regions.values() if r.kind == "country"]
    assert len(countries) == len(table.codes) == 250


def test_the_core_does_not_import_the_library_that_built_the_table() -> None:
    for name in ("bot.domain.regions", "bot.domain.series", "bot.ingest.importer"):
        importlib.import_module(name)
    assert "country_converter" not in sys.modules and "pandas" not in sys.modules
    assert len(shipped_table().regions) > 250


# -- summing ---------------------------------------------------------------------------------


def test_a_file_of_continents_counts_every_continent() -> None:
    # the bug: "Europe" was a built-in aggregate, so the world was Asia and North America
    rows = [row("Europe", 300), row("Asia", 500), row("North America", 200)]
    assert total(rows) == 1000
    assert coverage(rows)[2023] == Coverage(
        frozenset({"Europe", "Asia", "North America"}), frozenset({1}), False
    )
    # the example configuration's old aggregates list changes nothing: the table knows them
    old = RegionTree(frozenset({"World", "Europe", "EU27", "Other Europe"}))
    assert total(rows, tree=old) == 1000


def test_continents_and_their_countries_are_counted_once() -> None:
    rows = [
        row("Europe", 300),
        row("France", 100),
        row("Germany", 120),
        row("Asia", 500),
        row("China", 450),
        row("North America", 200),
    ]
    assert total(rows) == 1000  # not 1670
    assert total(rows, "Europe") == 300
    assert total(rows, "France") == 100
    assert total(rows, "EU27") == 220  # no EU27 figure: its members listed
    # a continent without a figure of its own is its countries
    rows2 = [*rows[:3], row("China", 450), row("Japan", 50)]
    assert total(rows2, "Asia") == 500
    assert total(rows2) == 800


def test_iea_like_world_europe_eu27_countries_and_rest_of_the_world() -> None:
    countries = [
        row("France", 50),
        row("Germany", 60),
        row("Norway", 40),
        row("USA", 150),
        row("China", 400),
        row("Rest of the world", 10),
    ]
    aggregates = [row("Europe", 300), row("EU27", 200)]
    rows = [row("World", 1000), *aggregates, *countries]
    assert total(rows) == 1000
    assert coverage(rows)[2023].regions == {"World"}
    assert total(rows, "Europe") == 300
    assert total(rows, "EU27") == 200
    # without the World row: Europe's own figure, never with EU27 or its countries
    no_world = [*aggregates, *countries]
    assert total(no_world) == 300 + 150 + 400 + 10
    assert coverage(no_world)[2023] == Coverage(
        frozenset({"Europe", "USA", "China", "Rest of the world"}), frozenset({1}), False
    )
    # a continent built from countries next to a residual is partial, and says so
    assert total(countries, "Europe") == 150
    assert coverage(countries, "Europe")[2023].partial
    assert coverage(countries, "Asia")[2023] == Coverage(frozenset({"China"}), frozenset({1}), True)
    assert not coverage(countries)[2023].partial  # the world holds the rest
    assert not coverage(no_world, "Europe")[2023].partial  # Europe's own figure


def test_eu27_is_never_added_to_europe_nor_to_its_countries() -> None:
    rows = [row("EU27", 200), row("France", 50), row("Norway", 40), row("United Kingdom", 30)]
    assert total(rows, "Europe") == 270  # EU27 + Norway + UK, France inside EU27
    assert total(rows, "World") == 270
    assert total([*rows, row("Europe", 500)], "World") == 500
    assert total([*rows, row("Europe", 500)], "EU27") == 200


def test_a_sub_region_rolls_into_its_parent_only_where_the_parent_has_none() -> None:
    tree = RegionTree(parents={"WA": "USA"})
    rows = [row("WA", 10, 2022), row("WA", 12, 2023), row("USA", 100, 2023)]
    assert total(rows, "USA", tree) == 10 + 100
    cover = coverage(rows, "USA", tree)
    assert cover[2022].regions == {"WA"} and cover[2023].regions == {"USA"}
    assert total(rows, "World", tree) == 110
    assert total(rows, "North America", tree) == 110
    # the configuration wins over the table: Georgia the state, not the country
    state = RegionTree(parents={"Georgia": "USA"})
    assert total([row("Georgia", 5), row("Texas", 7)], "USA", state) == 5
    assert state.contains("USA", "Georgia") and not state.contains("Asia", "Georgia")


def test_unknown_names_are_regions_of_their_own_in_the_world() -> None:
    rows = [row("Atlantis", 7), row("France", 3)]
    assert total(rows) == 10
    assert total(rows, "Atlantis") == 7
    assert total(rows, "Europe") == 3


def test_two_names_of_one_region_are_never_added() -> None:
    rows = [row("USA", 100), row("United States", 100), row("Czechia", 5, source=2)]
    assert total(rows) == 105
    assert total(rows, "United States") == 100
    assert total(rows, "Czech Republic") == 5


def test_the_best_source_is_chosen_per_region_and_year() -> None:
    rows = [row("France", 50, source=1), row("France", 70, source=2), row("Europe", 400, source=2)]
    assert total(rows, "France") == 50
    assert total(rows) == 400
    assert coverage(rows)[2023] == Coverage(frozenset({"Europe"}), frozenset({2}), False)
    rows = [row("France", 50, source=1), row("Germany", 70, source=2)]
    assert coverage(rows, "Europe")[2023] == Coverage(
        frozenset({"France", "Germany"}), frozenset({1, 2}), False
    )


def test_a_configured_aggregate_the_table_does_not_know_is_never_summed() -> None:
    tree = RegionTree(frozenset({"World", "Nordics"}), {"Norway": "Nordics", "Sweden": "Nordics"})
    rows = [row("Nordics", 90), row("Norway", 40), row("Sweden", 45), row("France", 5)]
    assert total(rows, "Nordics", tree) == 90
    assert total(rows, "World", tree) == 40 + 45 + 5  # its parts count where the table puts them
    assert total(rows, "Europe", tree) == 90
    assert total([row("Norway", 40), row("Sweden", 45)], "Nordics", tree) == 85


def test_configured_residuals_are_leaves_inside_their_parent() -> None:
    tree = RegionTree(residuals=frozenset({"Remaining EU"}), parents={"Remaining EU": "EU27"})
    rows = [row("France", 50), row("Remaining EU", 30), row("Norway", 10)]
    assert tree.is_residual("Remaining EU")
    assert total(rows, "EU27", tree) == 80
    assert total(rows, "Europe", tree) == 90
    assert not coverage(rows, "EU27", tree)[2023].partial
    # "Other X" names the region it is the rest of
    plain = RegionTree()
    assert plain.is_residual("Others Europe") and plain.contains("Europe", "Others Europe")
    assert coverage([row("France", 50), row("Other Europe", 9)], "EU27")[2023].partial
    nordics = RegionTree(parents={"Norway": "Nordics", "Sweden": "Nordics"})
    assert nordics.is_residual("Other Nordics") and nordics.contains("Nordics", "Other Nordics")


def test_levels_still_carry_across_sources_in_a_region_summed_from_parts() -> None:
    rows = [row("France", 100, 2022), row("France", 30, 2023, source=2)]
    stock = regional_increments(rows, PRIORITY, RegionTree(), "Europe", levels=True)
    assert sum(stock.values()) == 30  # source 2's own level replaces source 1's


# -- the properties ----------------------------------------------------------------------------

# An independent statement of the nesting the table and configuration must give.
PARENT = {
    "France": "EU27",
    "Germany": "EU27",
    "EU27": "EU28",
    "United Kingdom": "EU28",
    "EU28": "Europe",
    "Norway": "Europe",
    "Other Europe": "Europe",
    "Europe": "World",
    "China": "Asia",
    "Japan": "Asia",
    "Asia": "World",
    "WA": "USA",
    "USA": "North America",
    "Canada": "North America",
    "North America": "World",
    "Rest of the world": "World",
    "Atlantis": "World",
}
SPELLINGS = {"USA": ("USA", "United States"), "United Kingdom": ("UK", "United Kingdom")}
PLACES = sorted({*PARENT, "World"} - {"EU27", "EU28", "Europe", "Asia", "North America", "World"})
PROPERTY_TREE = RegionTree(parents={"WA": "USA"})


def inside(region: str) -> set[str]:
    """Every region in `region`, itself included, by PARENT."""
    out = {region}
    for r in PARENT:
        parent: str | None = r
        while parent is not None:
            if parent == region:
                out.add(r)
            parent = PARENT.get(parent)
    return out


def test_the_property_nesting_is_the_trees() -> None:
    for outer in {*PARENT, "World"}:
        for region in PARENT:
            assert PROPERTY_TREE.contains(outer, region) == (region in inside(outer) - {outer})


vehicles_st = st.dictionaries(
    st.tuples(st.sampled_from(PLACES), st.sampled_from((2022, 2023))),
    st.integers(1, 1000),
    min_size=1,
)
reports_st = st.lists(
    st.tuples(
        st.sampled_from(sorted({*PARENT, "World"})),
        st.sampled_from((2022, 2023)),
        st.sampled_from((1, 2)),
        st.integers(0, 1),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(vehicles=vehicles_st, reports=reports_st, asked=st.sampled_from(sorted({*PARENT, "World"})))
def test_a_total_counts_each_vehicle_once_and_omits_no_region(
    vehicles: dict[tuple[str, int], int],
    reports: list[tuple[str, int, int, int]],
    asked: str,
) -> None:
    """Whatever regions the sources report (each figure true: the vehicles in it), a region's
    total is exactly the vehicles in the regions reported inside it: none counted twice, none
    of a reported region left out; the region's own figure where it has one."""
    rows: list[IncRow] = []
    reported: dict[int, set[str]] = {}
    for region, year, source, spelling in reports:
        names = SPELLINGS.get(region, (region,))
        name = names[spelling % len(names)]
        if any(r.region == name and r.month.year == year and r.source_id == source for r in rows):
            continue
        units = sum(
            n for (place, y), n in vehicles.items() if y == year and place in inside(region)
        )
        rows.append(row(name, units, year, source))
        reported.setdefault(year, set()).add(region)
    figures = regional_increments(rows, PRIORITY, PROPERTY_TREE, asked)
    cover = regional_coverage(rows, PRIORITY, PROPERTY_TREE, asked)
    within = inside(asked)
    for year in (2022, 2023):
        got = sum(v for m, v in figures.items() if m.year == year)
        there = reported.get(year, set())
        if asked in there:
            covered = within
            outermost = {asked}
        else:
            inner = {r for r in there if r in within}
            covered = set().union(*(inside(r) for r in inner)) if inner else set()
            outermost = {r for r in inner if not any(r in inside(o) - {o} for o in inner)}
        expected = sum(n for (place, y), n in vehicles.items() if y == year and place in covered)
        assert got == expected
        if not outermost:
            assert year not in cover
            continue
        names = {SPELLINGS.get(r, (r,))[0] for r in outermost} | {
            SPELLINGS.get(r, (r,))[1] for r in outermost if r in SPELLINGS
        }
        assert cover[year].regions <= names
        assert {PROPERTY_TREE.key(n) for n in cover[year].regions} == {
            PROPERTY_TREE.key(r) for r in outermost
        }
        holders = {r for r in PARENT.values() if asked in inside(r) and r != asked} | (
            {"World"} if asked != "World" else set()
        )
        residual_outside = any(
            r in ("Rest of the world", "Other Europe") and PARENT[r] in holders for r in there
        )
        assert cover[year].partial == (asked not in there and residual_outside)


# -- what an import says -----------------------------------------------------------------------


def test_warnings_name_unknown_regions_codes_overlaps_and_partial_continents() -> None:
    tree = RegionTree(parents={"WA": "USA"})
    lines = region_warnings(
        {
            "mixed": ["Atlantis", "FR", "France", "Europe", "Germany", "WA", "USA"],
            "codes": ["FR", "DE"],
            "partial": ["France", "Germany", "China", "Rest of the world"],
            "twice": ["USA", "United States"],
        },
        tree,
        country_level={"codes"},
    )
    text = "\n".join(lines)
    assert "mixed: regions the region table does not know" in text and "Atlantis" in text
    assert (
        "mixed: two-letter regions not read as countries, each counted as a region of its own "
        '(if they are, set [sources.mixed] regions = "countries"): FR'
    ) in lines
    assert (
        "codes: two-letter regions not read as countries, each counted as a region of its own: "
        "DE and FR" in lines
    )
    assert any(
        line.startswith("mixed: Europe and USA hold other regions of the file (2 and 1)")
        for line in lines
    )
    assert (
        "partial: Asia and Europe have no figure of their own here: summed from their parts, "
        "they are partial (Rest of the world may hold more of them)"
    ) in lines
    assert (
        "twice: USA and United States name one region: a total counts only USA where both have "
        "figures"
    ) in lines
    assert region_warnings({"clean": ["France", "Germany", "Norway"]}, tree) == []


async def test_an_import_says_what_its_regions_mean(tmp_path: Path, store: SqliteStore) -> None:
    path = tmp_path / "continents.csv"
    path.write_text(
        "period,region,make,model,units\n"
        "2023,Europe,,,300\n2023,France,,,100\n2023,Asia,,,500\n2023,Narnia,,,5\n"
    )
    report = await import_file(store, default_config(), path)
    assert (
        "continents: regions the region table does not know, each counted as a region of its own "
        "inside the world (if one holds another, say so in [regions.parents]): Narnia"
    ) in report.notices
    assert (
        "continents: Europe holds France: a total counts a region's own figure where it has one, "
        "never with the regions inside it"
    ) in report.notices


async def world_total(store: SqliteStore, region: str = "World") -> int:
    config = default_config()
    reader = SeriesReader(store, region_tree(config), list(config.groups))
    catalog = await load_catalog(store, config)
    return (await queries_total(reader, catalog, ALL, region)).total


async def test_the_issue_files_continents_alone_and_continents_with_countries(
    tmp_path: Path, store: SqliteStore
) -> None:
    """Issue 15: "a file whose regions are continents gives a world total without Europe; a
    file with continents and their countries counts both; the import says nothing"."""
    continents = tmp_path / "continents.csv"
    continents.write_text(
        "period,region,make,model,units\n"
        "2023,Europe,,,300\n2023,Asia,,,500\n2023,North America,,,200\n"
    )
    report = await import_file(store, default_config(), continents)
    assert report.notices == []  # nothing overlaps, nothing unknown
    assert await world_total(store) == 1000  # was 700: Europe left out
    both = tmp_path / "both.csv"
    both.write_text(
        "period,region,make,model,units\n"
        "2023,Europe,,,300\n2023,France,,,100\n2023,Germany,,,120\n2023,China,,,450\n"
        "2023,Asia,,,500\n"
    )
    async with SqliteStore(tmp_path / "both.sqlite3") as other:
        report = await import_file(other, default_config(), both)
        assert await world_total(other) == 800  # was 1170 (Asia and China, France, Germany)
        assert await world_total(other, "Europe") == 300
    assert report.notices == [
        "both: Europe and Asia hold other regions of the file (2 and 1): a total counts a "
        "region's own figure where it has one, never with the regions inside it"
    ]


def test_a_country_level_source_reads_two_letter_codes_as_countries(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("year,country,units\n2023,FR,5\n2023,DE,7\n2023,Rest of the world,1\n")
    columns = {"period": "year", "region": "country", "units": "units"}
    source = SourceConfig("codes", columns=columns, regions="countries")
    parsed = parse_mapped(path, source)
    assert parsed.problems == []
    assert [r.region for r in parsed.records["codes"]] == ["France", "Germany", "Rest of the world"]
    parsed = parse_mapped(path, replace(source, regions="mixed"))
    assert [r.region for r in parsed.records["codes"]] == ["FR", "DE", "Rest of the world"]


def test_the_configuration_reads_regions_rules(tmp_path: Path) -> None:
    path = tmp_path / "evbot.toml"
    path.write_text(
        '[regions]\nresiduals = ["Remaining EU"]\n[regions.parents]\n"Remaining EU" = "EU27"\n'
        '[sources.codes]\nregions = "countries"\n'
        'columns = { period = "year", region = "country", units = "units" }\n'
    )
    config = load_config(path, environ={})
    assert config.sources["codes"].regions == "countries"
    tree = region_tree(config)
    assert tree.is_residual("Remaining EU") and tree.contains("EU27", "Remaining EU")


def test_a_cycle_through_the_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evbot.toml"
    path.write_text('[regions.parents]\nEurope = "France"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == (
        f"{path}: regions.parents.Europe: regions form a cycle: "
        "Europe > France > EU27 > EU28 > Europe"
    )


def test_every_shipped_country_has_its_two_letter_code() -> None:
    """A country's code is ISO 3166's two letters (country_converter writes a pattern such as
    ^GR$|^EL$ for a country with two): places are named by it in every language, and sources
    that name countries by code find them."""
    from bot.domain.places import in_place
    from bot.domain.regions import country_name, shipped_table

    table = shipped_table()
    countries = [key for key, r in table.regions.items() if r.kind == "country"]
    assert len(countries) > 150
    bad = [key for key in countries if key not in set(table.codes.values())]
    assert not bad, bad
    assert all(len(code) == 2 and code.isalpha() for code in table.codes)
    assert country_name("GR") == "Greece"
    assert in_place("Greece", "de") == " in Griechenland"
