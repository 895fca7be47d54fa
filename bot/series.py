"""From stored monthly cells to one subject's series, without double counting.

The rules (DESIGN.md, "Counting rules"):
- A series cell holds a source's period figures for a month and, optionally, a running total as
  of that month. The cumulative figure at a month is the running total where one is known, else
  the previous cumulative plus the month's period figures; the increment is the difference.
- Sales and registered stock are different metrics and are never added together.
- Within one region, one source is chosen per subject and calendar year: the one with the best
  priority (lowest number, then lowest id) that has figures for the subject there that year.
  Choosing per year, not per month, keeps a yearly total and monthly figures of another source
  from being added together.
- Registered stock, and running totals of sales, are levels: where such a source takes over
  from another from one year to the next, its own level replaces the old one (its first figure
  is not added on top).
- A region's figure is its own (direct) figure where some source has one for that year, else the
  sum of its sub-regions. The world's sub-regions are the top-level regions: those that are not
  aggregates (Europe, EU27, ...) and not inside another region.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.periods import Month
from bot.records import IncRow

WORLD = "World"


def increments(cells: Sequence[tuple[int, int | None]]) -> list[int]:
    """Increments of one source's series from its (period units, running total) cells, in order."""
    cumulative = 0
    out: list[int] = []
    for period_units, running in cells:
        value = running if running is not None else cumulative + period_units
        out.append(value - cumulative)
        cumulative = value
    return out


@dataclass(frozen=True)
class RegionTree:
    """Which regions overlap: aggregates are never summed, sub-regions roll into their parent."""

    aggregates: frozenset[str] = frozenset({WORLD})
    parents: Mapping[str, str] = field(default_factory=dict)

    def children(self, region: str, known: Iterable[str]) -> list[str]:
        """The regions whose figures add up to `region` when it has none of its own."""
        if region == WORLD:
            # the top ancestor of every region with figures: a parent known only through its
            # sub-regions (USA through WA) is still part of the world
            return sorted(
                {self.top(r) for r in known if r not in self.aggregates and r != WORLD}
                - self.aggregates
            )
        return sorted(r for r, parent in self.parents.items() if parent == region)

    def top(self, region: str) -> str:
        """The outermost region that contains `region` (itself when it has no parent); an
        aggregate parent (Norway in Europe) is not climbed into, since aggregates never add up."""
        seen = {region}
        while (
            region in self.parents
            and self.parents[region] not in seen
            and self.parents[region] not in self.aggregates
        ):
            region = self.parents[region]
            seen.add(region)
        return region


def regional_increments(
    rows: Iterable[IncRow],
    priority: Mapping[int, int],
    tree: RegionTree,
    region: str,
    keep: Callable[[IncRow], bool] | None = None,
    levels: bool | Collection[int] = False,
    chosen: dict[int, set[tuple[str, int]]] | None = None,
) -> dict[Month, int]:
    """Monthly increments of one subject in `region`, choosing sources and summing sub-regions.

    `levels` is True for registered stock, or the sources that publish running totals: where
    such a source takes over from another, its own level is carried, not added on top.
    `chosen`, when given, receives each year's (region, source) pairs the figures were taken
    from: what the figure covers and whom it cites.
    """
    by_region: dict[str, dict[int, dict[int, list[tuple[Month, int]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for row in rows:
        if row.source_id not in priority or (keep is not None and not keep(row)):
            continue
        by_region[row.region][row.month.year][row.source_id].append((row.month, row.inc))
    return dict(_figure(region, by_region, priority, tree, set(), levels, chosen))


def _figure(
    region: str,
    by_region: Mapping[str, Mapping[int, Mapping[int, list[tuple[Month, int]]]]],
    priority: Mapping[int, int],
    tree: RegionTree,
    seen: set[str],
    levels: bool | Collection[int] = False,
    chosen: dict[int, set[tuple[str, int]]] | None = None,
) -> dict[Month, int]:
    if region in seen:  # a configuration cycle; config validation refuses them, be safe anyway
        return {}
    seen = seen | {region}
    out: dict[Month, int] = defaultdict(int)
    direct = by_region.get(region, {})
    level_of: dict[int, dict[Month, int]] = _levels(direct) if levels else {}
    shown = 0  # the cumulative figure reached so far
    for year in sorted(direct):
        per_source = direct[year]
        best = min(per_source, key=lambda s: (priority[s], s))
        if chosen is not None:
            chosen.setdefault(year, set()).add((region, best))
        is_level = levels is True or (not isinstance(levels, bool) and best in levels)
        for month, inc in sorted(per_source[best]):
            if is_level:
                inc = level_of[best][month] - shown
            shown += inc
            out[month] += inc
    for child in tree.children(region, by_region.keys()):
        taken: dict[int, set[tuple[str, int]]] | None = {} if chosen is not None else None
        for month, inc in _figure(child, by_region, priority, tree, seen, levels, taken).items():
            if month.year not in direct:
                out[month] += inc
        if chosen is not None and taken:
            for year, pairs in taken.items():
                if year not in direct:
                    chosen.setdefault(year, set()).update(pairs)
    return out


def _levels(
    direct: Mapping[int, Mapping[int, list[tuple[Month, int]]]],
) -> dict[int, dict[Month, int]]:
    """Each source's own cumulative level at each of its months."""
    rows: dict[int, list[tuple[Month, int]]] = defaultdict(list)
    for per_source in direct.values():
        for source, cells in per_source.items():
            rows[source].extend(cells)
    out: dict[int, dict[Month, int]] = {}
    for source, cells in rows.items():
        level = 0
        out[source] = {}
        for month, inc in sorted(cells):
            level += inc
            out[source][month] = level
    return out


def cumulative(monthly: Mapping[Month, int]) -> list[tuple[Month, int]]:
    """The running total at each month that has a figure, in month order."""
    total = 0
    out: list[tuple[Month, int]] = []
    for month in sorted(monthly):
        total += monthly[month]
        out.append((month, total))
    return out


def total_as_of(monthly: Mapping[Month, int], as_of: Month | None) -> tuple[int, Month | None]:
    """The cumulative figure up to and including `as_of` (all when None) and its last month."""
    months = [m for m in monthly if as_of is None or m <= as_of]
    if not months:
        return 0, None
    return sum(monthly[m] for m in months), max(months)


def window_total(monthly: Mapping[Month, int], first: Month, last: Month) -> int:
    """Units in the months from `first` to `last`, both included."""
    return sum(v for m, v in monthly.items() if first <= m <= last)
