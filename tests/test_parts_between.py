"""`BotStore.parts_between(..., whole_makes=True)`: the makes' own sums between two months, as
`make_increments` reads them (what detection dresses a make's or group's event from), on both
backends."""

from __future__ import annotations

from bot.domain.periods import Month
from bot.domain.records import IncRow, SalesRecord
from bot.ports.store import BotStore
from tests.store_contract import PRESS, SALES, rec


async def import_figures(store: BotStore, *earlier: SalesRecord) -> None:
    """Nissan's Leaf and Ariya (in Norway once, 0 once, a press figure too) and Renault's Zoe
    around the turn of 2024, after the `earlier` figures."""
    await store.import_records(
        [
            (
                SALES,
                [
                    *earlier,
                    rec("2023-11", 5),
                    rec("2023-12", 0),
                    rec("2024-01", 7),
                    rec("2024-01", 3, model="Ariya"),
                    rec("2024-02", 4, region="Norway"),
                    rec("2024-03", 9),
                    rec("2024-01", 2, make="Renault", model="Zoe"),
                ],
            ),
            (PRESS, [rec("2024-01", 11)]),
        ]
    )


async def test_whole_makes_are_the_make_sums_between_the_months(any_store: BotStore) -> None:
    await import_figures(any_store)
    first, last = Month(2023, 12), Month(2024, 2)
    sums = await any_store.parts_between(["nissan"], first, last, whole_makes=True)
    expected = [r for r in await any_store.make_increments(["nissan"]) if first <= r.month <= last]

    def key(r: IncRow) -> tuple[Month, int, str, int]:
        return (r.month, r.source_id, r.region, r.inc)

    assert sorted(sums, key=key) == sorted(expected, key=key)
    # one row a make, source, region and month: the two Nissan models of January summed
    assert {(r.make_key, r.model_key) for r in sums} == {("nissan", "")}
    assert sum(r.inc for r in sums if r.month == Month(2024, 1) and r.region == "World") == 21
    # a zero figure is kept (it takes part in the year's choice of a source)
    assert any(r.month == Month(2023, 12) and r.inc == 0 for r in sums)
    # the models' cells, as before, when not asked for the sums
    cells = await any_store.parts_between(["nissan"], first, last)
    assert {r.model_key for r in cells} == {"leaf", "ariya"}
    assert await any_store.parts_between([], first, last, whole_makes=True) == []


async def test_pairs_are_the_make_sums_years_regions_and_sources(any_store: BotStore) -> None:
    await import_figures(any_store, rec("2022-12", 1))
    first, last = Month(2023, 12), Month(2024, 2)
    for makes in (["nissan"], ["nissan", "renault"], None):
        sums = await any_store.parts_between(makes, first, last, whole_makes=makes is not None)
        expected = {(r.make_key, r.month.year, r.region, r.source_id) for r in sums}
        pairs = await any_store.pairs_between(makes, first, last)
        assert sorted(pairs) == sorted(expected), makes  # each once
    # a zero figure's pair counts (2023's December): it takes part in the year's choice
    nissan = await any_store.pairs_between(["nissan"], first, last)
    assert {(y, region) for _, y, region, _ in nissan} == {
        (2023, "World"),
        (2024, "World"),
        (2024, "Norway"),
    }
    assert await any_store.pairs_between([], first, last) == []
