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
  sum of its sub-regions that have figures (`bot.domain.regions.RegionTree`: the shipped membership
  table, under the configuration). Regions are related by what they contain, not by name: below
  the region asked, the outermost regions with figures are summed, so an aggregate (a continent,
  EU27, a publisher's own Europe) stands for its members where it has a figure and is never
  added to them, and is summed like any other region where it is alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.regions import WORLD, Coverage, RegionTree

__all__ = [
    "WORLD",
    "Coverage",
    "RegionTree",
    "cumulative",
    "increments",
    "own_region_basis",
    "own_region_basis_of",
    "regional_coverage",
    "regional_increments",
    "total_as_of",
    "window_total",
]


def increments(cells: Sequence[tuple[int, int | None]]) -> list[int]:
    """Increments of one source's series from its (period units, running total) cells, in order."""
    cumulative = 0
    out: list[int] = []
    for period_units, running in cells:
        value = running if running is not None else cumulative + period_units
        out.append(value - cumulative)
        cumulative = value
    return out


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
    from (every region with every source of that year): what the figure covers and cites.
    """
    out, used, _ = _regional(rows, priority, tree, region, keep, levels, chosen is not None)
    if chosen is not None:
        for year, (names, sources) in used.items():
            chosen.setdefault(year, set()).update((n, s) for n in names for s in sources)
    return dict(out)


def own_region_basis(
    rows: Iterable[IncRow], priority: Mapping[int, int], region: str
) -> dict[int, set[tuple[str, int]]] | None:
    """The `chosen` pairs `regional_increments` gives when every row is in `region` itself (the
    usual series): each year's best source among those with figures; None when rows of other
    regions take part, whose choice is the whole tree's."""
    present = ((r.month.year, r.region, r.source_id) for r in rows)
    return own_region_basis_of(present, priority, region)


def own_region_basis_of(
    present: Iterable[tuple[int, str, int]], priority: Mapping[int, int], region: str
) -> dict[int, set[tuple[str, int]]] | None:
    """`own_region_basis` from the (year, region, source id) the rows have, each once or more
    (all it depends on: `BotStore.pairs_between` reads them without the rows)."""
    best: dict[int, tuple[int, int]] = {}
    for year, where, source_id in present:
        if source_id not in priority:
            continue
        if where != region:
            return None
        rank = (priority[source_id], source_id)
        if year not in best or rank < best[year]:
            best[year] = rank
    return {year: {(region, rank[1])} for year, rank in best.items()}


def regional_coverage(
    rows: Iterable[IncRow],
    priority: Mapping[int, int],
    tree: RegionTree,
    region: str,
    keep: Callable[[IncRow], bool] | None = None,
    levels: bool | Collection[int] = False,
) -> dict[int, Coverage]:
    """Per year, what `regional_increments` (same arguments) summed into the region's figure:
    the regions whose own figures it took, their sources, and whether it is partial (built
    from parts while a residual outside the region, Rest of the world, may hold more of it)."""
    _, used, present = _regional(rows, priority, tree, region, keep, levels, True)
    target = tree.key(region)
    outer = set(tree.containers(region))
    # residuals outside the region, in a region that holds it: they may hold more of it
    rests = [
        years
        for name, years in present.items()
        if tree.is_residual(name) and tree.parent(name) in outer and tree.key(name) != target
    ]
    own = {year for name, years in present.items() if tree.key(name) == target for year in years}
    return {
        year: Coverage(
            frozenset(names),
            frozenset(sources),
            year not in own and any(year in years for years in rests),
        )
        for year, (names, sources) in sorted(used.items())
    }


_Unit = tuple[int, str]  # (source id, region name as the data writes it)
_Used = dict[int, tuple[set[str], set[int]]]  # year -> (region names, sources) summed


def _regional(
    rows: Iterable[IncRow],
    priority: Mapping[int, int],
    tree: RegionTree,
    region: str,
    keep: Callable[[IncRow], bool] | None,
    levels: bool | Collection[int],
    track: bool,
) -> tuple[dict[Month, int], _Used, dict[str, set[int]]]:
    """The choice code of `regional_increments` and `regional_coverage`: rows by region, year
    and source, then each region's own figure or its sub-regions' sum, year by year; with
    `track`, also what was summed, and each region name's years."""
    by_region: dict[str, dict[int, dict[int, list[tuple[Month, int]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for row in rows:
        if row.source_id not in priority or (keep is not None and not keep(row)):
            continue
        by_region[row.region][row.month.year][row.source_id].append((row.month, row.inc))
    # one region may come under several names (USA, United States): each (source, name) is a
    # choice of its own, so two names of one region are never added together
    direct: dict[str, dict[int, dict[_Unit, list[tuple[Month, int]]]]] = {}
    for name, years in by_region.items():
        mine = direct.setdefault(tree.key(name), {})
        for year, per_source in years.items():
            slot = mine.setdefault(year, {})
            for source, cells in per_source.items():
                slot[(source, name)] = cells
    kids = tree.kids(direct.keys())
    below: dict[str, set[int]] = {}
    out, used = _figure(tree.key(region), direct, kids, priority, set(), levels, track, below)
    present = {name: set(years) for name, years in by_region.items()} if track else {}
    return out, used, present


def _figure(
    region: str,
    direct: Mapping[str, Mapping[int, Mapping[_Unit, list[tuple[Month, int]]]]],
    kids: Mapping[str, Sequence[str]],
    priority: Mapping[int, int],
    seen: set[str],
    levels: bool | Collection[int],
    track: bool,
    below: dict[str, set[int]],
) -> tuple[dict[Month, int], _Used]:
    if region in seen:  # a configuration cycle; config validation refuses them, be safe anyway
        return {}, {}
    seen = seen | {region}
    out: dict[Month, int] = defaultdict(int)
    used: _Used = {}
    own = direct.get(region, {})
    level_of: dict[_Unit, dict[Month, int]] = _levels(own) if levels else {}
    shown = 0  # the cumulative figure reached so far
    for year in sorted(own):
        per_unit = own[year]
        best = min(per_unit, key=lambda u: (priority[u[0]], u[0], u[1]))
        is_level = levels is True or (not isinstance(levels, bool) and best[0] in levels)
        for month, inc in sorted(per_unit[best]):
            if is_level:
                inc = level_of[best][month] - shown
            shown += inc
            out[month] += inc
        if track:
            used[year] = ({best[1]}, {best[0]})
    for child in kids.get(region, ()):
        if own and _years_below(child, direct, kids, below, seen) <= own.keys():
            continue  # the region's own figures stand for the child's every year
        figures, child_used = _figure(child, direct, kids, priority, seen, levels, track, below)
        if not own and not out and not used:
            # the first part of a region with no figures of its own (USA inside North America
            # inside the World): taken as it is, not copied level by level
            out, used = figures, child_used
            continue
        for month, inc in figures.items():
            if month.year not in own:
                out[month] = out.get(month, 0) + inc
        for year, (names, sources) in child_used.items():
            if year not in own:
                mine = used.setdefault(year, (set(), set()))
                mine[0].update(names)
                mine[1].update(sources)
    return out, used


def _years_below(
    region: str,
    direct: Mapping[str, Mapping[int, object]],
    kids: Mapping[str, Sequence[str]],
    memo: dict[str, set[int]],
    seen: set[str],
) -> set[int]:
    """The years a region or any region inside it has figures."""
    found = memo.get(region)
    if found is None:
        found = memo[region] = set(direct.get(region, ()))
        if region not in seen:
            for child in kids.get(region, ()):
                found |= _years_below(child, direct, kids, memo, seen | {region})
    return found


def _levels(
    direct: Mapping[int, Mapping[_Unit, list[tuple[Month, int]]]],
) -> dict[_Unit, dict[Month, int]]:
    """Each source's own cumulative level at each of its months."""
    rows: dict[_Unit, list[tuple[Month, int]]] = defaultdict(list)
    for per_source in direct.values():
        for source, cells in per_source.items():
            rows[source].extend(cells)
    out: dict[_Unit, dict[Month, int]] = {}
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
