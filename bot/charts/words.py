"""A chart's words in the chart's language: titles, subtitles, the next milestone's label, the
footer. Each is one whole message of the catalogs (`bot.domain.i18n`); English keeps the words it
has always drawn ("worldwide", "in Europe, Norway only").
"""

from __future__ import annotations

from bot.charts.data import (
    CumulativeData,
    Frame,
    MonthlyData,
    SharesData,
    granularity_of,
    period_of,
    place_of,
)
from bot.domain.formatting import format_percent, format_units
from bot.domain.i18n import is_english, tn, tp
from bot.domain.news_words import around_period, footer, the_model
from bot.domain.places import where_in, worldwide
from bot.domain.series import WORLD


def where_of(frame: Frame) -> str:
    """Where the chart's figures are from, without a leading space: "worldwide", "in Norway"."""
    loc = frame.locale
    if is_english(loc):
        return place_of(frame)
    if frame.region == WORLD and not frame.covers:
        return worldwide(loc).strip()
    return where_in(frame.region, frame.covers, loc).strip()


def footer_text(frame: Frame) -> str:
    """ "Source: EV Volumes · data through June 2015 · EV Milestone Bot"."""
    loc = frame.locale
    if frame.as_of is not None:
        text = footer(frame.source, period_of(frame, frame.as_of), loc)
    elif frame.source:
        text = tp(loc, "chart", "Source: {source}", source=frame.source)
    else:
        text = ""
    return " · ".join(part for part in (text, "EV Milestone Bot") if part)


def cumulative_titles(data: CumulativeData, latest: int) -> tuple[str, str]:
    """The running total's title and subtitle."""
    frame, loc = data.frame, data.frame.locale
    v = {"subject": frame.subject, "total": format_units(latest, loc), "where": where_of(frame)}
    if frame.metric == "stock":
        title = tp(loc, "chart", "{subject}: {total} registered", **v)
        if data.milestones:
            return title, tp(
                loc,
                "chart",
                "Electric vehicles registered {where}, running total,"
                " with the milestones it passed",
                **v,
            )
        return title, tp(loc, "chart", "Electric vehicles registered {where}, running total", **v)
    title = tp(loc, "chart", "{subject}: {total} sold", **v)
    if data.milestones:
        return title, tp(
            loc,
            "chart",
            "Electric vehicles sold {where}, running total, with the milestones it passed",
            **v,
        )
    return title, tp(loc, "chart", "Electric vehicles sold {where}, running total", **v)


def next_label(data: CumulativeData) -> str:
    """The next milestone's line label, with when the recent pace reaches it."""
    loc = data.frame.locale
    value = format_units(data.next_threshold or 0, loc)
    if data.projected is None:
        return tp(loc, "chart", "Next: {value}", value=value)
    return tp(
        loc,
        "chart",
        "Next: {value} {around_when} at the recent pace",
        value=value,
        around_when=around_period(data.projected, granularity_of(data.frame), loc),
    )


def others_label(count: int, loc: str) -> str:
    """The bar of the smaller models, summed: "12 other models"."""
    return tn(loc, "{n} other model", "{n} other models", count, n=count)


def shares_titles(data: SharesData, leader: str, share: float) -> tuple[str, str]:
    """The model shares' title and subtitle."""
    frame, loc = data.frame, data.frame.locale
    v = {
        "subject": frame.subject,
        "leader": the_model(leader, loc),
        "share": format_percent(share, loc),
        "total": format_units(data.total, loc),
        "where": where_of(frame),
        "period": data.period,
    }
    title = tp(loc, "chart", "{subject}: {leader} is {share}", **v)
    if frame.metric == "stock":
        return title, tp(
            loc,
            "chart",
            "Each model's share of {total} electric vehicles registered {where}, {period}",
            **v,
        )
    return title, tp(
        loc, "chart", "Each model's share of {total} electric vehicles sold {where}, {period}", **v
    )


def monthly_titles(data: MonthlyData, total: int, span: str, change: str) -> tuple[str, str]:
    """The months' (or years') title and subtitle, beside a year earlier."""
    frame, loc = data.frame, data.frame.locale
    v = {"subject": frame.subject, "total": format_units(total, loc), "span": span}
    v |= {"change": change, "where": where_of(frame)}
    if change:
        title = tp(loc, "chart", "{subject}: {total} in {span}, {change}", **v)
    else:
        title = tp(loc, "chart", "{subject}: {total} in {span}", **v)
    stock = frame.metric == "stock"
    if frame.yearly and stock:
        return title, tp(
            loc,
            "chart",
            "Electric vehicles registered {where} each year, beside the year before",
            **v,
        )
    if frame.yearly:
        return title, tp(
            loc, "chart", "Electric vehicles sold {where} each year, beside the year before", **v
        )
    if stock:
        return title, tp(
            loc,
            "chart",
            "Electric vehicles registered {where} each month, beside the same month a year earlier",
            **v,
        )
    return title, tp(
        loc,
        "chart",
        "Electric vehicles sold {where} each month, beside the same month a year earlier",
        **v,
    )
