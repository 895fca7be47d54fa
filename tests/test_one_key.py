"""One key, one spelling: regions and sources compare by `name_key` as makes and models do, in
one file, across imports, and through both parse paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.records import ImportFailed
from bot.domain.settings import default_config
from bot.ingest.canonical import parse_canonical
from bot.ingest.importer import import_file
from bot.ports.store import SalesStore

HEADER = "period,region,make,model,units,source\n"


@pytest.fixture
def store(any_store: SalesStore) -> SalesStore:
    """Either backend (`make_store`, `any_store`: conftest)."""
    return any_store


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def _totals(store: SalesStore) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in await store.all_increments():
        totals[row.region] = totals.get(row.region, 0) + row.inc
    return totals


async def test_regions_that_differ_in_case_are_one_region(
    tmp_path: Path, store: SalesStore
) -> None:
    """`Chile` and `chile` were two regions: the world counted both while the region answered
    one of them."""
    path = _write(
        tmp_path,
        "chile.csv",
        HEADER + "2020-01,Chile,Nissan,Leaf,7,\n2020-02,chile,Nissan,Leaf,8,\n",
    )
    await import_file(store, default_config(), path, source="s")
    assert await store.regions() == ["Chile"]
    assert await _totals(store) == {"Chile": 15}


async def test_a_conflicting_duplicate_spelled_otherwise_is_refused_with_both_lines(
    tmp_path: Path, store: SalesStore
) -> None:
    path = _write(
        tmp_path,
        "chile.csv",
        HEADER + "2020-01,Chile,Nissan,Leaf,7,\n2020-01,CHILE ,Nissan,Leaf,8,\n",
    )
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, default_config(), path, source="s")
    assert caught.value.problems == [
        f"{path}:3: conflicting duplicate of line 2: same period, region, make, model and "
        "powertrain with 8 units instead of 7"
    ]
    assert await store.regions() == []
    path.write_text(HEADER + "2020-01,Chile,Nissan,Leaf,7,\n2020-01,chile,Nissan,Leaf,7,\n")
    report = await import_file(store, default_config(), path, source="s")
    assert report.duplicates == 1
    assert await _totals(store) == {"Chile": 7}


async def test_a_later_import_spelled_otherwise_revises_the_same_key(
    tmp_path: Path, store: SalesStore
) -> None:
    first = _write(tmp_path, "a.csv", HEADER + "2020-01,Chile,Nissan,Leaf,7,Press\n")
    await import_file(store, default_config(), first)
    later = _write(tmp_path, "b.csv", HEADER + "2020-01,CHILE,Nissan,Leaf,9,press\n")
    report = await import_file(store, default_config(), later)
    [summary] = report.summaries
    assert (summary.source, summary.new, summary.revised) == ("Press", 0, 1)
    assert [s.name for s in await store.sources()] == ["Press"]
    assert await _totals(store) == {"Chile": 9}


def test_the_parser_alone_gives_one_key_and_the_first_spelling(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "p.csv",
        HEADER + "2020-01,Chile,Nissan,Leaf,7,A\n2020-02,chile,Nissan,Leaf,8,a\n"
        "2020-01, chile ,Nissan,Leaf,7, A\n",
    )
    parsed = parse_canonical(path, "x")
    assert parsed.problems == [] and parsed.duplicates == 1
    assert {s: [(r.region, r.units) for r in rs] for s, rs in parsed.records.items()} == {
        "A": [("Chile", 7), ("Chile", 8)]
    }
