"""A figure keeps its granularity: a year is a year, from the import to the message."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.detection.replay import replay
from bot.domain.announcer import announce
from bot.domain.event_codec import event_from_dict, event_to_dict
from bot.domain.events import Event, GrowthEvent, MilestoneEvent, RecordEvent, Subject
from bot.domain.formatting import in_region
from bot.domain.periods import Month, news_cutoff
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import Config, MilestoneConfig, SourceConfig, default_config
from bot.domain.subjects import ALL
from bot.reading.queries import series_reader
from bot.store.sqlite.sales import SqliteStore

YEARLY = SourceSpec("yearly-feed")
MONTHLY = SourceSpec("monthly-feed")


def rec(period: str, units: int, region: str = "World") -> SalesRecord:
    return SalesRecord(period, region, "Nissan", "Leaf", units)


async def open_store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    await store.open()
    return store


async def test_a_source_knows_the_years_it_gives_whole(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "s.db")
    try:
        await store.import_records([(YEARLY, [rec("2022", 10), rec("2023", 20)])])
        await store.import_records([(MONTHLY, [rec("2023-01", 1), rec("2023-02", 2)])])
        by_name = {s.name: s for s in await store.sources()}
        assert by_name["yearly-feed"].yearly == frozenset({2022, 2023})
        assert by_name["monthly-feed"].yearly == frozenset()
    finally:
        await store.close()


def test_for_yearly_figures_the_latest_year_and_the_one_before_are_news() -> None:
    latest = Month(2023, 12)
    assert news_cutoff(latest, frozenset({2023})) == Month(2022, 1)
    assert news_cutoff(latest, frozenset()) == Month(2023, 9)  # three months, for months
    assert news_cutoff(Month(2024, 3), frozenset({2023})) == Month(2023, 12)


async def test_a_revised_yearly_figure_of_the_year_before_the_latest_is_news(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path / "s.db")
    try:
        await store.import_records([(YEARLY, [rec("2021", 5), rec("2022", 10), rec("2023", 20)])])
        head = await store.journal_head()
        await store.import_records([(YEARLY, [rec("2021", 6), rec("2022", 11), rec("2023", 20)])])
        changes = {str(e.month): e.history for e in await store.journal_since(head)}
        # with monthly figures the cut-off would be 2023-09, and 2022 history
        assert changes == {"2021-12": True, "2022-12": False}
    finally:
        await store.close()


def test_the_iea_stock_is_a_source_of_its_own(tmp_path: Path) -> None:
    from bot.ingest.iea import parse_iea

    path = tmp_path / "iea.csv"
    path.write_text(
        "region,category,parameter,mode,powertrain,year,unit,value\n"
        "World,Historical,EV sales,Cars,BEV,2015,Vehicles,320000\n"
        "World,Historical,EV stock,Cars,BEV,2015,Vehicles,730000\n"
        "World,Projection-STEPS,EV stock,Cars,BEV,2030,Vehicles,90000000\n"
        "World,Historical,EV stock share,Cars,EV,2015,percent,0.1\n"
        "World,Historical,EV stock,Buses,BEV,2015,Vehicles,170000\n",
        encoding="utf-8",
    )
    sales = parse_iea(path, "iea").records["iea"]
    stock = parse_iea(path, "iea-stock", parameter="EV stock").records["iea-stock"]
    assert [(r.period, r.units, r.cumulative) for r in sales] == [("2015", 320000, False)]
    # projections, percentages and other vehicle modes are never units
    assert [(r.period, r.units, r.cumulative) for r in stock] == [("2015", 730000, True)]


EVERYTHING = Subject("all", "all", "all EVs")
LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")


def test_a_yearly_milestone_is_dated_by_its_year_and_so_is_its_pace() -> None:
    event = MilestoneEvent(
        EVERYTHING,
        "World",
        "sales",
        (40_000_000,),
        Month(2023, 12),
        40_512_000,
        source="IEA (2024), Global EV Data Explorer, CC BY 4.0",
        next_threshold=50_000_000,
        projected=Month(2025, 12),
        granularity="year",
    )
    msg = announce(event)
    assert msg.body == (
        "Electric car sales have passed 40,000,000 (40,512,000 through 2023)."
        " At this pace, 50,000,000 around 2025."
    )
    assert "December" not in f"{msg.title} {msg.body} {msg.footer} {msg.fields}"
    assert msg.footer == (
        "Source: IEA (2024), Global EV Data Explorer, CC BY 4.0 · data through 2023"
    )
    data = event_to_dict(event)
    assert (data["period"], data["projected"]) == ("2023", "2025")
    assert event_from_dict(data) == event


def test_a_yearly_record_is_the_best_year_and_growth_compares_years() -> None:
    record = RecordEvent(
        EVERYTHING,
        "Norway",
        "sales",
        Month(2023, 12),
        114_000,
        100_000,
        Month(2022, 12),
        granularity="year",
    )
    msg = announce(record)
    assert msg.body == (
        "Electric car sales had their best year yet in Norway: 114,000 in 2023"
        " (previous best 100,000 in 2022)."
    )
    assert "month" not in msg.title
    growth = GrowthEvent(
        EVERYTHING, "Norway", "sales", Month(2023, 12), 135, 100, granularity="year"
    )
    text = announce(growth)
    assert text.title == "Electric car sales in Norway up 35.0% on 2022"
    assert text.body == "Electric car sales in Norway reached 135 in 2023, up 35.0% on 2022's 100."


def test_a_figure_made_of_some_regions_names_them_never_worldwide() -> None:
    us_only = MilestoneEvent(
        EVERYTHING, "World", "sales", (100_000,), Month(2013, 6), 101_000, covers=("USA",)
    )
    msg = announce(us_only)
    assert "worldwide" not in msg.title
    assert msg.title == "100,000 electric cars sold in the USA"
    assert msg.body.startswith("Electric car sales in the USA have passed 100,000")
    model = MilestoneEvent(
        LEAF, "World", "sales", (100_000,), Month(2016, 6), 101_000, covers=("USA", "Norway")
    )
    assert announce(model).title == "Nissan Leaf passes 100,000 sales in the USA and Norway"
    many = MilestoneEvent(
        LEAF,
        "World",
        "sales",
        (100_000,),
        Month(2016, 6),
        101_000,
        covers=tuple(f"C{i}" for i in range(14)),
    )
    assert announce(many).title.endswith("in 14 regions")
    wa = MilestoneEvent(
        EVERYTHING, "USA", "stock", (50_000,), Month(2019, 7), 50_632, covers=("WA",)
    )
    assert announce(wa).title == "50,000 electric vehicles registered in the USA (WA only)"


# -- through the detector and replay, on small stores written here ---------------------------


def _config(**sources: SourceConfig) -> Config:
    return dataclasses.replace(
        default_config(),
        ladders={"small": (100, 200, 500, 1000)},
        milestones=MilestoneConfig(ladders=("small",), min_months=1, min_parent_total=1),
        sources=dict(sources),
    )


async def _replayed(
    path: Path, config: Config, *loads: tuple[SourceSpec, list[SalesRecord]]
) -> list[Event]:
    store = await open_store(path)
    try:
        await store.sync_groups(config.groups)
        for spec, records in loads:
            await store.import_records([(spec, records)])
        return await replay(store, config)
    finally:
        await store.close()


def _all(region: str, period: str, units: int) -> SalesRecord:
    return SalesRecord(period, region, "", "", units)


async def test_yearly_only_data_is_never_told_as_months(tmp_path: Path) -> None:
    events = await _replayed(
        tmp_path / "s.db",
        _config(),
        (YEARLY, [_all("World", "2022", 150), _all("World", "2023", 700)]),
    )
    assert events, "the yearly figures cross thresholds"
    texts = [announce(e).body for e in events]
    assert all(e.granularity == "year" for e in events)
    assert not any("December" in t or "month" in t for t in texts), texts
    assert (
        "Electric car sales had their best year yet: 700 in 2023 (previous best 150 in 2022)."
        in texts
    )
    assert {event_to_dict(e)["period"] for e in events} == {"2022", "2023"}


async def test_growth_across_unlike_sources_is_not_told(tmp_path: Path) -> None:
    # 2019 from a yearly source, 2020 from a monthly one of better priority: no comparison
    monthly = [_all("USA", f"2020-{m:02d}", 10) for m in range(1, 13)]
    events = await _replayed(
        tmp_path / "s.db",
        _config(),
        (
            SourceSpec("yearly-feed", priority=50),
            [_all("USA", "2018", 400), _all("USA", "2019", 500)],
        ),
        (SourceSpec("monthly-feed", priority=20), monthly),
    )
    assert not [e for e in events if e.kind == "growth"], [announce(e).body for e in events]
    # `replay --explain` says why
    store = await open_store(tmp_path / "s.db")
    try:
        untold: list[tuple[Event, str]] = []
        await replay(store, _config(), untold=untold)
    finally:
        await store.close()
    reasons = {reason for event, reason in untold if event.kind == "growth"}
    assert reasons == {
        "2020 is taken from USA (monthly-feed) and 2019 from USA (yearly-feed): not like for like"
    }
    # the same months of one source compare
    more = [_all("USA", f"2021-{m:02d}", 12) for m in range(1, 13)]
    events = await _replayed(
        tmp_path / "t.db",
        _config(),
        (SourceSpec("monthly-feed", priority=20), monthly + more),
    )
    assert [e for e in events if e.kind == "growth" and e.region == "USA"]


async def test_a_world_made_of_one_country_is_named_as_that_country(tmp_path: Path) -> None:
    from bot.detection.detector import Detector

    config = _config()
    store = await open_store(tmp_path / "s.db")
    try:
        await store.sync_groups(config.groups)
        history = [SalesRecord(f"2010-{m:02d}", "USA", "Nissan", "Leaf", 5) for m in (1, 2)]
        await store.import_records([(MONTHLY, history)])
        detector = Detector(store, config)
        await detector.poll()  # the first import is history
        news = [SalesRecord(f"2010-{m:02d}", "USA", "Nissan", "Leaf", 60) for m in (3, 4)]
        await store.import_records([(MONTHLY, news)])
        events = [s.event for s in await detector.poll()]
    finally:
        await store.close()
    world = [e for e in events if e.region == "World"]
    assert world, "the world's series moved with the USA's"
    for event in world:
        assert event.covers == ("USA",)
        assert event.source == "monthly-feed"
        text = announce(event)
        assert "worldwide" not in text.title
        assert "in the USA" in text.title, text.title


async def test_a_sample_source_never_makes_a_total(tmp_path: Path) -> None:
    config = _config(sample=SourceConfig("sample", metric="stock", coverage="sample"))
    store = await open_store(tmp_path / "s.db")
    try:
        await store.import_records(
            [(SourceSpec("sample", metric="stock"), [_all("WA", "2026-01", 5000)])]
        )
        reader = series_reader(store, config)
        assert await reader.monthly(ALL, "WA", "stock") == {}
        assert await replay(store, config) == []
    finally:
        await store.close()


async def test_stock_is_never_told_as_a_month_of_registrations(tmp_path: Path) -> None:
    stock = SourceSpec("stock-feed", metric="stock")
    levels = [
        SalesRecord(f"2019-{m:02d}", "WA", "", "", 100 * m, cumulative=True) for m in range(1, 13)
    ] + [
        SalesRecord(f"2020-{m:02d}", "WA", "", "", 1300 + 150 * m, cumulative=True)
        for m in range(1, 13)
    ]
    events = await _replayed(tmp_path / "s.db", _config(), (stock, levels))
    assert events
    assert {e.kind for e in events} == {"milestone"}


def test_a_chart_of_yearly_figures_draws_years_and_says_so() -> None:
    from bot.charts.data import Frame, monthly_data
    from bot.charts.render import render

    monthly = {Month(y, 12): 1000 * (y - 2014) for y in range(2015, 2024)}
    frame = Frame(subject="all EVs", region="Norway", yearly=True, as_of=Month(2023, 12))
    data = monthly_data(frame, monthly)
    assert [m.year for m in data.months] == list(range(2016, 2024))
    assert data.units == tuple(1000 * (y - 2014) for y in range(2016, 2024))
    assert data.year_before == tuple(1000 * (y - 2015) for y in range(2016, 2024))
    chart = render(data)
    texts = " ".join(chart.plotted.texts)
    assert "each year, beside the year before" in texts
    assert "Data through 2023" in texts
    assert "Dec" not in texts and "December" not in texts


def test_a_chart_of_a_partial_figure_never_says_worldwide() -> None:
    from bot.charts.data import Frame, cumulative_data, describe
    from bot.charts.render import render

    frame = Frame(subject="Nissan Leaf", covers=("USA",), as_of=Month(2019, 12))
    data = cumulative_data(frame, {Month(2019, m): 100 for m in range(1, 13)}, [])
    texts = " ".join(render(data).plotted.texts)
    assert "worldwide" not in texts
    assert "in the USA" in texts
    assert describe(data).startswith("Nissan Leaf in the USA: 1,200")


async def test_a_total_asked_inside_a_yearly_year_runs_to_the_year_before_and_says_why(
    tmp_path: Path,
) -> None:
    from bot.domain.coverage import source_facts
    from bot.reading.queries import load_catalog, total

    config = _config()
    store = await open_store(tmp_path / "s.db")
    try:
        await store.import_records(
            [(YEARLY, [_all("Norway", "2022", 100), _all("Norway", "2023", 50)])]
        )
        reader = series_reader(store, config)
        catalog = await load_catalog(store, config)
        facts = source_facts(await store.sources(), config)
        answer = await total(reader, catalog, ALL, "Norway", Month(2023, 6), "sales", facts, True)
        assert answer.total == 100
        assert answer.as_json()["as_of"] == "2022"
        assert answer.told.note == (
            "2023 is known only as a whole year (yearly-feed), so the figure runs through 2022"
        )
        assert answer.explanation[0] == "2022: Norway's own figures, whole years, from yearly-feed"
        whole = await total(reader, catalog, ALL, "World", None, "sales", facts)
        assert (whole.total, whole.told.covers) == (150, ("Norway",))
    finally:
        await store.close()


async def test_a_total_to_a_month_of_a_year_of_monthly_and_whole_year_parts_is_that_month_s(
    tmp_path: Path,
) -> None:
    """North America summed from the USA by the month and Canada by the year: as of August its
    figure holds the USA's months and Canada's earlier years, so it is told as August, not as
    the year, and says the year's whole figures are not in it; as of December it holds both."""
    from bot.domain.coverage import source_facts
    from bot.reading.queries import load_catalog, total

    config = _config()
    store = await open_store(tmp_path / "s.db")
    try:
        months = [_all("USA", f"{y}-{m:02d}", 1000) for y in (2022, 2023) for m in range(1, 13)]
        await store.import_records([(MONTHLY, months)])
        await store.import_records(
            [(YEARLY, [_all("Canada", "2022", 3000), _all("Canada", "2023", 4000)])]
        )
        reader = series_reader(store, config)
        catalog = await load_catalog(store, config)
        facts = source_facts(await store.sources(), config)
        august = await total(reader, catalog, ALL, "North America", Month(2023, 8), "sales", facts)
        assert august.total == 12_000 + 8_000 + 3_000
        data = august.as_json()
        assert (data["as_of"], data["granularity"]) == ("2023-08", "month")
        assert august.told.note == (
            "without 2023's whole-year figures (yearly-feed), counted in December only"
        )
        december = await total(
            reader, catalog, ALL, "North America", Month(2023, 12), "sales", facts
        )
        assert december.total == 24_000 + 7_000
        data = december.as_json()
        assert (data["as_of"], data["granularity"], december.told.note) == ("2023", "year", "")
        in_german = await total(
            reader, catalog, ALL, "North America", Month(2023, 8), "sales", facts, loc="de"
        )
        assert in_german.told.note == (
            "ohne die Jahreszahlen für 2023 (yearly-feed), die erst im Dezember zählen"
        )
    finally:
        await store.close()


async def test_a_sub_region_never_stands_for_its_parent_nor_the_world(tmp_path: Path) -> None:
    from bot.domain.coverage import source_facts
    from bot.reading.queries import load_catalog, total

    config = dataclasses.replace(_config(), region_parents={"WA": "USA"})
    wa = SourceSpec("wa-history", metric="stock")
    world = SourceSpec("iea-stock", metric="stock", priority=50)
    store = await open_store(tmp_path / "s.db")
    try:
        await store.import_records(
            [(wa, [SalesRecord("2021-10", "WA", "", "", 82_851, cumulative=True)])]
        )
        reader = series_reader(store, config)
        catalog = await load_catalog(store, config)
        facts = source_facts(await store.sources(), config)
        usa = await total(reader, catalog, ALL, "USA", None, "stock", facts)
        assert (usa.total, usa.told.covers) == (82_851, ("WA",))
        assert in_region("USA", usa.told.covers) == " in the USA (WA only)"
        # the world's own stock, once a source gives it, is the world's: never WA's
        await store.import_records(
            [(world, [SalesRecord("2021", "World", "", "", 16_000_000, cumulative=True)])]
        )
        facts = source_facts(await store.sources(), config)
        everywhere = await total(reader, catalog, ALL, "World", None, "stock", facts)
        assert (everywhere.total, everywhere.told.covers) == (16_000_000, ())
        assert everywhere.told.granularity == "year"
    finally:
        await store.close()


async def test_one_models_new_month_is_never_compared_with_all_models_a_year_before(
    tmp_path: Path,
) -> None:
    def leaf(period: str, units: int, model: str) -> SalesRecord:
        return SalesRecord(period, "USA", "Nissan", model, units)

    both = [leaf(f"2019-{m:02d}", 100, model) for m in range(1, 13) for model in ("Leaf", "Note")]
    # January 2020: the Leaf's figure is in, the Note's not yet
    config = _config()
    store = await open_store(tmp_path / "s.db")
    try:
        await store.sync_groups(config.groups)
        await store.import_records([(MONTHLY, [*both, leaf("2020-01", 120, "Leaf")])])
        untold: list[tuple[Event, str]] = []
        events = await replay(store, config, untold=untold)
        told = [e for e in events if e.kind == "growth" and e.subject.key == "make:nissan"]
        assert [str(e.period) for e in told] == [], [announce(e).body for e in told]
        reasons = {r for e, r in untold if e.kind == "growth" and e.subject.key == "make:nissan"}
        assert reasons == {
            "nissan/note had figures in 2019-12, none yet in 2020-01: not like for like"
        }
        # once the Note's January is in, the months compare like for like
        await store.import_records([(MONTHLY, [leaf("2020-01", 90, "Note")])])
        events = await replay(store, config)
        growth = [e for e in events if e.kind == "growth" and e.subject.key == "make:nissan"]
        assert [(e.value, e.previous) for e in growth] == [(210, 200)]
    finally:
        await store.close()


@given(
    st.lists(
        st.tuples(
            st.integers(1, 3), st.integers(2018, 2021), st.integers(1, 12), st.integers(1, 50)
        ),
        max_size=40,
    ),
    st.dictionaries(st.integers(1, 3), st.integers(1, 3), min_size=3, max_size=3),
)
def test_the_own_region_basis_is_the_choice_regional_increments_makes(
    cells: list[tuple[int, int, int, int]], priority: dict[int, int]
) -> None:
    from bot.domain.records import IncRow
    from bot.domain.series import own_region_basis, regional_increments
    from bot.reading.queries import region_tree

    rows = [IncRow(s, "USA", "nissan", "leaf", Month(y, m), inc) for s, y, m, inc in cells]
    chosen: dict[int, set[tuple[str, int]]] = {}
    regional_increments(rows, priority, region_tree(default_config()), "USA", chosen=chosen)
    assert own_region_basis(rows, priority, "USA") == chosen
    assert (
        own_region_basis([*rows, IncRow(1, "WA", "", "", Month(2020, 1), 1)], priority, "USA")
        is None
    )


def yearly_then_monthly_usa(tmp_path: Path) -> str:
    """A store of the USA's yearly figures for 2018-2019, then monthly ones for 2020, and a
    channel following its growth; its path."""
    from bot.cli.main import main

    yearly = tmp_path / "yearly.csv"
    yearly.write_text("period,region,make,model,units\n2018,USA,,,400\n2019,USA,,,500\n")
    monthly = tmp_path / "monthly.csv"
    monthly.write_text(
        "period,region,make,model,units\n"
        + "".join(f"2020-{m:02d},USA,,,10\n" for m in range(1, 13))
    )
    db = str(tmp_path / "p.db")
    assert main(["import", str(yearly), "--source", "yearly", "--db", db]) == 0
    assert main(["import", str(monthly), "--source", "monthly", "--db", db]) == 0
    assert main(["subscribe", "all", "--region", "USA", "--kinds", "growth", "--db", db]) == 0
    return db


def test_ev_preview_says_why_growth_is_not_told(tmp_path: Path, capsys: Any) -> None:
    from bot.cli.main import main

    db = yearly_then_monthly_usa(tmp_path)
    capsys.readouterr()
    assert main(["ask", "/ev-preview all region:USA", "--db", db]) == 0
    out = capsys.readouterr().out
    assert (
        "Growth in 2020: not told (2020 is taken from USA (monthly) and 2019 from USA (yearly): "
        "not like for like)." in " ".join(out.split())
    ), out


@given(
    st.dictionaries(
        st.sampled_from(["2015", "2016", *(f"2015-{m:02d}" for m in range(1, 13)), "2016-03"]),
        st.integers(1, 1000),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=40, deadline=None)
def test_a_total_never_counts_a_period_twice(figures: dict[str, int]) -> None:
    """Rows of one key: refused when a year and a month of it are both there, else summed once."""
    import asyncio

    from bot.domain.records import ImportFailed
    from bot.reading.queries import load_catalog, total

    overlapping = any(p[:4] in figures for p in figures if len(p) == 7)
    records = [
        SalesRecord(p, "Norway", "", "", u, line=i + 2) for i, (p, u) in enumerate(figures.items())
    ]

    async def run() -> int | None:
        store = SqliteStore(":memory:")
        await store.open()
        try:
            try:
                await store.import_records([(YEARLY, records)], file="f.csv")
            except ImportFailed as failed:
                assert all("overlaps" in p for p in failed.problems)
                return None
            config = _config()
            answer = await total(
                series_reader(store, config), await load_catalog(store, config), ALL, "Norway"
            )
            return answer.total
        finally:
            await store.close()

    result = asyncio.run(run())
    assert (result is None) == overlapping
    if result is not None:
        assert result == sum(figures.values())


async def test_a_cumulative_figure_says_when_it_became_worldwide(tmp_path: Path) -> None:
    usa = [_all("USA", f"{y}-{m:02d}", 30) for y in (2013, 2014) for m in range(1, 13)]
    events = await _replayed(
        tmp_path / "s.db",
        _config(),
        (SourceSpec("us-feed", priority=20), usa),
        (SourceSpec("world-feed", priority=50), [_all("World", "2015", 400)]),
    )
    world = [e for e in events if e.kind == "milestone" and e.region == "World"]
    late = [e for e in world if e.period.year == 2015]
    assert late, [announce(e).body for e in world]
    assert announce(late[-1]).body.startswith(
        "Electric car sales worldwide since 2015 (the USA only before) have passed 1,000"
    )
    early = [e for e in world if e.period.year < 2015]
    assert all(e.covers == ("USA",) and not e.since for e in early)


async def test_a_new_model_is_growth_not_a_gap(tmp_path: Path) -> None:
    def car(period: str, units: int, model: str) -> SalesRecord:
        return SalesRecord(period, "USA", "Nissan", model, units)

    leaf = [car(f"2019-{m:02d}", 100, "Leaf") for m in range(1, 13)]
    launch = [car("2020-01", 100, "Leaf"), car("2020-01", 50, "Ariya")]
    events = await _replayed(tmp_path / "s.db", _config(), (MONTHLY, [*leaf, *launch]))
    growth = [e for e in events if e.kind == "growth" and e.subject.key == "make:nissan"]
    assert [(e.value, e.previous) for e in growth] == [(150, 100)]


def test_ev_preview_says_why_growth_is_not_told_in_the_reader_s_language(
    tmp_path: Path, capsys: Any
) -> None:
    from bot.cli.main import main
    from bot.domain.i18n import t

    db = yearly_then_monthly_usa(tmp_path)
    capsys.readouterr()
    assert main(["ask", "/ev-preview all region:USA locale:de", "--db", db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    reason = t(
        "de",
        "{year} is taken from {taken} and {before} from {earlier}: not like for like",
        year=2020,
        before=2019,
        taken="USA (monthly)",
        earlier="USA (yearly)",
    )
    assert "not like for like" not in out, out
    assert t("de", "Growth in {year}: not told ({reason}).", year=2020, reason="")[:12] in out
    assert reason.split(":")[-1].strip() in out, out
