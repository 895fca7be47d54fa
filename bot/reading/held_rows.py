"""Every series' increment rows as the read model holds them: each model's, each make's and all
EVs', as columns (`bot.reading.row_columns`), read in batches.

Read at once, a million rows come as a million tuples and then a million `IncRow` objects, half
a gigabyte at the peak; read a few makes at a time (about `BATCH_ROWS` rows a batch), the peak
is a batch's, and what is kept is the columns, about 20 MB a million rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.subjects import Catalog
from bot.ports.store import SalesStore
from bot.reading.row_columns import NONE, Columns, Regions, by_key, packed

BATCH_ROWS = 20_000  # rows read in one statement while loading, about
MAKE_BATCH = 200  # makes whose own sums are read in one statement
# every month a store can hold (periods are years 1900 to 2200): the whole of a model's cells
EARLIEST, LATEST = Month(1, 1), Month(9999, 12)


class HeldRows:
    """The rows of every model (by make key and model key), make (by make key) and of all EVs."""

    def __init__(self) -> None:
        self.regions = Regions()
        self.models: dict[tuple[str, str], Columns] = {}
        self.makes: dict[str, Columns] = {}
        self.every = NONE

    @property
    def size(self) -> int:
        """How many rows are held."""
        return (
            len(self.every)
            + sum(map(len, self.models.values()))
            + sum(map(len, self.makes.values()))
        )

    def model_rows(self, make_key: str, model_key: str) -> list[IncRow]:
        return self.models.get((make_key, model_key), NONE).rows(self.regions)

    def make_rows(self, make_key: str) -> list[IncRow]:
        return self.makes.get(make_key, NONE).rows(self.regions)

    def all_rows(self) -> list[IncRow]:
        return self.every.rows(self.regions)

    def pack_makes(self, rows: Iterable[IncRow]) -> dict[str, Columns]:
        """Makes' own sums (model key "") as columns by make key."""
        return {make: found for (make, _), found in by_key(rows, self.regions, False).items()}

    def pack(self, make_key: str, model_key: str, rows: Sequence[IncRow]) -> Columns:
        """One series' rows as columns."""
        return packed(make_key, model_key, rows, self.regions)


async def load(store: SalesStore, catalog: Catalog) -> HeldRows:
    """Every model's, make's and all EVs' rows (as `every_model_increment`, `make_increments`
    of every make and `all_increments` read them), a few makes at a time."""
    held = HeldRows()
    makes = sorted(catalog.makes)
    for start in range(0, len(makes), MAKE_BATCH):
        held.makes.update(
            held.pack_makes(await store.make_increments(makes[start : start + MAKE_BATCH]))
        )
    for batch in batches(catalog, held.makes):
        rows = await store.parts_between(batch, EARLIEST, LATEST)
        # in no particular order: a series is computed from its rows by region, year, source
        # and month (`bot.domain.series.regional_increments`), whatever their order
        held.models.update(by_key(rows, held.regions))
        del rows
    held.every = held.pack("", "", await store.all_increments())
    return held


def batches(catalog: Catalog, makes: Mapping[str, Columns]) -> list[list[str]]:
    """The makes of every model in groups of about `BATCH_ROWS` rows: a model has at most as
    many rows as its make's own sums (each of its cells is in one of them)."""
    count: dict[str, int] = {}
    for m in catalog.models:
        count[m.make_key] = count.get(m.make_key, 0) + 1
    out: list[list[str]] = []
    batch: list[str] = []
    rows = 0
    for make in sorted(count):
        size = count[make] * max(1, len(makes.get(make, NONE)))
        if batch and rows + size > BATCH_ROWS:
            out.append(batch)
            batch, rows = [], 0
        batch.append(make)
        rows += size
    if batch:
        out.append(batch)
    return out
