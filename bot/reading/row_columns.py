"""Increment rows held column by column: what the read model keeps of every series' rows.

A million `IncRow` objects (each with its own strings and ints) take about 300 MB; the same
rows as four machine arrays per series take 18 bytes a row. A series' rows become
`IncRow` objects again only while one of its series is computed (`Columns.rows`), and are
dropped after.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter

from bot.domain.records import IncRow
from bot.reading.series_arrays import month_at


class Regions:
    """The region names of the rows, each held once; rows refer to them by number."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.numbers: dict[str, int] = {}

    def number(self, name: str) -> int:
        found = self.numbers.get(name)
        if found is None:
            found = self.numbers[name] = len(self.names)
            self.names.append(name)
        return found


@dataclass(frozen=True, slots=True)
class Columns:
    """One series' increment rows (one model's, one make's or all EVs'), column by column, in
    the order given (by month)."""

    make_key: str
    model_key: str
    sources: array[int]
    regions: array[int]  # numbers in the model's `Regions`
    months: array[int]  # Month.index
    incs: array[int]

    def __len__(self) -> int:
        return len(self.incs)

    def rows(self, regions: Regions) -> list[IncRow]:
        """The rows as `IncRow` objects again (sharing their months and strings)."""
        out: list[IncRow] = []
        append, names = out.append, regions.names
        make_key, model_key = self.make_key, self.model_key
        shared = {i: month_at(i) for i in set(self.months)}  # one call a month, not a row
        for source_id, region, month, inc in zip(
            self.sources, self.regions, self.months, self.incs, strict=True
        ):
            append(IncRow(source_id, names[region], make_key, model_key, shared[month], inc))
        return out


NONE = Columns("", "", array("i"), array("H"), array("i"), array("q"))

_SOURCE, _REGION, _MONTH, _INC = (
    attrgetter(name) for name in ("source_id", "region", "month", "inc")
)
_KEYS = attrgetter("make_key", "model_key")


def packed(make_key: str, model_key: str, rows: Sequence[IncRow], regions: Regions) -> Columns:
    """Rows of one series (all with these keys) as columns."""
    for name in set(map(_REGION, rows)):
        regions.number(name)
    # a store's rows share their few hundred Month objects: each one's index is computed once
    months = list(map(_MONTH, rows))
    index = {key: m.index for key, m in dict(zip(map(id, months), months, strict=True)).items()}
    return Columns(
        make_key,
        model_key,
        array("i", map(_SOURCE, rows)),
        array("H", map(regions.numbers.__getitem__, map(_REGION, rows))),
        array("i", map(index.__getitem__, map(id, months))),
        array("q", map(_INC, rows)),
    )


def by_key(
    rows: Iterable[IncRow], regions: Regions, models: bool = True
) -> dict[tuple[str, str], Columns]:
    """Rows by (make key, model key) as columns, each in the order read; with `models`, rows
    that are not a model's (model key "") are left out."""
    grouped: dict[tuple[str, str], list[IncRow]] = {}
    # a series' rows come together from the store's index: grouped a run at a time
    for key, run in groupby(rows, _KEYS):
        if models and not key[1]:
            continue
        found = grouped.get(key)
        if found is None:
            grouped[key] = list(run)
        else:
            found.extend(run)
    return {key: packed(key[0], key[1], found, regions) for key, found in grouped.items()}
