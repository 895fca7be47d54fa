"""Key normalisation as a property: any two spellings equal under `name_key` (region, source,
make, model) give one key and one total, in one file or two."""

from __future__ import annotations

import asyncio
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.names import name_key
from bot.domain.settings import default_config
from bot.ingest.importer import import_file
from bot.ports.store import SalesStore
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.support import FUZZ

HEADER = "period,region,make,model,units,source\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def _totals(store: SalesStore) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in await store.all_increments():
        totals[row.region] = totals.get(row.region, 0) + row.inc
    return totals


_MAKES = st.sampled_from(["Citroën", "Nissan", "Mercedes Benz", "ŠKODA"])
_NAMES = st.sampled_from(["Chile", "Zürich", "United Kingdom", "Île-de-France", "usa", "São Paulo"])


@st.composite
def respelled(draw: st.DrawFn, name: str) -> str:
    """Another spelling of `name` with the same `name_key`: case, accents, spacing."""
    text = name
    if draw(st.booleans()):
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    text = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in text)
    text = text.replace(" ", " " * draw(st.integers(1, 3)))
    return " " * draw(st.integers(0, 2)) + text + " " * draw(st.integers(0, 2))


@FUZZ
@given(data=st.data())
@pytest.mark.slow
def test_any_two_spellings_equal_under_name_key_give_one_key_and_one_total(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    name = data.draw(_NAMES)
    spellings = [data.draw(respelled(name)) for _ in range(2)]
    sources = [data.draw(respelled("Press Office")) for _ in range(2)]
    make = data.draw(_MAKES)
    makes = [data.draw(respelled(make)) for _ in range(2)]
    assert name_key(spellings[0]) == name_key(spellings[1])
    folder = tmp_path_factory.mktemp("one")
    one_file = data.draw(st.booleans())

    async def run() -> tuple[list[str], dict[str, int], int]:
        async with SqliteStore(folder / "evbot.sqlite3") as sqlite:
            store: SalesStore = sqlite
            rows = [
                f'2020-0{i + 1},"{spellings[i]}","{makes[i]}",Leaf,{5 + i},"{sources[i]}"\n'
                for i in range(2)
            ]
            if one_file:
                path = _write(folder, "one.csv", HEADER + "".join(rows))
                await import_file(store, default_config(), path)
            else:
                for i, row in enumerate(rows):
                    path = _write(folder, f"f{i}.csv", HEADER + row)
                    await import_file(store, default_config(), path)
            return (
                await store.regions(),
                await _totals(store),
                len(await store.sources()),
                len(await store.make_names()),
            )

    regions, totals, source_count, make_count = asyncio.run(run())
    assert len(regions) == 1 and name_key(regions[0]) == name_key(name)
    assert totals == {regions[0]: 11}
    assert source_count == 1 and make_count == 1
