"""Each kind of chart drawn on matplotlib axes: titles, lines, bars, marks, ticks and footer.

`bot.charts.render` hands these a figure and the axes of the chart's kind, emptied; they add the
data's artists with matplotlib's object-oriented API (never `pyplot`). Text is placed by
measuring it with the figure's Agg renderer, without drawing the figure.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from babel.dates import format_date

from bot.charts.data import (
    ChartError,
    CumulativeData,
    Frame,
    MonthlyData,
    SharesData,
    month_label,
    months_span,
    place_phrase,
    years_span,
)
from bot.charts.words import (
    cumulative_titles,
    footer_text,
    monthly_titles,
    next_label,
    others_label,
    shares_titles,
)
from bot.domain.formatting import (
    format_change,
    format_month,
    format_percent,
    format_units,
    validate_locale,
)
from bot.domain.periods import Month

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

WIDTH_PX, HEIGHT_PX, DPI = 1200, 675, 100  # 16:9, sharp at chat preview size
MAX_BARS = 8  # the shares chart's bars; smaller models are summed as "Other"

# Okabe & Ito's palette, distinguishable with every common colour-vision deficiency.
BLUE = "#0072B2"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
GREY = "#6E6E6E"
INK = "#1A1A1A"
GRID = "#E4E4E4"


def new_axes(fig: Figure, kind: str) -> Axes:
    """The axes of one kind of chart, with what every chart of that kind shares."""
    ax = fig.add_axes((0.085, 0.14, 0.885, 0.66))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9A9A9A")
    ax.tick_params(colors=INK, labelsize=13, length=0, pad=8)
    ax.grid(axis="y", color=GRID, linewidth=1)
    ax.set_axisbelow(True)
    if kind == "shares":
        ax.grid(False)
        ax.yaxis.set_inverted(True)  # largest on top
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="y", labelsize=14)
    return ax


def _title(fig: Figure, title: str, subtitle: str) -> None:
    head = fig.text(0.02, 0.935, title, fontsize=24, fontweight="bold", color=INK, va="center")
    sub = fig.text(0.02, 0.87, subtitle, fontsize=14.5, color=GREY, va="center")
    _fit(head, 0.96)
    _fit(sub, 0.96)


def _text_width(text: Text) -> float:
    """A text's width as a fraction of the figure's (measured, without drawing the figure)."""
    # with no renderer given, the text measures itself with its figure's (Agg) renderer
    return float(text.get_window_extent().width) / WIDTH_PX


def _fit(text: Text, width: float) -> None:
    """Shrink a long name's title until it fits: a chart is no place for a cut-off headline."""
    size = float(text.get_fontsize())
    while size > 10 and _text_width(text) > width:
        size -= 1
        text.set_fontsize(size)


def footer(fig: Figure, frame: Frame) -> None:
    fig.text(0.02, 0.03, footer_text(frame), fontsize=11.5, color=GREY, va="center")


def _units_axis(ax: Axes, locale: str, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(
        MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=3)
    )
    target.set_major_formatter(FuncFormatter(lambda v, _: format_units(round(float(v)), locale)))


def _month_ticks(ax: Axes, first: Month, last: Month, locale: str) -> None:
    """A tick every January (every few years when the span is long), named in the locale."""
    years = last.year - first.year + 1
    step = max(1, math.ceil(years / 8))
    ticks = [Month(y, 1) for y in range(first.year, last.year + 1) if (y - first.year) % step == 0]
    ticks = [m for m in ticks if first.index <= m.index <= last.index] or [first]
    ax.set_xticks([m.index for m in ticks], [month_label(m, locale) for m in ticks])


def draw_cumulative(fig: Figure, ax: Axes, data: CumulativeData) -> None:
    frame, loc = data.frame, data.frame.locale
    if not data.points:
        raise ChartError(
            "No figures for {subject}{where} to draw.",
            subject=frame.subject,
            where=place_phrase(frame),
        )
    latest_month, latest = data.points[-1]
    _title(fig, *cumulative_titles(data, latest))
    xs = [m.index for m, _ in data.points]
    ys = [v for _, v in data.points]
    ax.fill_between(xs, ys, color=BLUE, alpha=0.08, linewidth=0)
    ax.plot(xs, ys, color=BLUE, linewidth=3.2, solid_capstyle="round", gid="series")
    end_x = latest_month.index
    top = max(max(ys), data.next_threshold or 0)
    if data.next_threshold is not None:
        ax.axhline(data.next_threshold, color=GREY, linewidth=1.2, linestyle=":", zorder=1)
        label = next_label(data)
        if data.projected is not None:
            ax.plot(
                [end_x, data.projected.index],
                [latest, data.next_threshold],
                color=BLUE,
                linewidth=2.4,
                linestyle=(0, (5, 3)),
                gid="projection",
            )
            ax.plot(
                [data.projected.index],
                [data.next_threshold],
                marker="o",
                markersize=9,
                markerfacecolor="white",
                markeredgecolor=BLUE,
                markeredgewidth=2,
            )
            end_x = data.projected.index
        ax.text(
            xs[0],
            data.next_threshold,
            label,
            fontsize=12.5,
            color=GREY,
            va="bottom",
            ha="left",
            gid="next",
        )
    first = data.points[0][0]
    span = max(end_x - first.index, 1)
    ax.set_xlim(first.index - span * 0.02, end_x + span * 0.03)
    ax.set_ylim(0, top * 1.1)
    _units_axis(ax, loc)
    _month_ticks(ax, first, Month.from_index(end_x), loc)
    _milestone_marks(ax, data, top * 1.1, span)


def _milestone_marks(ax: Axes, data: CumulativeData, y_top: float, span: int) -> None:
    """Mark every milestone; label those with room (largest first, a label's height apart),
    always the highlighted one."""
    if not data.milestones:
        return
    loc = data.frame.locale
    xs = [m.index for _, m, _ in data.milestones]
    ys = [v for _, _, v in data.milestones]
    sizes = [150 if t == data.highlight else 60 for t, _, _ in data.milestones]
    ax.scatter(
        xs,
        ys,
        s=sizes,
        color=VERMILLION,
        edgecolors="white",
        linewidths=1.5,
        zorder=5,
        gid="milestones",
    )
    gap = y_top * 0.055  # a label's height, as a share of the axis
    first = data.points[0][0].index
    ordered = sorted(data.milestones, key=lambda x: (x[0] != data.highlight, -x[0]))
    chosen: list[tuple[int, Month, int, str]] = []
    for threshold, month, value in ordered:
        # left of the point is above a rising curve, so empty; near the start there is no
        # room, and below-right is under the curve (the label never hides the line) where it
        # clears the axis; the announced threshold is labelled even where neither has room
        if (month.index - first) / span > 0.3:
            place = "left"
        elif value >= y_top * 0.075:
            place = "below"
        elif threshold == data.highlight:
            place = "above"
        else:
            continue
        if all(abs(threshold - t) >= gap for t, _, _, _ in chosen):
            chosen.append((threshold, month, value, place))
    offsets = {"left": (-12, 0), "below": (8, -8), "above": (8, 8)}
    for threshold, month, value, place in chosen:
        ax.annotate(
            f"{format_units(threshold, loc)} · {format_month(month, loc)}",
            (month.index, value),
            xytext=offsets[place],
            textcoords="offset points",
            ha="right" if place == "left" else "left",
            va={"left": "center", "below": "top", "above": "bottom"}[place],
            fontsize=12.5,
            color=INK,
            fontweight="bold" if threshold == data.highlight else "normal",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"},
            zorder=6,
        )


def draw_shares(fig: Figure, ax: Axes, data: SharesData) -> None:
    frame, loc = data.frame, data.frame.locale
    if not data.shares or data.total <= 0:
        raise ChartError(
            "No model figures for {subject}{where} to draw.",
            subject=frame.subject,
            where=place_phrase(frame),
        )
    rows = list(data.shares[:MAX_BARS])
    rest = data.shares[MAX_BARS:]
    if rest:
        others = sum(u for _, u, _ in rest)
        rows.append((others_label(len(rest), loc), others, others / data.total))
    _title(fig, *shares_titles(data, rows[0][0], rows[0][2]))
    names = [name for name, _, _ in rows]
    units = [u for _, u, _ in rows]
    widest_name = 0.0
    for name in names:
        probe = fig.text(0, 0, name, fontsize=14)
        widest_name = max(widest_name, _text_width(probe))
        probe.remove()
    left = min(0.02 + widest_name + 0.015, 0.45)
    ax.set_position((left, 0.1, 0.97 - left, 0.7))
    colours = [BLUE] * min(len(rows), MAX_BARS) + [GREY] * (len(rows) - MAX_BARS)
    positions = list(range(len(rows)))
    _bars(ax, positions, units, colours, thickness=0.68, gid="bars", horizontal=True)
    ax.set_yticks(positions, names)
    widest = max(units)
    ax.set_xlim(0, widest * 1.22)
    for y, (_, u, share) in enumerate(rows):
        percent = format_percent(share, loc, 1 if share < 0.1 else 0)
        inside = u > widest * 0.2
        label = ax.text(
            u - widest * 0.012 if inside else u + widest * 0.012,
            y,
            percent,
            ha="right" if inside else "left",
            va="center",
            fontsize=14,
            fontweight="bold",
            color="white" if inside else INK,
            gid="percent",
        )
        style: dict[str, Any] = {"ha": "left", "va": "center", "fontsize": 12.5, "color": GREY}
        if inside:
            ax.text(u + widest * 0.015, y, format_units(u, loc), gid="units", **style)
        else:
            # a few points after the percentage, wherever it ends (a fixed share of the axis
            # left the wider percentages touching their units)
            ax.annotate(
                format_units(u, loc),
                (1, 0.5),
                xycoords=label,
                xytext=(5, 0),
                textcoords="offset points",
                gid="units",
                **style,
            )


def draw_monthly(fig: Figure, ax: Axes, data: MonthlyData) -> None:
    frame, loc = data.frame, data.frame.locale
    if not data.months or (not any(data.units) and not any(data.year_before)):
        raise ChartError(
            "No monthly figures for {subject}{where} to draw.",
            subject=frame.subject,
            where=place_phrase(frame),
        )
    first, last = data.months[0], data.months[-1]
    now, before = sum(data.units), sum(data.year_before)
    change = format_change((now - before) / before, loc) if before else ""
    span = years_span(first, last) if frame.yearly else months_span(first, last, loc)
    _title(fig, *monthly_titles(data, now, span, change))
    positions = list(range(len(data.months)))
    width = 0.4
    earlier = (
        years_span(first.plus(-12), last.plus(-12))
        if frame.yearly
        else months_span(first.plus(-12), last.plus(-12), loc)
    )
    before_at = [p - width / 2 for p in positions]
    _bars(
        ax,
        before_at,
        data.year_before,
        [SKY] * len(positions),
        thickness=width,
        gid="year_before",
        label=earlier,
    )
    now_at = [p + width / 2 for p in positions]
    _bars(
        ax, now_at, data.units, [BLUE] * len(positions), thickness=width, gid="series", label=span
    )
    labels = []
    for i, m in enumerate(data.months):
        if frame.yearly:
            labels.append(str(m.year))
            continue
        name = str(
            format_date(datetime.date(m.year, m.month, 1), "LLL", locale=validate_locale(loc))
        )
        labels.append(f"{name}\n{m.year}" if i == 0 or m.month == 1 else name)
    ax.set_xticks(positions, labels)
    ax.set_xlim(-0.6, len(positions) - 0.4)
    ax.set_ylim(0, max(max(data.units), max(data.year_before)) * 1.12)
    _units_axis(ax, loc)
    ax.legend(loc="upper left", frameon=False, fontsize=13, ncols=2, bbox_to_anchor=(0, 1.08))


def _bars(
    ax: Axes,
    centres: Sequence[float],
    lengths: Sequence[int],
    colours: Sequence[str],
    *,
    thickness: float,
    gid: str,
    label: str = "_nolegend_",
    horizontal: bool = False,
) -> None:
    """Bars centred on `centres`, the rectangles `Axes.bar` (or `barh`) would draw.

    `Axes.bar` updates the data limits bar by bar, walking each rectangle's path: that was a
    third of a monthly chart's drawing. These are the same rectangles in the same kind of
    container (the legend finds its entries there), the data limits updated once for all.
    """
    from matplotlib.container import BarContainer
    from matplotlib.patches import Rectangle

    rects = []
    for centre, length, colour in zip(centres, lengths, colours, strict=True):
        start = centre - thickness / 2
        corner, width, height = (
            ((0.0, start), float(length), thickness)
            if horizontal
            else ((start, 0.0), thickness, float(length))
        )
        rect = Rectangle(corner, width, height, facecolor=colour, label="_nolegend_", gid=gid)
        ax.add_artist(rect)
        rects.append(rect)
    ax.add_container(
        BarContainer(
            rects,
            datavalues=lengths,
            orientation="horizontal" if horizontal else "vertical",
            label=label,
        )
    )
    ax.update_datalim([point for rect in rects for point in rect.get_bbox().get_points()])
    ax.autoscale_view()
