"""What a figure is made of, and what may be said of it.

Every year of a series is taken from chosen (region, source) pairs (`bot.domain.series`). From them
an
event learns its granularity (a year given whole is told as the year, never as its December),
what it covers (the world's figure made of US figures alone is "in the USA", never
"worldwide") and whom it cites. Comparisons are made only like with like: growth and records
compare years taken from the same regions and sources (or sources declared equivalent), at the
same granularity; where no such comparison exists there is no event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bot.domain.events import Event, Granularity, GrowthEvent, MilestoneEvent, RecordEvent
from bot.domain.i18n import t, tp
from bot.domain.periods import Month
from bot.domain.places import covered_in, in_place, is_world, local_name
from bot.domain.records import SourceInfo
from bot.domain.settings import Config

Pairs = frozenset[tuple[str, int]]  # (region, source id)
Basis = Mapping[int, set[tuple[str, int]]]  # year -> the pairs its figures were taken from


@dataclass(frozen=True)
class SourceFacts:
    """What telling a figure needs to know of each source, by id."""

    yearly: Mapping[int, frozenset[int]]  # the years a source gives whole
    cites: Mapping[int, str]  # how messages cite it
    family: Mapping[int, int]  # the source it compares with like for like (itself by default)


def source_facts(sources: Sequence[SourceInfo], config: Config) -> SourceFacts:
    """The facts of the store's sources under a configuration."""
    ids = {s.name: s.id for s in sources}
    cites: dict[int, str] = {}
    family: dict[int, int] = {}
    for s in sources:
        configured = config.sources.get(s.name)
        cites[s.id] = configured.cited if configured is not None else s.name
        other = configured.equivalent_to if configured is not None else ""
        family[s.id] = ids.get(other, s.id)
    return SourceFacts({s.id: s.yearly for s in sources}, cites, family)


def granularity(pairs: Pairs | set[tuple[str, int]], year: int, facts: SourceFacts) -> Granularity:
    """A year is told whole when any figure it sums is a yearly one (months cannot be split
    out of a year)."""
    return "year" if any(year in facts.yearly.get(s, ()) for _, s in pairs) else "month"


def mixed(pairs: Pairs | set[tuple[str, int]], year: int, facts: SourceFacts) -> bool:
    """Whether a year told whole also sums figures given by the month (a region summed from a
    yearly part and a monthly one): its months' figures are neither months' nor the year's."""
    return granularity(pairs, year, facts) == "year" and any(
        year not in facts.yearly.get(s, ()) for _, s in pairs
    )


def covers(pairs: Pairs | set[tuple[str, int]], region: str) -> tuple[str, ...]:
    """The regions a figure of `region` is made of, when it is not the region's own."""
    regions = {r for r, _ in pairs}
    if not regions or region in regions:
        return ()
    return tuple(sorted(regions))


def widened(basis: Basis, region: str, year: int) -> tuple[int, tuple[str, ...]] | None:
    """For a cumulative figure to `year` that is the region's own now but summed fewer regions
    in earlier years: the year since which it is whole, and what the years before covered
    ("worldwide since 2015, the USA before"); None when no earlier year was narrower."""
    if {r for pairs in basis.values() for r, _ in pairs} <= {region}:
        return None  # every year the region's own (the common case, asked of every total)
    years = sorted(y for y in basis if y <= year and basis[y])
    if not years or year not in basis or covers(basis[year], region):
        return None
    earlier = [y for y in years if covers(basis[y], region)]
    if not earlier:
        return None
    since = min(y for y in years if y > max(earlier))
    return since, tuple(sorted({r for y in earlier for r in covers(basis[y], region)}))


def cite(pairs: Pairs | set[tuple[str, int]], facts: SourceFacts) -> str:
    """The sources behind a figure, as messages cite them."""
    return "; ".join(sorted({facts.cites.get(s, str(s)) for _, s in pairs}))


def alike(basis: Basis, year: int, other: int, facts: SourceFacts) -> bool:
    """Whether two years of a series are taken from the same regions and sources (or
    equivalent ones) at the same granularity, so that comparing them means something."""
    a, b = basis.get(year), basis.get(other)
    if not a or not b:
        return False
    if granularity(a, year, facts) != granularity(b, other, facts):
        return False
    return {(r, facts.family.get(s, s)) for r, s in a} == {
        (r, facts.family.get(s, s)) for r, s in b
    }


def tell(
    event: Event,
    basis: Basis,
    monthly: Mapping[Month, int],
    facts: SourceFacts,
    memo: AlikeMemo | None = None,
) -> Event | None:
    """The event with its granularity, coverage and sources; None when it compares unlike
    figures (growth against a year of other sources or coverage, a record against months of
    another source). `monthly` (the series' every month) is read only for a record some
    earlier year of which is unlike its own (`earlier_alike`). `memo`, of the same `facts`,
    remembers which years are alike."""
    year = event.period.year
    pairs = basis.get(year)
    if not pairs:
        return event
    if torn(event, pairs, facts):
        return None
    if isinstance(event, MilestoneEvent) and event.period.month != 12 and mixed(pairs, year, facts):
        return replace(dressed(event, basis, facts), granularity="month")
    if isinstance(event, GrowthEvent) and not (
        memo.alike(basis, year, year - 1)
        if memo is not None
        else alike(basis, year, year - 1, facts)
    ):
        return None
    if isinstance(event, RecordEvent) and not earlier_alike(basis, year, facts, memo):
        found = _like_record(event, basis, monthly, facts)
        if found is None:
            return None
        event = found
    return dressed(event, basis, facts)


def torn(event: Event, pairs: Pairs | set[tuple[str, int]], facts: SourceFacts) -> bool:
    """Whether `event` compares a year told whole that also sums other regions' months (a
    continent of a monthly and a yearly country): no month of it is a year's figure, nor a
    year's part, so a record in it, or growth to a month short of December, means nothing."""
    year = event.period.year
    partial = isinstance(event, GrowthEvent) and event.period.month != 12
    return (isinstance(event, RecordEvent) or partial) and mixed(pairs, year, facts)


class AlikeMemo:
    """`alike` of a basis' years, remembered by the basis' identity for one poll's telling: its
    continued series share a handful of bases (one object each, `kept_bases`), and its bases
    are not changed while it tells."""

    def __init__(self, facts: SourceFacts) -> None:
        self.facts = facts
        self._found: dict[tuple[int, int, int], bool] = {}
        self._held: list[Basis] = []  # an id stays its basis' while it is remembered

    def alike(self, basis: Basis, year: int, other: int) -> bool:
        """`alike(basis, year, other, self.facts)`."""
        key = (id(basis), year, other)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = alike(basis, year, other, self.facts)
            self._held.append(basis)
        return found


def earlier_alike(
    basis: Basis, year: int, facts: SourceFacts, memo: AlikeMemo | None = None
) -> bool:
    """Whether every year of the basis before `year` is alike with it: a record in `year` is
    then compared with every earlier month, as detection found it (its best month stands), and
    needs no monthly figures to be told. `memo`, of the same `facts`, remembers."""
    if memo is not None:
        return all(y >= year or memo.alike(basis, y, year) for y in basis)
    return all(y >= year or alike(basis, y, year, facts) for y in basis)


def dressed(event: Event, basis: Basis, facts: SourceFacts) -> Event:
    """The event with the granularity, coverage and sources of its period's year."""
    pairs = basis.get(event.period.year)
    if not pairs:
        return event
    if isinstance(event, MilestoneEvent):
        # a cumulative figure is as narrow as the narrowest year it sums
        found = widened(basis, event.region, event.period.year)
        if found is not None:
            event = replace(event, since=found[0], before=found[1])
    return replace(
        event,
        granularity=granularity(pairs, event.period.year, facts),
        covers=covers(pairs, event.region),
        source=cite(pairs, facts),
    )


def _like_record(
    event: RecordEvent, basis: Basis, monthly: Mapping[Month, int], facts: SourceFacts
) -> RecordEvent | None:
    """The record against the best earlier period taken like for like; None when there is none
    or it is not beaten."""
    year = event.period.year
    like = {y for y in basis if y == year or alike(basis, y, year, facts)}
    earlier = [(v, m) for m, v in monthly.items() if m < event.period and m.year in like and v]
    if not earlier:
        return None
    best, when = max(earlier, key=lambda item: (item[0], -item[1].index))
    if event.value <= best:
        return None
    return replace(event, previous_best=best, previous_best_period=when)


@dataclass(frozen=True, slots=True)
class Told:
    """What a total says of itself: its granularity, coverage and sources, and why the period
    asked for was cut short."""

    granularity: Granularity = "month"
    covers: tuple[str, ...] = ()
    source: str = ""
    note: str = ""


def told(
    basis: Basis,
    region: str,
    last: Month | None,
    asked: Month | None,
    facts: SourceFacts,
    loc: str = "en",
) -> Told:
    """How to tell a cumulative figure that runs to `last`, when `asked` was asked for; its
    note in the language of `loc`."""
    if last is None or not basis.get(last.year):
        return Told()
    pairs = basis[last.year]
    grain = granularity(pairs, last.year, facts)
    notes = []
    found = widened(basis, region, last.year)
    if found is not None:
        notes.append(
            t(
                loc,
                "{region}'s own figures since {year}, {covered} only before",
                region=local_name(region, loc),
                year=found[0],
                covered=covered_in(found[1], loc),
            )
        )
    if last.month != 12 and mixed(pairs, last.year, facts):
        # a month of a year that sums monthly parts and whole-year ones: the whole years are
        # counted in December only, so the figure is the month's, without them (the basis
        # names regions and sources, not which region each source gave: no region is named)
        grain = "month"
        notes.append(
            t(
                loc,
                "without {year}'s whole-year figures ({sources}), counted in December only",
                year=last.year,
                sources=cite({p for p in pairs if last.year in facts.yearly.get(p[1], ())}, facts),
            )
        )
    elif (
        asked is not None
        and asked.month != 12
        and basis.get(asked.year)
        and granularity(basis[asked.year], asked.year, facts) == "year"
    ):
        notes.append(
            t(
                loc,
                "{year} is known only as a whole year ({sources}), so the figure runs through "
                "{last}",
                year=asked.year,
                sources=cite(basis[asked.year], facts),
                last=last.year if last.month == 12 else last,
            )
        )
    note = tp(loc, "list", "; ").join(notes)
    return Told(grain, covers(pairs, region), cite(pairs, facts), note)


def explain(
    region: str,
    metric: str,
    basis: Basis,
    facts: SourceFacts,
    samples: Sequence[str] = (),
    last: Month | None = None,
    loc: str = "en",
) -> list[str]:
    """Which regions, sources, years and granularity made a figure, and what was left out and
    why: `evbot total --explain` and `/ev-total explain:yes`, in the language of `loc`."""
    years = sorted(y for y in basis if basis[y] and (last is None or y <= last.year))
    stock = metric == "stock"
    if not years:
        where = "" if is_world(region) else in_place(region, loc)
        if stock:
            return [t(loc, "No stock figures for this subject{where}.", where=where)]
        return [t(loc, "No sales figures for this subject{where}.", where=where)]
    name = local_name(region, loc)
    lines: list[str] = []
    start = years[0]
    for i, year in enumerate(years):
        following = years[i + 1] if i + 1 < len(years) else None
        if following == year + 1 and _same(basis[following], basis[year], following, year, facts):
            continue
        span = str(start) if start == year else f"{start}–{year}"
        pairs = basis[year]
        regions = sorted({r for r, _ in pairs})
        if granularity(pairs, year, facts) == "year":
            whole = tp(loc, "granularity", "whole years")
        else:
            whole = tp(loc, "granularity", "months")
        if regions == [region]:
            what = t(loc, "{region}'s own figures", region=name)
        elif len(regions) == 1:
            what = t(
                loc, "{part} only ({region} has no figure of its own)", part=regions[0], region=name
            )
        else:
            what = t(
                loc,
                "the sum of {parts} ({region} has no figure of its own)",
                parts=", ".join(regions),
                region=name,
            )
        lines.append(
            t(
                loc,
                "{span}: {what}, {granularity}, from {sources}",
                span=span,
                what=what,
                granularity=whole,
                sources=cite(pairs, facts),
            )
        )
        start = following if following is not None else year
    if stock:
        lines.append(
            t(
                loc,
                "Metric: stock only (registered vehicles, a level); sales and stock are never "
                "added together.",
            )
        )
    else:
        lines.append(
            t(loc, "Metric: sales only (units sold); sales and stock are never added together.")
        )
    lines.append(
        t(
            loc,
            "Where several sources have the same region and year, the one of best priority is "
            "used; a region's own figure is used where there is one, else its sub-regions' sum.",
        )
    )
    if samples:
        lines.append(
            t(
                loc,
                "Left out: {samples} (a sample of its region: shares only, never a total).",
                samples=", ".join(sorted(samples)),
            )
        )
    return lines


def _same(
    a: set[tuple[str, int]], b: set[tuple[str, int]], ya: int, yb: int, facts: SourceFacts
) -> bool:
    return a == b and granularity(a, ya, facts) == granularity(b, yb, facts)
