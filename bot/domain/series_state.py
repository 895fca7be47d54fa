"""Per-series running state: what detection needs to continue a series from its last detected
month without reading its history again.

A poll whose changes to a series all lie after the month it was last detected at reads only the
new months and this state (`continue_view`); any other change re-reads the whole series
(`whole_view`). Both give a `SeriesView` with the same answers, so detection does not care which
one it got: the cumulative figure, its peak, the first month and first month with units, the
best month before the latest (for a record) and every month from `known_from` on (for year to
date, a parent's total as of a month and the projection pace).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.kept_basis import KeptBasis
from bot.domain.periods import Month


# not frozen: a poll makes a state for every series it touched, and a frozen dataclass's
# __init__ sets each of these 14 fields through object.__setattr__ (ten times the cost of a
# plain one's). Nothing changes a state once made: a detection makes new ones.
@dataclass(slots=True)
class SeriesState:
    """A series as detected at its last month, kept with the recorded milestones.

    `recent` holds every month's figure from `recent_from` to `last` (at least `last`).
    `year_sources` are the (region, source id) of the cells the series had in `last`'s year up
    to `last`: figures for later months of that year continue the state only while they come
    from those (one source is chosen per region and year). A state is only valid under the
    `fingerprint` it was computed with (the configuration and sources that shape the series)
    and while the recorded milestones up to `peak` stand.
    """

    subject_key: str
    region: str
    metric: str
    fingerprint: str
    first: Month  # first month with a figure
    first_nonzero: Month | None  # first month whose figure is not 0
    last: Month  # last month with a figure
    total: int  # the cumulative figure at `last`
    peak: int  # the highest cumulative figure so far
    best: tuple[int, Month] | None  # the best month (units above 0) before `last`
    recent_from: Month
    recent: tuple[tuple[Month, int], ...]
    year_sources: frozenset[tuple[str, int]] = frozenset()
    flagged: int = 0  # recorded milestones above `peak` (flagged below): reaching one corrects it
    # each year's (region, source) pairs up to `last`: its events are told without a read of
    # its history (None: a state kept before bases were, which is not continued)
    basis: KeptBasis | None = None


@dataclass(slots=True)  # built by the thousand in a poll: a plain init is cheaper
class SeriesView:
    """A series as one detection sees it: whole, or the part since a state plus that state.

    `monthly` and `points` (cumulative) hold every month from `known_from` on, or every month
    when `known_from` is None. `prior_peak` is the peak the state had already been detected up
    to (None for a whole series): thresholds up to it are already recorded.
    """

    monthly: dict[Month, int]
    points: list[tuple[Month, int]]
    known_from: Month | None
    prior_peak: int | None
    first: Month
    first_nonzero: Month | None
    latest: Month
    total: int
    peak: int
    best: tuple[int, Month] | None  # the best month (units above 0) before `latest`

    @property
    def base(self) -> int:
        """The cumulative figure before `known_from` (0 for a whole series)."""
        return self.points[0][1] - self.monthly[self.points[0][0]]

    def total_as_of(self, month: Month) -> int | None:
        """The cumulative figure up to and including `month`; None when this view does not
        reach back that far (the caller reads the whole series)."""
        if self.known_from is not None and month < self.known_from:
            return None
        if month >= self.latest:
            return self.total
        value = self.base
        for m, cumulative in self.points:
            if m > month:
                break
            value = cumulative
        return value

    def covers_pace(self, window: int = 12) -> bool:
        """Whether every point a `window`-month projection pace needs is in `points`."""
        return self.known_from is None or self.known_from.index <= self.latest.index - window

    def state(
        self,
        subject_key: str,
        region: str,
        metric: str,
        fingerprint: str,
        keep_year: bool,
        year_sources: frozenset[tuple[str, int]],
        flagged: int = 0,
        basis: KeptBasis | None = None,
    ) -> SeriesState:
        """The state to keep after this detection; `keep_year` keeps the months from January
        of the year before the latest (year to date and parents' totals need them)."""
        latest = self.latest
        if keep_year:
            wanted = Month(latest.year - 1, 1)
            start = wanted if self.known_from is None else max(wanted, self.known_from)
            # by number: Month's own comparisons are Python calls, a few dozen per series
            since = start.year * 12 + start.month
            recent = tuple(
                (m, v)
                for m, v in sorted(self.monthly.items(), key=_item_number)
                if m.year * 12 + m.month >= since
            )
        else:
            start, recent = latest, ((latest, self.monthly[latest]),)
        # positional: a poll keeps a state for every series it touched
        return SeriesState(
            subject_key,
            region,
            metric,
            fingerprint,
            self.first,
            self.first_nonzero,
            latest,
            self.total,
            self.peak,
            self.best,
            start,
            recent,
            year_sources,
            flagged,
            basis,
        )


def _better(best: tuple[int, Month] | None, units: int, month: Month) -> tuple[int, Month] | None:
    # months come in ascending order, so a tie keeps the earlier month, the one that set it
    if units > 0 and (best is None or units > best[0]):
        return (units, month)
    return best


def _number(month: Month) -> int:
    return month.year * 12 + month.month


def _item_number(item: tuple[Month, int]) -> int:
    month = item[0]
    return month.year * 12 + month.month


def whole_view(monthly: Mapping[Month, int]) -> SeriesView | None:
    """The view of a whole series (its figure per month); None when it has no month."""
    if not monthly:
        return None
    # by number: Month's own comparisons are Python calls, a few hundred per series
    months = sorted(monthly, key=_number)
    points: list[tuple[Month, int]] = []
    total = 0
    peak: int | None = None
    first_nonzero: Month | None = None
    best: tuple[int, Month] | None = None
    last = len(months) - 1
    for i, month in enumerate(months):
        units = monthly[month]
        if units and first_nonzero is None:
            first_nonzero = month
        if i != last:
            best = _better(best, units, month)
        total += units
        peak = total if peak is None else max(peak, total)
        points.append((month, total))
    return SeriesView(
        monthly={m: monthly[m] for m in months},
        points=points,
        known_from=None,
        prior_peak=None,
        first=months[0],
        first_nonzero=first_nonzero,
        latest=months[-1],
        total=total,
        peak=total if peak is None else peak,
        best=best,
    )


def continue_view(state: SeriesState, fresh: Mapping[Month, int]) -> SeriesView:
    """The view of a series continued from `state` with the figures of months after its last.

    Raises ValueError when `fresh` holds a month at or before `state.last`: such a change needs
    the whole series.
    """
    recent = state.recent
    monthly = dict(recent)
    total, peak = state.total, state.peak
    if len(recent) == 1:  # the usual state of a model: its last month only
        points = [(recent[0][0], total)]
    else:
        running = total - sum(monthly.values())
        points = []
        for month, units in recent:
            running += units
            points.append((month, running))
    first_nonzero, best = state.first_nonzero, state.best
    last = state.last
    previous, previous_units = last, monthly.get(last, 0)
    for month in sorted(fresh) if len(fresh) > 1 else fresh:
        if month <= last:
            raise ValueError(f"{month} is not after the last detected month {last}")
        units = fresh[month]
        if previous_units > 0 and (best is None or previous_units > best[0]):
            best = (previous_units, previous)  # a tie keeps the earlier month, as _better
        previous, previous_units = month, units
        if units and first_nonzero is None:
            first_nonzero = month
        total += units
        if total > peak:
            peak = total
        monthly[month] = units
        points.append((month, total))
    return SeriesView(
        monthly=monthly,
        points=points,
        known_from=state.recent_from,
        prior_peak=state.peak,
        first=state.first,
        first_nonzero=first_nonzero,
        latest=previous,
        total=total,
        peak=peak,
        best=best,
    )


def continue_one(state: SeriesState, month: Month, units: int) -> SeriesView:
    """`continue_view(state, {month: units})`, the usual poll of a series, without its
    generality (a test holds the two equal)."""
    last = state.last
    # by number: Month's own comparisons are Python calls, and this is every touched model's
    if month.year * 12 + month.month <= last.year * 12 + last.month:
        raise ValueError(f"{month} is not after the last detected month {last}")
    recent = state.recent
    total = state.total + units
    peak = state.peak
    if total > peak:
        peak = total
    if len(recent) == 1:
        ((only, previous_units),) = recent
        monthly = {only: previous_units, month: units}
        points = [(only, state.total), (month, total)]
        if only is not last and only != last:
            previous_units = 0
    else:
        monthly = dict(recent)
        running = state.total - sum(monthly.values())
        points = []
        for m, v in recent:
            running += v
            points.append((m, running))
        previous_units = monthly.get(last, 0)
        monthly[month] = units
        points.append((month, total))
    best = state.best
    if previous_units > 0 and (best is None or previous_units > best[0]):
        best = (previous_units, last)
    first_nonzero = state.first_nonzero
    if units and first_nonzero is None:
        first_nonzero = month
    return SeriesView(
        monthly,
        points,
        state.recent_from,
        state.peak,
        state.first,
        first_nonzero,
        month,
        total,
        peak,
        best,
    )


_AT: dict[int, Month] = {}  # month index -> Month: a few thousand at most, built once
_MONTHS: dict[str, Month] = {}  # "2015-06" -> Month: the same, parsed once


def month_index(month: Month) -> int:
    """How a state stores a month: `Month.index` (year * 12 + month - 1), cheap both ways."""
    return month.year * 12 + month.month - 1


def month_at(index: int) -> Month:
    """The inverse of `month_index`, remembered: states repeat the same few hundred months."""
    month = _AT.get(index)
    if month is None:
        if not 0 <= index < 120_000:
            raise ValueError(f"series state: {index} is not a month index")
        month = _AT[index] = Month.from_index(index)
    return month


def encode_recent(recent: tuple[tuple[Month, int], ...]) -> str:
    """`recent` as text for a store column, months by index: "24218:120,24219:95"."""
    return ",".join(f"{m.year * 12 + m.month - 1}:{v}" for m, v in recent)


def parse_month(text: str) -> Month:
    """`Month.parse`, remembered: stored rows repeat the same few hundred months."""
    month = _MONTHS.get(text)
    if month is None:
        month = _MONTHS[text] = Month.parse(text)
    return month


def decode_recent(text: str) -> tuple[tuple[Month, int], ...]:
    """The inverse of `encode_recent`; a malformed text raises ValueError naming it."""
    if not text:
        return ()
    out = []
    for item in text.split(","):
        month, sep, units = item.partition(":")
        if not sep:
            raise ValueError(f"series state: {item!r} in {text!r} is not month:units")
        out.append((month_at(int(month)), int(units)))
    return tuple(out)


_SOURCES: dict[str, frozenset[tuple[str, int]]] = {}  # most series share a handful of these
_SOURCE_TEXTS: dict[frozenset[tuple[str, int]], str] = {}


def encode_sources(sources: frozenset[tuple[str, int]]) -> str:
    """`year_sources` as text for a store column (JSON: region names are free text)."""
    text = _SOURCE_TEXTS.get(sources)
    if text is None:
        text = json.dumps(sorted(sources), ensure_ascii=False)
        if len(_SOURCE_TEXTS) < 10_000:
            _SOURCE_TEXTS[sources] = text
    return text


def decode_sources(text: str) -> frozenset[tuple[str, int]]:
    """The inverse of `encode_sources`; a malformed text raises ValueError naming it."""
    found = _SOURCES.get(text)
    if found is None:
        try:
            found = frozenset((str(region), int(source)) for region, source in json.loads(text))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"series state: {text!r} is not a list of [region, source]") from exc
        if len(_SOURCES) < 10_000:
            _SOURCES[text] = found
    return found
