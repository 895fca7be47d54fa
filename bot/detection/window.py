"""The cells of a window of months that detection reads once for a poll's events (their
bases, and the growth comparisons of makes, groups and all EVs): `bot.detection.reading`."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.periods import Month
from bot.domain.records import IncRow

BEFORE_ANY = Month(0, 1)  # `increments_after` this month: a series' every month
MANY_MAKES = 100  # sums of more makes than this are read with every make's


def month_order(row: IncRow) -> int:
    """A row's month as a number: sorting by it puts rows in month order."""
    return row.month.year * 12 + row.month.month


@dataclass
class Window:
    """The makes' cells from `first` to `last`, read once for a poll's events."""

    first: Month
    last: Month
    by_make: dict[str, list[IncRow]] = field(default_factory=dict)  # their models' cells
    asked: set[str] = field(default_factory=set)  # the makes read, with cells or not
    everything: list[IncRow] | None = None  # all makes' sums, when a total of all EVs asks
    # makes' own sums (a make's or group's basis needs no more than a whole read has)
    sums: dict[str, list[IncRow]] = field(default_factory=dict)
    # models' own cells, by (make, model), read for their events' bases
    models: dict[tuple[str, str], list[IncRow]] = field(default_factory=dict)
