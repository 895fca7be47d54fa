"""The cells of a window of months that detection reads once for a poll's events (their
bases, and the growth comparisons of makes, groups and all EVs), and the usual series' figures
from its cells without the general choice of regions and sources: `bot.detection.reading`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from bot.domain.periods import Month
from bot.domain.records import IncRow

BEFORE_ANY = Month(0, 1)  # `increments_after` this month: a series' every month
MANY_MAKES = 100  # sums of more makes than this are read with every make's
READ_AT_ONCE = 500  # series read whole in one statement of each kind, at most


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


def own_figures(
    rows: Sequence[IncRow], region: str, levels: bool | Collection[int]
) -> tuple[dict[Month, int], dict[int, set[tuple[str, int]]]] | None:
    """What `regional_increments` gives (the figures, and each year's `chosen` pairs) for the
    usual series, all of whose cells are in `region` itself from one source of period figures:
    each month's increments summed. None for any other series (the general choice decides)."""
    if not rows or levels is True:
        return None
    source = rows[0].source_id
    if not isinstance(levels, bool) and source in levels:
        return None
    out: dict[Month, int] = {}
    years: set[int] = set()
    ordered, previous = True, -1
    for row in rows:
        if row.region != region or row.source_id != source:
            return None
        month = row.month
        at = month.year * 12 + month.month
        if at < previous:
            ordered = False
        previous = at
        out[month] = out.get(month, 0) + row.inc
        years.add(month.year)
    if not ordered:  # in month order, as the general choice gives them
        out = {m: out[m] for m in sorted(out, key=lambda m: m.year * 12 + m.month)}
    return out, {year: {(region, source)} for year in years}


def everything_within(wider: Window | None, first: Month, last: Month) -> list[IncRow] | None:
    """Every make's sums from `first` to `last`, when the `wider` window read them already
    (not read again); None when it did not."""
    if wider is None or wider.everything is None or first < wider.first or last > wider.last:
        return None
    lo, hi = first.index, last.index
    return [r for r in wider.everything if lo <= r.month.year * 12 + r.month.month - 1 <= hi]
