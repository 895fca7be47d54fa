"""What a chart shows, shaped from plain figures: the data drawn and the words around it.

Three kinds: `cumulative` (the running total with its milestones marked and a dashed projection
to the next threshold), `shares` (each model's share of a make or group, largest first) and
`monthly` (units per month beside the same months a year earlier).

Gathering (`cumulative_data`, `shares_data`, `monthly_data`) is plain arithmetic over figures
already in memory and runs on the event loop; drawing is `bot.charts.render`'s, reading the
store and running the drawing off the loop `bot.charts.service`'s. `describe` says in words what
a chart shows, for the message beside the image and its alternative text.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from babel.dates import format_skeleton

from bot.domain.coverage import Basis, SourceFacts, cite, covers, granularity
from bot.domain.formatting import (
    covered,
    format_change,
    format_month,
    format_percent,
    format_period,
    format_units,
    place,
    validate_locale,
)
from bot.domain.i18n import LocalizedError, is_english, t, tp
from bot.domain.ladders import Ladder, union_next_above
from bot.domain.milestones import crossing_ranges
from bot.domain.news_words import around_period, in_period
from bot.domain.periods import Month
from bot.domain.places import where_in
from bot.domain.projection import project
from bot.domain.rungs import union_rungs
from bot.domain.series import WORLD
from bot.reading.queries import ModelShare

KINDS = ("cumulative", "shares", "monthly")
MONTHLY_WINDOW = 12  # months shown by the monthly chart
YEARLY_WINDOW = 8  # years it shows instead where the figures are yearly


class ChartError(LocalizedError):
    """A chart that cannot be drawn: the message says which and why."""


# -- what to draw ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """What every chart carries besides its figures: who, where, in which locale, from what."""

    subject: str
    region: str = WORLD
    metric: str = "sales"
    locale: str = "en"
    source: str = ""
    as_of: Month | None = None  # the last month with figures
    yearly: bool = False  # the latest figures are whole years (`as_of` is a year's December)
    covers: tuple[str, ...] = ()  # the regions the figures are made of, when not all of `region`


@dataclass(frozen=True, slots=True, kw_only=True)
class CumulativeData:
    """A running total, the milestones it crossed and the next threshold."""

    frame: Frame
    points: tuple[tuple[Month, int], ...]  # (month, cumulative), ascending
    milestones: tuple[tuple[int, Month, int], ...]  # (threshold, month first reached, value)
    next_threshold: int | None = None
    projected: Month | None = None  # when `next_threshold` is reached at the recent pace
    highlight: int | None = None  # a threshold to stress (the one being announced)
    kind: ClassVar[str] = "cumulative"


@dataclass(frozen=True, slots=True, kw_only=True)
class SharesData:
    """Each model's units and share of a make or group, largest first."""

    frame: Frame
    shares: tuple[tuple[str, int, float], ...]  # (model, units, share 0..1)
    total: int
    period: str = "all time"
    kind: ClassVar[str] = "shares"


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthlyData:
    """Units in each month of a window and in the same months a year earlier."""

    frame: Frame
    months: tuple[Month, ...]
    units: tuple[int, ...]
    year_before: tuple[int, ...]
    kind: ClassVar[str] = "monthly"


ChartData = CumulativeData | SharesData | MonthlyData


@dataclass(frozen=True, slots=True, kw_only=True)
class Plotted:
    """The figures a chart shows, read back from its drawn artists."""

    kind: str
    series: tuple[tuple[Month, int], ...] = ()  # the line (cumulative) or this window's bars
    year_before: tuple[tuple[Month, int], ...] = ()  # monthly: the bars a year earlier
    milestones: tuple[tuple[Month, int], ...] = ()  # marked points
    projection: tuple[tuple[Month, int], ...] = ()  # the dashed line
    bars: tuple[tuple[str, int], ...] = ()  # shares: (label, units), top to bottom
    texts: tuple[str, ...] = ()  # every text drawn: titles, labels, ticks, footer


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart: the PNG, its file name and what it plotted."""

    png: bytes
    name: str
    plotted: Plotted
    width: int
    height: int


# -- gathering: plain figures in, chart data out ---------------------------------------------


def cumulative_points(monthly: Mapping[Month, int]) -> tuple[tuple[Month, int], ...]:
    """(month, running total) for each month with a figure, ascending."""
    running = 0
    out = []
    for month in sorted(monthly):
        running += monthly[month]
        out.append((month, running))
    return tuple(out)


CHART_RUNGS = 8  # thresholds marked of one month's run, besides its highest


def cumulative_data(
    frame: Frame,
    monthly: Mapping[Month, int],
    ladders: Sequence[Ladder],
    highlight: int | None = None,
) -> CumulativeData:
    """The running total of `monthly`, every threshold of `ladders` it crossed (with the month
    first reached), the next threshold and when the recent pace reaches it."""
    points = cumulative_points(monthly)
    rungs = union_rungs(ladders)
    # a month's run of thresholds by its first few and its highest: a run of a million is a
    # few marks, not a million
    crossed = {
        t: (r.period, r.value)
        for r in crossing_ranges(points, rungs)
        for t in [*rungs.first(r.lowest - 1, r.highest, CHART_RUNGS), r.highest]
    }
    latest = points[-1][1] if points else 0
    upcoming = union_next_above(ladders, latest) if points else None
    projected = project(points, upcoming) if upcoming is not None else None
    return CumulativeData(
        frame=frame,
        points=points,
        milestones=tuple((t, m, v) for t, (m, v) in sorted(crossed.items())),
        next_threshold=upcoming,
        projected=projected,
        highlight=highlight,
    )


def shares_data(
    frame: Frame, breakdown: Sequence[ModelShare], total: int, period: str = "all time"
) -> SharesData:
    """A make's or group's models as `bot.reading.queries` breaks them down, largest first."""
    ordered = sorted(breakdown, key=lambda s: (-s.units, s.name))
    return SharesData(
        frame=frame,
        shares=tuple((s.name, s.units, s.share) for s in ordered),
        total=total,
        period=period,
    )


def monthly_data(
    frame: Frame,
    monthly: Mapping[Month, int],
    last: Month | None = None,
    window: int = MONTHLY_WINDOW,
) -> MonthlyData:
    """The `window` months ending at `last` (default: the latest with figures) and the same
    months a year earlier; months without figures count 0."""
    if window < 1:
        raise ChartError(f"window must be at least 1 month, got {window}")
    end = last or (max(monthly) if monthly else None)
    if end is None:
        return MonthlyData(frame=frame, months=(), units=(), year_before=())
    # yearly figures are drawn as years (a year is never split into months): the last
    # `YEARLY_WINDOW` years, each beside the year before
    step, count = (12, YEARLY_WINDOW) if frame.yearly else (1, window)
    months = tuple(end.plus(step * i) for i in range(1 - count, 1))
    return MonthlyData(
        frame=frame,
        months=months,
        units=tuple(monthly.get(m, 0) for m in months),
        year_before=tuple(monthly.get(m.plus(-12), 0) for m in months),
    )


def framed(frame: Frame, basis: Basis, facts: SourceFacts) -> Frame:
    """The frame of figures taken from `basis`: its latest year's granularity, what it covers
    and, unless given, the sources it cites."""
    if frame.as_of is None or not basis.get(frame.as_of.year):
        return frame
    pairs = basis[frame.as_of.year]
    return replace(
        frame,
        yearly=granularity(pairs, frame.as_of.year, facts) == "year",
        covers=covers(pairs, frame.region),
        source=frame.source or cite(pairs, facts),
    )


def source_line(names: Iterable[str]) -> str:
    """The sources a chart's figures come from, for its footer."""
    unique = sorted(set(n for n in names if n))
    return ", ".join(unique)


# -- words: where, when, what it shows -----------------------------------------------------------


def place_of(frame: Frame) -> str:
    """Where the figures are from: `worldwide`, `in Norway`, `in Europe, Norway only`."""
    if frame.covers:
        inside = "" if frame.region == WORLD else f"{place(frame.region)}, "
        return f"in {inside}{covered(frame.covers)}" + (" only" if inside else "")
    return "worldwide" if frame.region == WORLD else f"in {place(frame.region)}"


def granularity_of(frame: Frame) -> str:
    """`year` where the chart's latest figures are whole years, else `month`."""
    return "year" if frame.yearly else "month"


def period_of(frame: Frame, month: Month) -> str:
    """A month, or the year a yearly figure stands for."""
    return format_period(month, granularity_of(frame), frame.locale)


def verb_of(frame: Frame) -> str:
    """What the figures count: cars `sold`, or `registered` (a stock)."""
    return "registered" if frame.metric == "stock" else "sold"


def month_label(month: Month, locale: str) -> str:
    """`Jan 2015`, `janv. 2015`: short enough for a tick."""
    return str(
        format_skeleton(
            "yMMM", datetime.date(month.year, month.month, 1), locale=validate_locale(locale)
        )
    )


def years_span(first: Month, last: Month) -> str:
    """`2016 – 2023`: the years of a chart of yearly figures."""
    return str(first.year) if first.year == last.year else f"{first.year} – {last.year}"


def months_span(first: Month, last: Month, locale: str) -> str:
    """`2016` for a calendar year, else `Feb 2016 – Jan 2017` in the locale."""
    if first.month == 1 and last == first.plus(11):
        return str(first.year)
    if first == last:
        return format_month(first, locale)
    return f"{month_label(first, locale)} – {month_label(last, locale)}"


def place_phrase(frame: Frame) -> str:
    """Where the figures are from, with a leading space; "" for the world's own figures."""
    if frame.region == WORLD and not frame.covers:
        return ""
    if is_english(frame.locale):
        return f" {place_of(frame)}"
    return where_in(frame.region, frame.covers, frame.locale)


def describe(data: ChartData) -> str:
    """What the chart shows, in one or two sentences in the chart's language: the message text
    beside the image and its alternative text where a platform cannot show it."""
    frame, loc = data.frame, data.frame.locale
    v = {"subject": frame.subject, "where": place_phrase(frame)}
    if isinstance(data, CumulativeData):
        latest = data.points[-1][1] if data.points else 0
        v["total"] = format_units(latest, loc)
        stock = frame.metric == "stock"
        if frame.as_of is None:
            if stock:
                text = t(loc, "{subject}{where}: {total} registered.", **v)
            else:
                text = t(loc, "{subject}{where}: {total} sold.", **v)
        else:
            v["when"] = period_of(frame, frame.as_of)
            if stock:
                text = t(loc, "{subject}{where}: {total} registered through {when}.", **v)
            else:
                text = t(loc, "{subject}{where}: {total} sold through {when}.", **v)
        if data.milestones:
            threshold, month, _ = data.milestones[-1]
            text += t(
                loc,
                " Passed {threshold} {in_when}.",
                threshold=format_units(threshold, loc),
                in_when=in_period(month, granularity_of(frame), loc),
            )
        if data.next_threshold is not None and data.projected is not None:
            text += t(
                loc,
                " {next} {around_when} at the recent pace.",
                next=format_units(data.next_threshold, loc),
                around_when=around_period(data.projected, granularity_of(frame), loc),
            )
        return text
    if isinstance(data, SharesData):
        if not data.shares:
            return t(loc, "No model figures for {subject}{where}.", **v)
        name, units, share = data.shares[0]
        period = tp(loc, "period", "all time") if data.period == "all time" else data.period
        return t(
            loc,
            "{subject}{where}, {period}: the {leader} leads with {units} of {total}, {share}.",
            **v,
            period=period,
            leader=name,
            units=format_units(units, loc),
            total=format_units(data.total, loc),
            share=format_percent(share, loc),
        )
    if not data.months:
        return t(loc, "No monthly figures for {subject}{where}.", **v)
    now, before = sum(data.units), sum(data.year_before)
    first, last = data.months[0], data.months[-1]
    v["span"] = years_span(first, last) if frame.yearly else months_span(first, last, loc)
    v["total"] = format_units(now, loc)
    if before:
        change = format_change((now - before) / before, loc)
        return t(
            loc,
            "{subject}{where}: {total} in {span}, {change} on a year earlier.",
            **v,
            change=change,
        )
    return t(loc, "{subject}{where}: {total} in {span}.", **v)
