"""A continent the data gives only as its countries is asked, answered and announced as the
import note says: "summed from their parts, they are partial" (counting rule 6).

A file of countries imports with a note that Asia has no figure of its own and is summed from
its countries; `evbot total --region Asia` then answers that sum, told as what it covers, the
detector announces Asia's milestones (as it announces the world summed from its countries), and
a fact that is only one country's is told under the country, never under its continent.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.text import render_text
from bot.app.bootstrap import open_commands
from bot.cli.main import main
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.detection.replay import replay
from bot.domain.channels import Channel
from bot.domain.coverage import SourceFacts, tell
from bot.domain.events import GrowthEvent, MilestoneEvent, RecordEvent
from bot.domain.facts import region_rank
from bot.domain.hierarchy import Hierarchy
from bot.domain.periods import Month
from bot.domain.settings import default_config
from bot.domain.subjects import ALL
from bot.domain.unlike_years import why_not
from bot.reading.queries import load_catalog, region_tree
from bot.store.sqlite.sales import SqliteStore
from tests.test_subscriptions import C1, C2, SOURCE, rec, start_bot

CHAT = Invocation(Channel("console", "local", "terminal"), "alice", can_manage=True)
IEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "iea_global_ev_data_2024.csv"

# countries only: Asia, Europe and the world are summed from them; the rest of the world may
# hold more of Asia (partial)
COUNTRIES = (
    "period,region,make,model,units\n"
    "2022,China,,,5000\n2022,Japan,,,700\n2022,France,,,900\n2022,Rest of the world,,,40\n"
    "2023,China,,,6000\n2023,Japan,,,800\n2023,France,,,1000\n2023,Rest of the world,,,50\n"
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The countries' file imported into a fresh store: (db, the import's output)."""
    path = tmp_path / "countries.csv"
    path.write_text(COUNTRIES)
    db = str(tmp_path / "countries.sqlite3")
    status, out, err = run(capsys, "import", str(path), "--source", "t", "--db", db)
    assert status == 0, err
    return db, out + err


def test_a_continent_the_note_says_is_summed_is_answered_as_that_sum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, said = imported(tmp_path, capsys)
    assert (
        "t: Asia and Europe have no figure of their own here: summed from their parts, "
        "they are partial (Rest of the world may hold more of them)"
    ) in said
    status, out, err = run(capsys, "total", "all", "--region", "Asia", "--json", "--db", db)
    assert status == 0, err
    data = json.loads(out)
    assert (data["region"], data["total"]) == ("Asia", 12_500)  # China and Japan, both years
    # any case, as a region is typed; and told as what it covers, never as all of Asia
    status, out, err = run(capsys, "total", "all", "--region", "asia", "--db", db)
    assert status == 0, err
    assert out.startswith("all EVs in Asia (China and Japan only): 12,500 electric")
    # a continent is a subject of its own, as a region with figures is
    status, out, err = run(capsys, "total", "asia", "--db", db)
    assert status == 0, err
    assert out.startswith("all EVs in Asia (China and Japan only): 12,500 electric")
    status, out, err = run(
        capsys, "total", "all", "--region", "Europe", "--period", "2023", "--db", db
    )
    assert status == 0, err
    assert "all EVs in Europe (France only), 2023: 1,000" in out
    # a continent none of whose regions has figures is still refused, with close names
    status, out, err = run(capsys, "total", "all", "--region", "North America", "--db", db)
    assert (status, out) == (1, "")
    assert err.startswith("evbot total: --region: no figures for 'North America'.")


def test_chat_asks_and_follows_a_continent_as_the_cli_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = imported(tmp_path, capsys)

    async def chat() -> None:
        async with SqliteStore(db) as store:
            config = default_config()
            await store.sync_groups(config.groups)
            ctx = await open_commands(store, config)
            total = await run_text(ctx, CHAT, "/ev-total all region:asia")
            assert total.ok and "12,500" in render_text(total.message)
            assert "Asia (China and Japan only)" in render_text(total.message)
            followed = await run_text(ctx, CHAT, "/ev-subscribe all region:Asia")
            assert followed.ok, render_text(followed.message)
            assert [s.spec.region for s in await store.subscriptions(CHAT.channel)] == ["Asia"]
            refused = await run_text(ctx, CHAT, "/ev-total all region:Oceania")
            assert not refused.ok
            assert "no figures for 'Oceania'" in render_text(refused.message)

    asyncio.run(chat())


def test_a_region_is_told_in_its_continent_and_the_world() -> None:
    config = replace(default_config(), region_parents={"WA": "USA"})
    hierarchy = Hierarchy.of(config, region_tree(config))
    assert hierarchy.regions_of("China") == ["China", "Asia", "World"]
    # EU27 and EU28 are the table's inner aggregates: told only where a source names them
    assert hierarchy.regions_of("France") == ["France", "Europe", "World"]
    assert hierarchy.regions_of("Europe") == ["Europe", "World"]
    assert hierarchy.regions_of("WA") == ["WA", "USA", "North America", "World"]
    assert hierarchy.regions_of("Narnia") == ["Narnia", "World"]
    assert hierarchy.regions_of("World") == ["World"]
    assert hierarchy.related("Japan", "Asia") and not hierarchy.related("Japan", "Europe")


def test_a_continent_is_less_specific_than_its_countries() -> None:
    assert region_rank("World") < region_rank("Asia") < region_rank("China")
    assert region_rank("North America") < region_rank("USA") == region_rank("Narnia")


async def test_the_catalog_names_the_continents_summed_from_its_regions(tmp_path: Path) -> None:
    config = default_config()
    async with SqliteStore(tmp_path / "s.sqlite3") as store:
        await store.import_records(
            [(SOURCE, [rec("2023-01", "", "", 5, "China"), rec("2023-01", "", "", 5, "Europe")])],
            file="t",
        )
        catalog = await load_catalog(store, config)
    # Europe has figures of its own; Asia is China's; nothing holds the rest
    assert sorted(catalog.regions) == ["Asia", "China", "Europe"]
    assert catalog.resolve("asia").region == "Asia"


CHINA_AND_JAPAN = [
    rec("2020-01", "BYD", "Han", 60_000, "China"),
    rec("2020-01", "Nissan", "Leaf", 35_000, "Japan"),
    rec("2020-01", "Renault", "Zoe", 810_000, "France"),
]
# Asia (China and Japan) passes 100,000; neither country does, nor the world
ASIA_PASSES_100K = [rec("2020-02", "BYD", "Han", 6_000, "China")]


async def test_a_continent_summed_from_its_countries_is_announced(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, CHINA_AND_JAPAN)
    try:
        await bot.follow("all", channel=C1, region="Asia")
        await bot.follow("all", channel=C2, region="China")
        await bot.drain()
        events = await bot.feed(ASIA_PASSES_100K)
        told = [
            (e.event.subject.name, e.event.region, e.event.headline)
            for e in events
            if isinstance(e.event, MilestoneEvent)
        ]
        assert ("all EVs", "Asia", 100_000) in told
        posts = dict(await bot.drain())
        assert posts[C1].title == "100,000 electric cars sold in Asia (China and Japan only)"
        assert C2 not in posts  # China alone passed no threshold of its ladder
        replayed = [
            (e.subject.name, e.region, e.headline)
            for e in await replay(bot.store, bot.config)
            if isinstance(e, MilestoneEvent)
        ]
        assert ("all EVs", "Asia", 100_000) in replayed
    finally:
        await bot.store.close()


USA_ONLY = [rec("2020-01", "Nissan", "Leaf", 95_000, "USA")]


async def test_a_fact_of_one_country_is_told_under_the_country_not_its_continent(
    tmp_path: Path,
) -> None:
    bot = await start_bot(tmp_path, USA_ONLY)
    try:
        await bot.follow("nissan leaf", channel=C1, region="North America")
        await bot.follow("nissan leaf", channel=C1, region="USA")
        await bot.drain()
        events = await bot.feed([rec("2020-02", "Nissan", "Leaf", 6_000, "USA")])
        regions = {
            e.event.region
            for e in events
            if isinstance(e.event, MilestoneEvent) and e.event.subject.name == "Nissan Leaf"
        }
        assert regions == {"USA", "North America", "World"}
        posts = dict(await bot.drain())
        assert posts[C1].title == "Nissan Leaf passes 100,000 sales in the USA"
        told = [
            (e.subject.name, e.region, e.headline)
            for e in await replay(bot.store, bot.config)
            if isinstance(e, MilestoneEvent)
        ]
        assert [t for t in told if t[2] == 100_000] == [("Nissan Leaf", "USA", 100_000)]
    finally:
        await bot.store.close()


@pytest.mark.skipif(not IEA.is_file(), reason=f"the shared IEA file is not at {IEA}")
def test_the_iea_files_continents_are_answered_and_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "iea.sqlite3")
    status, out, err = run(capsys, "import", str(IEA), "--source", "iea", "--db", db)
    assert status == 0, err
    assert "Africa, Asia, North America, Oceania and South America have no figure" in out + err
    for continent in ("Africa", "Asia", "North America", "Oceania", "South America"):
        status, out, err = run(capsys, "total", "all", "--region", continent, "--db", db)
        assert status == 0, (continent, err)
        assert out.startswith(f"all EVs in {continent} (")  # what it covers, never all of it
    status, out, err = run(capsys, "replay", "--from", "2022", "--to", "2022", "--json", "--db", db)
    assert status == 0, err
    regions = {json.loads(line)["region"] for line in out.splitlines()}
    assert {"Asia", "North America", "Europe"} <= regions


def test_a_continent_of_a_monthly_and_a_yearly_country_claims_no_year_of_its_months(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """North America summed from the USA by the month and Canada by the year: its years are told
    whole (Canada's figure has no months), so no month of one is a record or a year's growth,
    and a threshold crossed in a month is told as that month, never as "through 2023"."""
    months = tmp_path / "usa.csv"
    months.write_text(
        "period,region,make,model,units\n"
        + "".join(f"2022-{m:02d},USA,,,1000\n2023-{m:02d},USA,,,1500\n" for m in range(1, 13))
    )
    years = tmp_path / "canada.csv"
    years.write_text("period,region,make,model,units\n2022,Canada,,,3000\n2023,Canada,,,4000\n")
    db = str(tmp_path / "mixed.sqlite3")
    for path, source in ((months, "monthly"), (years, "yearly")):
        status, _, err = run(capsys, "import", str(path), "--source", source, "--db", db)
        assert status == 0, err
    status, out, err = run(capsys, "replay", "--json", "--db", db)
    assert status == 0, err
    told = [json.loads(line) for line in out.splitlines()]
    america = [e for e in told if e["region"] == "North America"]
    assert [e for e in america if e["kind"] == "record"] == []
    # 2023 against 2022, both whole (22,000 against 15,000): the only growth told
    assert [(e["period"], e["granularity"]) for e in america if e["kind"] == "growth"] == [
        ("2023", "year")
    ]
    passed = {
        e["thresholds"]["highest"]: (e["period"], e["granularity"])
        for e in america
        if e["kind"] == "milestone"
    }
    # 15,000 through 2022, USA's 10,500 more by July 2023
    assert passed[25_000] == ("2023-07", "month")


def test_no_part_of_a_year_told_whole_is_a_years_growth_or_a_record() -> None:
    facts = SourceFacts(
        {1: frozenset(), 2: frozenset({2022, 2023})}, {1: "m", 2: "y"}, {1: 1, 2: 2}
    )
    mixed_years: dict[int, set[tuple[str, int]]] = {
        y: {("USA", 1), ("Canada", 2)} for y in (2022, 2023)
    }
    usa_only: dict[int, set[tuple[str, int]]] = {y: {("USA", 1)} for y in (2022, 2023)}
    july = GrowthEvent(ALL, "North America", "sales", Month(2023, 7), 10_500, 7_000)
    december = replace(july, period=Month(2023, 12), value=22_000, previous=15_000)
    assert tell(july, mixed_years, {}, facts) is None
    assert "sums whole years and months" in why_not(july, mixed_years, facts)
    told = tell(december, mixed_years, {}, facts)
    assert told is not None and told.granularity == "year"
    # months of months are compared as ever
    told = tell(july, usa_only, {}, facts)
    assert told is not None and told.granularity == "month"
    record = RecordEvent(
        ALL, "North America", "sales", Month(2023, 12), 5_500, 4_000, Month(2022, 12)
    )
    assert (
        tell(record, mixed_years, {Month(2022, 12): 4_000, Month(2023, 12): 5_500}, facts) is None
    )
