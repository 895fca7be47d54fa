"""One subject's series in one region as cumulative arrays, for the read model's bisects.

A loaded model holds one of these for every subject it was asked about (eleven thousand at ten
thousand models), so each is kept small: the month numbers and running totals as machine
arrays (4 and 8 bytes an element, where a tuple of ints costs 8 for the pointer and 28 or more
for each int), the months themselves as shared `Month` objects, and the basis shared between
every series that has the same one (most series of a store have one source in one region).
The monthly increments are given back from the running totals on demand.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from bot.domain.coverage import Basis
from bot.domain.periods import Month

# Month.index -> the one Month object the series share (a store spans a few hundred months)
_MONTHS: dict[int, Month] = {}
# a basis, as a hashable value -> the one dict of it that the series share
_BASES: dict[tuple[tuple[int, frozenset[tuple[str, int]]], ...], Basis] = {}
BASES_KEPT = 10_000  # distinct bases remembered for sharing; past that a new one is kept alone


def month_at(index: int) -> Month:
    """The shared `Month` of a `Month.index`."""
    found = _MONTHS.get(index)
    if found is None:
        found = _MONTHS[index] = Month.from_index(index)
    return found


def shared_basis(basis: Basis) -> Basis:
    """The same basis as an object shared by every series that has it (never to be mutated:
    readers only read it)."""
    key = tuple((year, frozenset(pairs)) for year, pairs in sorted(basis.items()))
    found = _BASES.get(key)
    if found is None:
        found = {year: set(pairs) for year, pairs in basis.items()}
        if len(_BASES) < BASES_KEPT:
            _BASES[key] = found
    return found


def _first(item: tuple[int, Month, int]) -> int:
    return item[0]


@dataclass(frozen=True, slots=True)
class Series:
    """One subject's cumulative series in one region: each month with a figure, ascending."""

    months: tuple[Month, ...]  # Month objects shared by the series (`month_at`)
    index: array[int]  # Month.index of each month, for bisect
    cum: array[int]  # running total at each month
    basis: Basis  # each year's (region, source) pairs the figures were taken from (shared)

    @classmethod
    def of(cls, monthly: Mapping[Month, int], basis: Basis | None = None) -> Series:
        # sorted by index, not by Month (whose comparisons and hashes are Python code): the
        # months are the mapping's own, shared when they come from the read model's rows
        found = sorted([(m.index, m, units) for m, units in monthly.items()], key=_first)
        index = array("i", [i for i, _, _ in found])
        months = tuple([m for _, m, _ in found])
        cum = array("q", accumulate([units for _, _, units in found]))
        return cls(months, index, cum, shared_basis(basis) if basis else {})

    @property
    def monthly(self) -> dict[Month, int]:
        """The increments, as SeriesReader.monthly gives them (computed from the totals)."""
        cum = self.cum
        return {m: cum[i] - (cum[i - 1] if i else 0) for i, m in enumerate(self.months)}

    @property
    def latest(self) -> Month | None:
        return self.months[-1] if self.months else None

    def at(self, as_of: Month | None) -> tuple[int, Month | None]:
        """The cumulative figure up to and including `as_of` (all when None), and its month."""
        i = len(self.index) if as_of is None else bisect_right(self.index, as_of.index)
        if i == 0:
            return 0, None
        return self.cum[i - 1], self.months[i - 1]

    def window(self, first: Month | None, last: Month | None) -> int:
        """Units from `first` to `last`, both included (None: open on that side)."""
        lo = 0 if first is None else bisect_left(self.index, first.index)
        hi = len(self.index) if last is None else bisect_right(self.index, last.index)
        if hi <= lo:
            return 0
        return self.cum[hi - 1] - (self.cum[lo - 1] if lo else 0)

    def points(self) -> list[tuple[Month, int]]:
        """(month, cumulative) pairs, as `bot.domain.series.cumulative` gives them."""
        return list(zip(self.months, self.cum, strict=True))

    def peaks(self) -> Sequence[int]:
        """The running peak of the cumulative figures: the figures themselves unless they fall
        somewhere (as a stock metric or a downward revision can make them)."""
        cum = self.cum
        if list(cum) == sorted(cum):
            return cum
        return tuple(accumulate(cum, max))

    def recent_points(self, months: int) -> list[tuple[Month, int]]:
        """The (month, cumulative) pairs from `months` months before the latest one onward."""
        if not self.index:
            return []
        i = bisect_left(self.index, self.index[-1] - months)
        return list(zip(self.months[i:], self.cum[i:], strict=True))


EMPTY = Series.of({})
