"""A figure keeps its granularity: a year is a year, from the import to the message."""

from __future__ import annotations

from pathlib import Path

from bot.periods import Month, news_cutoff
from bot.records import SalesRecord, SourceSpec
from bot.sqlite_store import SqliteStore

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
    from bot.ingest import parse_iea

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
