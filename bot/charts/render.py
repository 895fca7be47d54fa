"""Drawing: chart data in, PNG out (`render`), slow, so run off the event loop.

It uses matplotlib's object-oriented API with the Agg canvas and never `pyplot`: pyplot keeps
global state, while a `Figure` of our own is safe to draw in any thread (matplotlib caches its
fonts per thread). Each thread keeps one figure and draws all its charts on it (`_Sheet`): a
chart is drawn the same whatever the thread drew before. matplotlib is imported only when a chart
is drawn, so commands that never draw do not pay for the import; it is imported only here and in
`bot.charts.draw`, which draws each kind.

`render` returns the PNG with the figures it plotted, read back from the drawn artists, so tests
can hold the picture to the store's numbers.
"""

from __future__ import annotations

import importlib.util
import logging
import struct
import threading
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.charts.data import (
    Chart,
    ChartData,
    ChartError,
    CumulativeData,
    MonthlyData,
    Plotted,
    SharesData,
)
from bot.charts.draw import (
    DPI,
    HEIGHT_PX,
    WIDTH_PX,
    draw_cumulative,
    draw_monthly,
    draw_shares,
    footer,
    new_axes,
)
from bot.domain.names import slug
from bot.domain.periods import Month

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

MAX_BYTES = 1_000_000
CJK_FAMILY = "IPAexGothic"  # the font matplotlib-fontja ships
DEFAULT_FAMILIES: tuple[str, ...] = ("DejaVu Sans",)  # matplotlib's default sans-serif

log = logging.getLogger(__name__)


def render(data: ChartData) -> Chart:
    """Draw a chart to a 1200x675 PNG; returns it with what it plotted.

    Raises ChartError when there is nothing to draw, naming the subject.
    """
    sheet = _sheet()
    ax = sheet.clean(data.kind)
    if isinstance(data, CumulativeData):
        draw_cumulative(sheet.fig, ax, data)
    elif isinstance(data, SharesData):
        draw_shares(sheet.fig, ax, data)
    else:
        draw_monthly(sheet.fig, ax, data)
    footer(sheet.fig, data.frame)
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


def font_families() -> tuple[str, ...]:
    """The fonts every chart is drawn in: DejaVu Sans (matplotlib's own), then, for the glyphs
    it lacks (Japanese), matplotlib-fontja's IPAexGothic when installed."""
    return (*DEFAULT_FAMILIES, CJK_FAMILY) if _cjk_font() else DEFAULT_FAMILIES


@lru_cache(maxsize=1)
def _cjk_font() -> bool:
    """Register matplotlib-fontja's font once. Its module is not imported: importing it sets the
    font of every chart in the process, and a chart in English must not change."""
    spec = importlib.util.find_spec("matplotlib_fontja")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    path = Path(folders[0]) / "fonts" / "ipaexg.ttf" if folders else None
    if path is None or not path.is_file():
        log.warning("no CJK font (pip install matplotlib-fontja): Japanese charts show boxes")
        return False
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(path))
    # IPAexGothic has one weight: a bold title's Japanese glyphs are drawn regular, as wanted,
    # but matplotlib warns so on every process's first bold chart, English ones too
    logging.getLogger("matplotlib.font_manager").addFilter(_one_weight_is_enough)
    return True


def _one_weight_is_enough(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not (
        message.startswith("findfont: Failed to find font weight") and CJK_FAMILY in message
    )


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
        # Japanese needs CJK glyphs: matplotlib takes a glyph DejaVu Sans lacks from the next
        # family (font fallback), so Latin text is drawn as before and a Japanese title whole
        matplotlib.rcParams["font.family"] = list(font_families())
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
            self.axes[kind] = new_axes(self.fig, kind)
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
