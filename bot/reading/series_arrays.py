"""One subject's series in one region as cumulative arrays, for the read model's bisects."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from bot.domain.coverage import Basis
from bot.domain.periods import Month


@dataclass(frozen=True, slots=True)
class Series:
    """One subject's cumulative series in one region: each month with a figure, ascending."""

    months: tuple[Month, ...]
    index: tuple[int, ...]  # Month.index of each month, for bisect
    cum: tuple[int, ...]  # running total at each month
    monthly: Mapping[Month, int]  # the increments, as SeriesReader.monthly gives them
    basis: Basis  # each year's (region, source) pairs the figures were taken from

    @classmethod
    def of(cls, monthly: Mapping[Month, int], basis: Basis | None = None) -> Series:
        months = tuple(sorted(monthly))
        cum = tuple(accumulate([monthly[m] for m in months]))
        return cls(months, tuple(m.index for m in months), cum, dict(monthly), basis or {})

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
        if list(self.cum) == sorted(self.cum):
            return self.cum
        return tuple(accumulate(self.cum, max))

    def recent_points(self, months: int) -> list[tuple[Month, int]]:
        """The (month, cumulative) pairs from `months` months before the latest one onward."""
        if not self.index:
            return []
        i = bisect_left(self.index, self.index[-1] - months)
        return list(zip(self.months[i:], self.cum[i:], strict=True))


EMPTY = Series.of({})
