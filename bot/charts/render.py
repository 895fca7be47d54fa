"""Charts people would rather look at than read: PNGs of a subject's figures, for chat.

Three kinds: `cumulative` (the running total with its milestones marked and a dashed projection
to the next threshold), `shares` (each model's share of a make or group, largest first) and
`monthly` (units per month beside the same months a year earlier).

Making a chart has two halves. Gathering (`cumulative_data`, `shares_data`, `monthly_data`, or
`model_chart_data` over the read model) is plain arithmetic over figures already in memory and
runs on the event loop. Drawing (`render`) is pure data in, PNG out, and slow (tens of
milliseconds), so it runs in a worker thread or process (`render_off_loop`). It uses
matplotlib's object-oriented API with the Agg canvas and never `pyplot`: pyplot keeps global
state, while a `Figure` of our own is safe to draw in any thread (matplotlib caches its fonts per
thread). Each thread keeps one figure and draws all its charts on it (`_Sheet`): a chart is
drawn the same whatever the thread drew before. matplotlib is imported only when a chart is
drawn, so commands that never draw do not pay for the import.

`render` returns the PNG with the figures it plotted, read back from the drawn artists, so tests
can hold the picture to the store's numbers.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import struct
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from babel.dates import format_date, format_skeleton

from bot.domain.coverage import Basis, SourceFacts, cite, covers, granularity, source_facts
from bot.domain.events import MilestoneEvent, Subject
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
from bot.domain.ladders import Ladder, configured_ladders, union_next_above, union_rungs
from bot.domain.milestones import crossing_ranges
from bot.domain.names import slug
from bot.domain.periods import Month
from bot.domain.projection import project
from bot.domain.series import WORLD
from bot.domain.settings import Config
from bot.ports.store import SalesStore
from bot.reading.queries import ModelShare

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from bot.reading.read_model import ReadModel

KINDS = ("cumulative", "shares", "monthly")
WIDTH_PX, HEIGHT_PX, DPI = 1200, 675, 100  # 16:9, sharp at chat preview size
MAX_BYTES = 1_000_000
MONTHLY_WINDOW = 12  # months shown by the monthly chart
YEARLY_WINDOW = 8  # years it shows instead where the figures are yearly
MAX_BARS = 8  # the shares chart's bars; smaller models are summed as "Other"

# Okabe & Ito's palette, distinguishable with every common colour-vision deficiency.
BLUE = "#0072B2"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
GREY = "#6E6E6E"
INK = "#1A1A1A"
GRID = "#E4E4E4"


class ChartError(ValueError):
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


def model_chart_data(
    model: ReadModel,
    kind: str,
    subject: Subject,
    region: str = WORLD,
    *,
    ladders: Sequence[Ladder],
    locale: str = "en",
    source: str = "",
    metric: str = "sales",
) -> ChartData:
    """The data of one chart from the in-memory read model (no I/O: safe on the loop).

    Raises ChartError when the kind is unknown, or `shares` is asked of a model or of all EVs.
    """
    if kind not in KINDS:
        raise ChartError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    series = model.series(subject, region, metric)
    basis: dict[int, set[tuple[str, int]]] = {}
    model.monthly(subject, region, metric, basis)
    frame = framed(
        Frame(
            subject=subject.name,
            region=region,
            metric=metric,
            locale=validate_locale(locale),
            source=source,
            as_of=series.latest,
        ),
        basis,
        model.facts,
    )
    if kind == "cumulative":
        return cumulative_data(frame, series.monthly, ladders)
    if kind == "monthly":
        return monthly_data(frame, series.monthly)
    if subject.kind not in ("make", "group"):
        what = "a model" if subject.kind == "model" else "not a make or group"
        raise ChartError(
            f"kind: shares shows the models of a make or a group; {subject.name} is {what}. "
            "Ask it of a make or group, e.g. alliance"
        )
    total, _ = series.at(None)
    return shares_data(frame, model.breakdown(subject, region, None, None, metric), total)


class StoreCharts:
    """Milestone charts for the delivery worker (`bot.delivery.worker.MilestoneCharts`): the
    subject's
    series read from the store's kept aggregates, drawn off the loop."""

    def __init__(self, store: SalesStore, config: Config, executor: Executor | None = None) -> None:
        self.store = store
        self.config = config
        self.executor = executor

    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        """The cumulative chart of the event's subject, its milestones on `ladder` (else the
        configured ones), the event's own threshold stressed."""
        from bot.reading.queries import series_reader

        reader = series_reader(self.store, self.config)
        sources = await self.store.sources()
        reader.snapshot = sources
        basis: dict[int, set[tuple[str, int]]] = {}
        monthly = await reader.monthly(event.subject, event.region, event.metric, basis)
        frame = framed(
            Frame(
                subject=event.subject.name,
                region=event.region,
                metric=event.metric,
                locale=validate_locale(locale),
                as_of=max(monthly) if monthly else None,
            ),
            basis,
            source_facts(sources, self.config),
        )
        ladders = [ladder] if ladder is not None else configured_ladders(self.config)
        data = cumulative_data(frame, monthly, ladders, highlight=event.headline)
        chart = await render_off_loop(data, self.executor)
        return chart.png, chart.name


async def store_chart(
    store: SalesStore,
    config: Config,
    subject: str,
    kind: str = "cumulative",
    region: str | None = None,
    locale: str | None = None,
) -> tuple[ChartData, Chart]:
    """One chart of a subject named as people type it (`evbot chart`), from an open store.

    Raises UnknownSubject for a name the store does not know, ChartError when there is nothing
    to draw.
    """
    from bot.reading.read_model import ReadModel

    model = ReadModel(store, config)
    await model.load()
    resolved = model.catalog.resolve(subject)
    where = model.catalog.region(region) if region else (resolved.region or WORLD)
    data = model_chart_data(
        model,
        kind,
        resolved.subject,
        where,
        ladders=configured_ladders(config),
        locale=locale or config.locale,
    )
    if data.frame.as_of is None:
        place = "" if where == WORLD else f" in {where}"
        raise ChartError(f"no figures for {resolved.subject.name}{place}: nothing to draw")
    return data, await render_off_loop(data)


# -- drawing: chart data in, PNG out (runs off the event loop) -------------------------------


async def render_off_loop(data: ChartData, executor: Executor | None = None) -> Chart:
    """`render` in a worker: `executor` (a thread or process pool), else the loop's default
    thread pool. The loop keeps serving while the chart draws."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, render, data)


def render(data: ChartData) -> Chart:
    """Draw a chart to a 1200x675 PNG; returns it with what it plotted.

    Raises ChartError when there is nothing to draw, naming the subject.
    """
    sheet = _sheet()
    ax = sheet.clean(data.kind)
    if isinstance(data, CumulativeData):
        _draw_cumulative(sheet.fig, ax, data)
    elif isinstance(data, SharesData):
        _draw_shares(sheet.fig, ax, data)
    else:
        _draw_monthly(sheet.fig, ax, data)
    _footer(sheet.fig, data.frame)
    png = sheet.png()
    if len(png) > MAX_BYTES:
        raise ChartError(f"the {data.kind} chart of {data.frame.subject} is {len(png):,} bytes")
    plotted = _read_back(sheet.fig, ax, data)
    return Chart(
        png, f"{slug(data.frame.subject) or 'chart'}-{data.kind}.png", plotted, WIDTH_PX, HEIGHT_PX
    )


# A chart is mostly matplotlib building objects (a figure, axes, a dozen ticks of five artists
# each) and measuring text. Each thread keeps one figure, with one axes per kind set up once, and
# draws every chart on it: only the data's artists are made anew, and the canvas's renderer (with
# matplotlib's cache of text measurements, kept per renderer) lives on. A figure per thread, not
# one behind a lock, because drawing holds the GIL little enough that two threads draw faster
# than one; the figure dies with its thread.
_local = threading.local()


def _sheet() -> _Sheet:
    """This thread's figure, made on its first chart."""
    sheet: _Sheet | None = getattr(_local, "sheet", None)
    if sheet is None:
        sheet = _local.sheet = _Sheet()
    return sheet


class _Sheet:
    """One thread's figure and Agg canvas, an axes per kind on it, only one of them shown."""

    def __init__(self) -> None:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # Text is most of a chart's drawing, and hinting most of the text: matplotlib sets the
        # font's size again before each glyph, which makes FreeType run the font's hinting
        # program again (22 of 37 us a glyph, 10-15 ms a chart). Unhinted glyphs are a little
        # softer and wider. Set for the process, before this thread's first draw, so every
        # draw in every thread sees the same setting.
        matplotlib.rcParams["text.hinting"] = "no_hinting"
        self.fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
        # Any: matplotlib's Agg backend module has no type hints
        self.canvas: Any = FigureCanvasAgg(self.fig)
        self.axes: dict[str, Axes] = {}
        self.software = _software().encode("latin-1")

    def clean(self, kind: str) -> Axes:
        """The axes of `kind`, emptied of the last chart's artists and limits; the others hidden."""
        for text in list(self.fig.texts):
            text.remove()
        for other, ax in self.axes.items():
            ax.set_visible(other == kind)
        if kind not in self.axes:
            self.axes[kind] = _axes(self.fig, kind)
            return self.axes[kind]
        ax = self.axes[kind]
        # containers too: the monthly legend finds its entries through them
        for container in list(ax.containers):
            container.remove()
        drawn = [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images, *ax.artists]
        for artist in drawn:
            artist.remove()
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        ax.relim()  # no artists left: the data limits are empty again
        ax.set_autoscale_on(True)
        return ax

    def png(self) -> bytes:
        """The figure drawn once on the Agg canvas and its buffer written as a PNG."""
        import numpy as np

        self.canvas.draw()
        return png_rgb(np.asarray(self.canvas.buffer_rgba()), self.software)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_LEVEL = 3  # zlib's: on these flat pictures as small as Pillow's default, in a quarter the time


def png_rgb(rgba: Any, software: bytes) -> bytes:
    """An opaque RGBA pixel array (height x width x 4 bytes) as an RGB PNG, with a `Software`
    text chunk.

    Written here rather than by Pillow (what `savefig` uses) because Pillow tries every PNG
    filter on every row, which took 15-20 ms a chart; a chart is large flat areas that deflate
    well unfiltered, so rows are left unfiltered and the PNG comes out smaller in a third of the
    time. The alpha channel is dropped: the figure's white face leaves every pixel opaque.
    """
    import numpy as np

    height, width = rgba.shape[0], rgba.shape[1]
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)  # each row: filter 0, then RGB
    rows[:, 0] = 0
    rgb = rows[:, 1:].reshape(height, width, 3)
    for channel in range(3):  # one channel at a time: five times faster than the three at once
        rgb[:, :, channel] = rgba[:, :, channel]
    per_metre = round(DPI / 0.0254)
    chunks = (
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),  # 8-bit RGB
        (b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        (b"tEXt", b"Software\x00" + software),
        (b"IDAT", zlib.compress(rows.data, PNG_LEVEL)),
        (b"IEND", b""),
    )
    return PNG_SIGNATURE + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )


def _software() -> str:
    """Who drew the PNG, with the matplotlib version (the same version draws the same bytes)."""
    import matplotlib

    return f"EV Milestone Bot (matplotlib {matplotlib.__version__})"


def _axes(fig: Figure, kind: str) -> Axes:
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


def _footer(fig: Figure, frame: Frame) -> None:
    parts = []
    if frame.source:
        parts.append(f"Source: {frame.source}")
    if frame.as_of is not None:
        parts.append(f"data through {_when(frame, frame.as_of)}")
    parts.append("EV Milestone Bot")
    text = " · ".join(parts)
    fig.text(0.02, 0.03, text[:1].upper() + text[1:], fontsize=11.5, color=GREY, va="center")


def _where(frame: Frame) -> str:
    if frame.covers:
        inside = "" if frame.region == WORLD else f"{place(frame.region)}, "
        return f"in {inside}{covered(frame.covers)}" + (" only" if inside else "")
    return "worldwide" if frame.region == WORLD else f"in {place(frame.region)}"


def _when(frame: Frame, month: Month) -> str:
    """A month, or the year a yearly figure stands for."""
    return format_period(month, "year" if frame.yearly else "month", frame.locale)


def _verb(frame: Frame) -> str:
    return "registered" if frame.metric == "stock" else "sold"


def _units_axis(ax: Axes, locale: str, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(
        MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=3)
    )
    target.set_major_formatter(FuncFormatter(lambda v, _: format_units(round(float(v)), locale)))


def _month_label(month: Month, locale: str) -> str:
    """`Jan 2015`, `janv. 2015`: short enough for a tick."""
    return str(
        format_skeleton(
            "yMMM", datetime.date(month.year, month.month, 1), locale=validate_locale(locale)
        )
    )


def _month_ticks(ax: Axes, first: Month, last: Month, locale: str) -> None:
    """A tick every January (every few years when the span is long), named in the locale."""
    years = last.year - first.year + 1
    step = max(1, math.ceil(years / 8))
    ticks = [Month(y, 1) for y in range(first.year, last.year + 1) if (y - first.year) % step == 0]
    ticks = [m for m in ticks if first.index <= m.index <= last.index] or [first]
    ax.set_xticks([m.index for m in ticks], [_month_label(m, locale) for m in ticks])


def _draw_cumulative(fig: Figure, ax: Axes, data: CumulativeData) -> None:
    frame, loc = data.frame, data.frame.locale
    if not data.points:
        raise ChartError(f"no figures for {frame.subject} {_where(frame)} to draw")
    latest_month, latest = data.points[-1]
    _title(
        fig,
        f"{frame.subject}: {format_units(latest, loc)} {_verb(frame)}",
        f"Electric vehicles {_verb(frame)} {_where(frame)}, running total"
        + (", with the milestones it passed" if data.milestones else ""),
    )
    xs = [m.index for m, _ in data.points]
    ys = [v for _, v in data.points]
    ax.fill_between(xs, ys, color=BLUE, alpha=0.08, linewidth=0)
    ax.plot(xs, ys, color=BLUE, linewidth=3.2, solid_capstyle="round", gid="series")
    end_x = latest_month.index
    top = max(max(ys), data.next_threshold or 0)
    if data.next_threshold is not None:
        ax.axhline(data.next_threshold, color=GREY, linewidth=1.2, linestyle=":", zorder=1)
        label = f"Next: {format_units(data.next_threshold, loc)}"
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
            label += f" around {format_month(data.projected, loc)} at the recent pace"
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


def _draw_shares(fig: Figure, ax: Axes, data: SharesData) -> None:
    frame, loc = data.frame, data.frame.locale
    if not data.shares or data.total <= 0:
        raise ChartError(f"no model figures for {frame.subject} {_where(frame)} to draw")
    rows = list(data.shares[:MAX_BARS])
    rest = data.shares[MAX_BARS:]
    if rest:
        others = sum(u for _, u, _ in rest)
        rows.append((f"{len(rest)} other models", others, others / data.total))
    leader = rows[0]
    _title(
        fig,
        f"{frame.subject}: the {leader[0]} is {format_percent(leader[2], loc)}",
        f"Each model's share of {format_units(data.total, loc)} electric vehicles "
        f"{_verb(frame)} {_where(frame)}, {data.period}",
    )
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


def _draw_monthly(fig: Figure, ax: Axes, data: MonthlyData) -> None:
    frame, loc = data.frame, data.frame.locale
    if not data.months or (not any(data.units) and not any(data.year_before)):
        raise ChartError(f"no monthly figures for {frame.subject} {_where(frame)} to draw")
    first, last = data.months[0], data.months[-1]
    now, before = sum(data.units), sum(data.year_before)
    change = f", {format_change((now - before) / before, loc)}" if before else ""
    each = (
        "each year, beside the year before"
        if frame.yearly
        else "each month, beside the same month a year earlier"
    )
    span = _years(first, last) if frame.yearly else _span(first, last, loc)
    _title(
        fig,
        f"{frame.subject}: {format_units(now, loc)} in {span}{change}",
        f"Electric vehicles {_verb(frame)} {_where(frame)} {each}",
    )
    positions = list(range(len(data.months)))
    width = 0.4
    earlier = (
        _years(first.plus(-12), last.plus(-12))
        if frame.yearly
        else _span(first.plus(-12), last.plus(-12), loc)
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


def _years(first: Month, last: Month) -> str:
    """`2016 – 2023`: the years of a chart of yearly figures."""
    return str(first.year) if first.year == last.year else f"{first.year} – {last.year}"


def _span(first: Month, last: Month, locale: str) -> str:
    """`2016` for a calendar year, else `Feb 2016 – Jan 2017` in the locale."""
    if first.month == 1 and last == first.plus(11):
        return str(first.year)
    if first == last:
        return format_month(first, locale)
    return f"{_month_label(first, locale)} – {_month_label(last, locale)}"


def _read_back(fig: Figure, ax: Axes, data: ChartData) -> Plotted:
    """What the figure shows, from its artists (not from `data`)."""
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    def months_values(xs: Any, ys: Any) -> tuple[tuple[Month, int], ...]:
        return tuple(
            (Month.from_index(round(x)), round(y))
            for x, y in zip(_floats(xs), _floats(ys), strict=True)
        )

    series: tuple[tuple[Month, int], ...] = ()
    projection: tuple[tuple[Month, int], ...] = ()
    milestones: tuple[tuple[Month, int], ...] = ()
    year_before: tuple[tuple[Month, int], ...] = ()
    bars: tuple[tuple[str, int], ...] = ()
    for line in ax.get_lines():
        if not isinstance(line, Line2D):
            continue
        if line.get_gid() == "series":
            series = months_values(line.get_xdata(), line.get_ydata())
        elif line.get_gid() == "projection":
            projection = months_values(line.get_xdata(), line.get_ydata())
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and collection.get_gid() == "milestones":
            offsets = collection.get_offsets()
            points = _floats(offsets)
            milestones = months_values(points[0::2], points[1::2])
    patches = [p for p in ax.patches if isinstance(p, Rectangle)]
    if isinstance(data, MonthlyData):
        heights: dict[str, list[int]] = {"series": [], "year_before": []}
        for patch in patches:
            gid = patch.get_gid()
            if gid in heights:
                heights[gid].append(round(float(patch.get_height())))
        xs = sorted({round(float(p.get_x() + p.get_width() / 2)) for p in patches})
        months = [data.months[i] for i in xs]
        series = tuple(zip(months, heights["series"], strict=True))
        year_before = tuple(zip((m.plus(-12) for m in months), heights["year_before"], strict=True))
    if isinstance(data, SharesData):
        widths = [round(float(p.get_width())) for p in patches if p.get_gid() == "bars"]
        names = [t.get_text() for t in ax.get_yticklabels()]
        bars = tuple(zip(names, widths, strict=True))
    texts = [t.get_text() for t in fig.texts]
    texts += [t.get_text() for t in ax.texts]
    if ax.xaxis.get_visible():
        texts += _visible_ticks(ax.get_xticklabels(), ax.get_xticks(), ax.get_xlim())
    texts += _visible_ticks(ax.get_yticklabels(), ax.get_yticks(), ax.get_ylim())
    legend = ax.get_legend()
    if legend is not None:
        texts += [t.get_text() for t in legend.get_texts()]
    return Plotted(
        kind=data.kind,
        series=series,
        year_before=year_before,
        milestones=milestones,
        projection=projection,
        bars=bars,
        texts=tuple(t for t in texts if t),
    )


def _visible_ticks(labels: Sequence[Text], ticks: Any, limits: Any) -> list[str]:
    lo, hi = sorted(_floats(limits))
    return [t.get_text() for t, v in zip(labels, _floats(ticks), strict=True) if lo <= v <= hi]


def _floats(values: Any) -> list[float]:
    """Plain floats from whatever array matplotlib hands back, flattened."""
    import numpy as np

    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def describe(data: ChartData) -> str:
    """What the chart shows, in one or two sentences: the message text beside the image and its
    alternative text where a platform cannot show it."""
    frame, loc = data.frame, data.frame.locale
    where = "" if frame.region == WORLD and not frame.covers else f" {_where(frame)}"
    through = f" through {_when(frame, frame.as_of)}" if frame.as_of else ""
    if isinstance(data, CumulativeData):
        latest = data.points[-1][1] if data.points else 0
        text = f"{frame.subject}{where}: {format_units(latest, loc)} {_verb(frame)}{through}."
        if data.milestones:
            threshold, month, _ = data.milestones[-1]
            text += f" Passed {format_units(threshold, loc)} in {_when(frame, month)}."
        if data.next_threshold is not None and data.projected is not None:
            text += (
                f" {format_units(data.next_threshold, loc)} around "
                f"{_when(frame, data.projected)} at the recent pace."
            )
        return text
    if isinstance(data, SharesData):
        if not data.shares:
            return f"No model figures for {frame.subject}{where}."
        name, units, share = data.shares[0]
        return (
            f"{frame.subject}{where}, {data.period}: the {name} leads with "
            f"{format_units(units, loc)} of {format_units(data.total, loc)}, "
            f"{format_percent(share, loc)}."
        )
    if not data.months:
        return f"No monthly figures for {frame.subject}{where}."
    now, before = sum(data.units), sum(data.year_before)
    first, last = data.months[0], data.months[-1]
    span = _years(first, last) if frame.yearly else _span(first, last, loc)
    text = f"{frame.subject}{where}: {format_units(now, loc)} in {span}"
    if before:
        text += f", {format_change((now - before) / before, loc)} on a year earlier"
    return text + "."
