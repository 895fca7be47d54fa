"""Charts: each kind drawn from a real store, the plotted figures held to the store's, locale
formatting, the /ev-chart command off the event loop, milestone announcements with their chart
(and without it when it fails), `evbot chart`, and the README's images."""

from __future__ import annotations

import asyncio
import re
import shlex
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.app.bootstrap import build_app, open_commands
from bot.charts.data import (
    Chart,
    ChartError,
    CumulativeData,
    Frame,
    MonthlyData,
    SharesData,
    cumulative_data,
    monthly_data,
    shares_data,
)
from bot.charts.draw import MAX_BARS
from bot.charts.render import render
from bot.charts.service import StoreCharts, model_chart_data, render_off_loop
from bot.cli.main import build_parser, main
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation, Reply
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel, Limits
from bot.domain.events import MilestoneEvent
from bot.domain.formatting import format_month, format_percent, format_units
from bot.domain.ladders import parse_ladder
from bot.domain.messages import Message
from bot.domain.milestones import first_crossings
from bot.domain.periods import Month
from bot.domain.projection import project
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD, cumulative
from bot.domain.settings import Config, default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import (
    SubscriptionError,
    SubscriptionSpec,
    ladder_objects,
    parse_charts,
    validate_spec,
)
from bot.ingest.importer import import_demo
from bot.reading.queries import SeriesReader, load_catalog, region_tree, total
from bot.store.sqlite.sales import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
SOURCE = SourceSpec("feed")
CHANNEL = Channel("test", "guild", "news")
WHO = Invocation(CHANNEL, "alice", can_manage=True)
LADDERS = [parse_ladder("default", "default")]


# -- a small store --------------------------------------------------------------------------


def leaf_and_friends() -> list[SalesRecord]:
    """Two years and a bit of three Alliance models, in World and in Norway."""
    out = []
    for i in range(26):
        month = Month(2014, 1).plus(i)
        out.append(SalesRecord(str(month), WORLD, "Nissan", "Leaf", 3000 + 97 * i))
        out.append(SalesRecord(str(month), WORLD, "Renault", "Zoe", 900 + 41 * (i % 7)))
        out.append(SalesRecord(str(month), WORLD, "Renault", "Twizy", 150 + 13 * (i % 5)))
        out.append(SalesRecord(str(month), "Norway", "Nissan", "Leaf", 400 + 11 * i))
    return out


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    config = default_config()
    async with SqliteStore(tmp_path / "small.sqlite3") as s:
        await s.sync_groups(config.groups)
        await s.import_records([(SOURCE, leaf_and_friends())], file="small")
        yield s


async def store_monthly(store: SqliteStore, name: str, region: str = WORLD) -> dict[Month, int]:
    """A subject's monthly figures as the CLI's `evbot total` reads them: not the read model."""
    config = default_config()
    catalog = await load_catalog(store, config)
    reader = SeriesReader(store, region_tree(config), list(config.groups))
    return await reader.monthly(catalog.resolve(name).subject, region)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature and its CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    body = png[16 : 16 + 13]
    (crc,) = struct.unpack(">I", png[29:33])
    assert zlib.crc32(kind + body) == crc
    assert png.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", body[:8])
    return width, height


def png_software(png: bytes) -> str:
    """The PNG's `Software` text chunk: who drew it."""
    at = 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        body = png[at + 8 : at + 8 + length]
        if kind == b"tEXt" and body.startswith(b"Software\x00"):
            return body.split(b"\x00", 1)[1].decode("latin-1")
        at += 12 + length
    raise AssertionError("no Software chunk")


def frame(name: str, locale: str = "en", as_of: Month | None = None) -> Frame:
    return Frame(subject=name, locale=locale, source="feed", as_of=as_of)


async def model_data(ctx: CommandContext, kind: str, name: str, locale: str = "en") -> Any:
    subject = ctx.model.catalog.resolve(name).subject
    return model_chart_data(
        ctx.model, kind, subject, WORLD, ladders=LADDERS, locale=locale, source="feed"
    )


# -- each kind, from the store --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name"), [("cumulative", "nissan leaf"), ("shares", "alliance"), ("monthly", "zoe")]
)
async def test_each_kind_is_a_png_of_the_promised_size(
    ctx: CommandContext, kind: str, name: str
) -> None:
    chart = render(await model_data(ctx, kind, name))
    assert png_size(chart.png) == (1200, 675) == (chart.width, chart.height)
    assert 10_000 < len(chart.png) <= 1_000_000
    assert chart.name.endswith(f"-{kind}.png") and chart.plotted.kind == kind
    assert "Source: feed · data through February 2016 · EV Milestone Bot" in chart.plotted.texts


async def test_the_cumulative_line_milestones_and_projection_are_the_stores(
    store: SqliteStore, ctx: CommandContext
) -> None:
    monthly = await store_monthly(store, "nissan leaf")
    points = cumulative(monthly)
    chart = render(await model_data(ctx, "cumulative", "nissan leaf"))
    plotted = chart.plotted
    assert list(plotted.series) == points
    crossed = first_crossings(points, [t for t in LADDERS[0].up_to(points[-1][1])])
    assert sorted(plotted.milestones) == sorted(crossed.values())
    assert len(crossed) >= 8  # 1,000 to 100,000: the test is about something
    upcoming = LADDERS[0].next_above(points[-1][1])
    assert upcoming is not None
    projected = project(points, upcoming)
    assert projected is not None
    assert plotted.projection == ((points[-1][0], points[-1][1]), (projected, upcoming))
    top = max(crossed)
    assert f"{format_units(top)} · {format_month(crossed[top][0])}" in plotted.texts
    assert any(t.startswith(f"Next: {format_units(upcoming)} around") for t in plotted.texts)


async def test_the_share_bars_are_the_stores_breakdown_largest_first(
    store: SqliteStore, ctx: CommandContext
) -> None:
    config = default_config()
    catalog = await load_catalog(store, config)
    reader = SeriesReader(store, region_tree(config), list(config.groups))
    answer = await total(reader, catalog, catalog.resolve("alliance").subject)
    chart = render(await model_data(ctx, "shares", "alliance"))
    assert list(chart.plotted.bars) == [(s.name, s.units) for s in answer.breakdown]
    assert [u for _, u in chart.plotted.bars] == sorted(
        (u for _, u in chart.plotted.bars), reverse=True
    )
    for share in answer.breakdown:
        digits = 1 if share.share < 0.1 else 0
        assert format_percent(share.share, "en", digits) in chart.plotted.texts
        assert format_units(share.units) in chart.plotted.texts
    leader = answer.breakdown[0]
    assert chart.plotted.texts[0] == (
        f"Renault-Nissan Alliance: the {leader.name} is {format_percent(leader.share)}"
    )


async def test_the_monthly_bars_are_the_stores_months_and_a_year_earlier(
    store: SqliteStore, ctx: CommandContext
) -> None:
    monthly = await store_monthly(store, "nissan leaf")
    chart = render(await model_data(ctx, "monthly", "nissan leaf"))
    last = max(monthly)
    window = [last.plus(i) for i in range(-11, 1)]
    assert list(chart.plotted.series) == [(m, monthly.get(m, 0)) for m in window]
    earlier = [m.plus(-12) for m in window]
    assert list(chart.plotted.year_before) == [(m, monthly.get(m, 0)) for m in earlier]
    assert all(units > 0 for _, units in chart.plotted.year_before)
    legend = {"Mar 2014 – Feb 2015", "Mar 2015 – Feb 2016"}
    assert legend <= set(chart.plotted.texts)


async def test_axis_numbers_and_month_names_follow_the_locale(ctx: CommandContext) -> None:
    fr = render(await model_data(ctx, "cumulative", "nissan leaf", "fr")).plotted.texts
    assert "janv. 2015" in fr and "Jan 2015" not in fr
    assert "100\u202f000" in fr  # French groups thousands with a narrow no-break space
    de = render(await model_data(ctx, "monthly", "nissan leaf", "de")).plotted.texts
    assert "Dez." in de or "Dez" in de
    assert any(re.fullmatch(r"\d{1,2}\.\d{3}", t) for t in de)  # 4.000: German grouping


def test_many_models_fold_into_other_and_the_total_still_adds_up() -> None:
    from bot.reading.queries import ModelShare

    total_units = sum(1000 - 50 * i for i in range(12))
    breakdown = [
        ModelShare(f"Model {i}", 1000 - 50 * i, (1000 - 50 * i) / total_units) for i in range(12)
    ]
    chart = render(shares_data(frame("Big Make", as_of=Month(2020, 1)), breakdown, total_units))
    bars = chart.plotted.bars
    assert len(bars) == MAX_BARS + 1
    assert bars[-1] == ("4 other models", sum(s.units for s in breakdown[MAX_BARS:]))
    assert sum(u for _, u in bars) == total_units


def test_nothing_to_draw_is_a_clear_error() -> None:
    empty = Frame(subject="Nissan Leaf", region="Norway")
    with pytest.raises(ChartError, match="No figures for Nissan Leaf in Norway to draw"):
        render(cumulative_data(empty, {}, LADDERS))
    with pytest.raises(ChartError, match="No model figures for Big Make"):
        render(SharesData(frame=frame("Big Make"), shares=(), total=0))
    with pytest.raises(ChartError, match="No monthly figures for Zoe"):
        render(monthly_data(frame("Zoe"), {}))
    # told in the chart's language, the place in that language's own words
    german = Frame(subject="Nissan Leaf", region="Norway", locale="de")
    with pytest.raises(ChartError) as caught:
        render(cumulative_data(german, {}, LADDERS))
    assert (
        caught.value.text("de")
        == "Keine Zahlen für Nissan Leaf in Norwegen, die sich zeichnen ließen."
    )
    with pytest.raises(ChartError, match="window must be at least 1 month"):
        monthly_data(frame("Zoe"), {Month(2020, 1): 5}, window=0)


async def test_model_chart_data_refuses_shares_of_a_model_and_unknown_kinds(
    ctx: CommandContext,
) -> None:
    with pytest.raises(ChartError, match="Nissan Leaf is a model"):
        await model_data(ctx, "shares", "nissan leaf")
    with pytest.raises(ChartError, match="'pie' is not one of cumulative, shares, monthly"):
        await model_data(ctx, "pie", "alliance")


def test_a_long_name_shrinks_the_title_rather_than_cutting_it() -> None:
    name = "The Extremely Long Named Electric Vehicle Consortium of Manufacturers"
    data = cumulative_data(frame(name), {Month(2020, 1): 900, Month(2020, 2): 1200}, LADDERS)
    chart = render(data)
    assert chart.plotted.texts[0] == f"{name}: 2,100 sold"
    assert png_size(chart.png) == (1200, 675)


def test_a_highlighted_milestone_is_labelled_even_when_crowded() -> None:
    monthly = {Month(2020, 1).plus(i): 400 for i in range(30)}
    data = cumulative_data(frame("Leaf"), monthly, LADDERS, highlight=2_500)
    texts = render(data).plotted.texts
    assert f"2,500 · {format_month(Month(2020, 7))}" in texts


def drawn_in_a_new_thread(data: Any) -> Chart:
    """`render` in a thread that has drawn nothing before (each thread keeps its own figure)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(render, data).result()


def assorted_charts() -> list[Any]:
    """Charts of every kind that differ in what a kept figure could carry over: bars (nine, then
    three), legends, limits, tick labels, locales, a highlight and a projection."""
    from bot.reading.queries import ModelShare

    many = [ModelShare(f"Model {i}", 1000 - 50 * i, 0.05) for i in range(12)]
    few = [ModelShare("Alpha", 700, 0.7), ModelShare("Beta", 300, 0.3)]
    rising = {Month(2019, 1).plus(i): 900 + 40 * i for i in range(40)}
    return [
        cumulative_data(frame("Alpha Motors", as_of=Month(2022, 4)), rising, LADDERS, 25_000),
        shares_data(frame("Big Make", "fr", Month(2020, 1)), many, 9_000),
        shares_data(frame("Small Make", as_of=Month(2020, 1)), few, 1_000),
        monthly_data(frame("Zoe", "de"), rising),
        monthly_data(frame("Leaf"), {Month(2020, 1).plus(i): 50 + i for i in range(30)}),
        cumulative_data(frame("Beta Cars"), {Month(2015, 3): 40, Month(2015, 4): 70}, LADDERS),
    ]


def test_a_chart_is_drawn_the_same_whatever_its_thread_drew_before() -> None:
    """A thread's figure is kept between charts: each chart, drawn after all the others (and
    after charts that failed), is byte for byte the chart drawn first in a new thread."""
    charts = assorted_charts()
    alone = [drawn_in_a_new_thread(d).png for d in charts]
    assert len(set(alone)) == len(charts)

    def in_turn() -> list[bytes]:
        out = []
        for data in [*charts, *reversed(charts), *charts]:
            with pytest.raises(ChartError):
                render(SharesData(frame=frame("Empty"), shares=(), total=0))
            out.append(render(data).png)
        return out

    with ThreadPoolExecutor(1) as pool:
        drawn = pool.submit(in_turn).result()
    n = len(charts)
    assert drawn[:n] == alone
    assert drawn[n : 2 * n] == alone[::-1]
    assert drawn[2 * n :] == alone


def test_nothing_of_one_chart_shows_in_the_next() -> None:
    """Titles, labels, marks and bars of one chart are gone from the next one on the same figure."""
    first, shares, last = assorted_charts()[0], assorted_charts()[1], assorted_charts()[-1]

    def three() -> list[Chart]:
        return [render(first), render(shares), render(last)]

    with ThreadPoolExecutor(1) as pool:
        one, two, three_ = pool.submit(three).result()
    assert any("Alpha Motors" in t for t in one.plotted.texts)
    assert any(t.startswith("25,000 · ") for t in one.plotted.texts)  # the highlighted mark
    assert one.plotted.milestones and one.plotted.projection
    for later in (two, three_):
        assert not any("Alpha" in t or "25,000" in t for t in later.plotted.texts)
    assert three_.plotted.texts[0] == "Beta Cars: 110 sold"
    assert three_.plotted.series == last.points
    assert three_.plotted.milestones == tuple((m, v) for _, m, v in last.milestones)
    assert two.plotted.bars[-1][0] == "4 autres modèles" and len(two.plotted.bars) == MAX_BARS + 1


def test_the_png_is_the_figure_it_drew() -> None:
    """The PNG (written from the Agg buffer, not by Pillow) decodes to the opaque picture drawn."""
    import io

    from PIL import Image

    chart = render(assorted_charts()[0])
    image = Image.open(io.BytesIO(chart.png))
    image.load()  # checks every chunk's CRC and the compressed rows
    assert image.size == (1200, 675) and image.mode == "RGB"
    colours = {colour for _, colour in image.getcolors(1200 * 675) or []}
    assert (255, 255, 255) in colours and (0x00, 0x72, 0xB2) in colours  # white, the blue line
    assert (0xD5, 0x5E, 0x00) in colours  # the vermillion milestones
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert image.info["dpi"] == pytest.approx((100, 100), abs=0.01)
    assert png_software(chart.png).startswith("EV Milestone Bot (matplotlib ")


# -- off the loop ---------------------------------------------------------------------------


async def test_render_off_loop_runs_in_a_worker_thread(ctx: CommandContext) -> None:
    seen: list[str] = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            def run() -> Any:
                seen.append(threading.current_thread().name)
                return fn(*args, **kwargs)

            return super().submit(run)

    with Recording(1, thread_name_prefix="chart") as pool:
        chart = await render_off_loop(await model_data(ctx, "cumulative", "zoe"), pool)
    assert isinstance(chart, Chart) and seen and seen[0].startswith("chart")
    assert seen[0] != threading.current_thread().name


async def test_charts_drawn_at_once_in_threads_are_the_charts_drawn_alone(
    ctx: CommandContext,
) -> None:
    """Each thread draws on its own figure, with no pyplot state, so concurrent draws do not mix."""
    data = [await model_data(ctx, kind, "alliance") for kind in ("cumulative", "shares")] * 2
    alone = [render(d).png for d in data]
    with ThreadPoolExecutor(len(data)) as pool:
        together = await asyncio.gather(*(render_off_loop(d, pool) for d in data))
    assert [c.png for c in together] == alone


async def test_the_loop_answers_a_command_while_a_chart_renders(ctx: CommandContext) -> None:
    """The chart's drawing is held in its worker thread until /ev-total has been answered: had
    /ev-chart drawn on the loop, neither could happen."""
    drawing, release = threading.Event(), threading.Event()

    class Gated(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            def gated() -> Any:
                drawing.set()
                if not release.wait(30):
                    raise TimeoutError("the test never released the chart")
                return fn(*args, **kwargs)

            return super().submit(gated)

    loop = asyncio.get_running_loop()
    loop.set_default_executor(Gated(2))
    chart_task = asyncio.create_task(run_text(ctx, WHO, "/ev-chart alliance"))
    deadline = time.monotonic() + 30
    while not drawing.is_set():  # bounded wait for the chart to reach its worker
        assert time.monotonic() < deadline and not chart_task.done()
        await asyncio.sleep(0.005)
    answered = await run_text(ctx, WHO, "/ev-total nissan leaf")
    assert answered.ok and "Nissan Leaf" in answered.message.body
    assert not chart_task.done()  # the chart is still being drawn
    release.set()
    reply = await asyncio.wait_for(chart_task, 60)
    assert reply.ok and reply.message.image is not None
    assert png_size(reply.message.image) == (1200, 675)


# -- /ev-chart ------------------------------------------------------------------------------


def image_of(reply: Reply) -> bytes:
    assert reply.ok, reply.message.body
    assert reply.message.image is not None
    return reply.message.image


async def test_ev_chart_replies_with_the_png_and_a_description(ctx: CommandContext) -> None:
    reply = await run_text(ctx, WHO, "/ev-chart nissan leaf")
    assert png_size(image_of(reply)) == (1200, 675)
    assert reply.message.image_name == "nissan-leaf-cumulative.png"
    assert not reply.ephemeral
    assert reply.message.body.startswith("Nissan Leaf: ")
    assert "through February 2016" in reply.message.body
    assert reply.data is not None and reply.data["kind"] == "cumulative"
    assert reply.data["bytes"] == len(image_of(reply))


@pytest.mark.parametrize(
    ("text", "kind", "image"),
    [
        ("/ev-chart alliance shares", "shares", "renault-nissan-alliance-shares.png"),
        ("/ev-chart alliance kind:shares", "shares", "renault-nissan-alliance-shares.png"),
        ("/ev-chart nissan leaf monthly", "monthly", "nissan-leaf-monthly.png"),
        ("/ev-chart leaf region:Norway", "cumulative", "nissan-leaf-cumulative.png"),
    ],
)
async def test_ev_chart_kinds_as_option_or_last_word(
    ctx: CommandContext, text: str, kind: str, image: str
) -> None:
    reply = await run_text(ctx, WHO, text)
    image_of(reply)
    assert reply.data is not None and reply.data["kind"] == kind
    assert reply.message.image_name == image


async def test_ev_chart_in_a_region_draws_that_regions_figures(ctx: CommandContext) -> None:
    reply = await run_text(ctx, WHO, "/ev-chart leaf region:Norway")
    assert reply.message.title == "Nissan Leaf in Norway: cumulative chart"
    norway = sum(400 + 11 * i for i in range(26))
    assert f"{format_units(norway)} sold" in reply.message.body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ev-chart nissan leaf kind:shares", "Nissan Leaf is a model"),
        ("/ev-chart alliance kind:pie", "'pie' is not one of cumulative, shares, monthly"),
        ("/ev-chart", "/ev-chart needs subject"),
        ("/ev-chart leaf region:Atlantis", "region: no figures for 'Atlantis'"),
        ("/ev-chart nissan leef", "Did you mean"),
    ],
)
async def test_ev_chart_refuses_bad_arguments_clearly(
    ctx: CommandContext, text: str, expected: str
) -> None:
    reply = await run_text(ctx, WHO, text)
    assert not reply.ok and reply.ephemeral and reply.message.image is None
    assert expected in reply.message.body


async def test_ev_chart_with_no_figures_says_so_without_an_image(tmp_path: Path) -> None:
    config = default_config()
    async with SqliteStore(tmp_path / "norway.sqlite3") as s:
        await s.sync_groups(config.groups)
        await s.import_records([(SOURCE, [SalesRecord("2020-01", "Norway", "Tesla", "S", 5)])])
        ctx = await open_commands(s, config)
        reply = await run_text(ctx, WHO, "/ev-chart alliance")
    assert reply.ok and reply.message.image is None
    assert "No figures for Renault-Nissan Alliance yet" in reply.message.body


# -- milestone announcements ----------------------------------------------------------------


class CollectingAdapter:
    platform = "test"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self) -> None:
        self.posts: list[Message] = []
        self.by_key: dict[str, str] = {}
        self.changed = asyncio.Event()  # set at each post: awaited instead of polling

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        self.posts.append(message)
        self.changed.set()
        self.by_key[key] = f"msg-{len(self.posts)}"
        return self.by_key[key]

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return self.by_key.get(key)


async def leaf_crosses(store: SqliteStore, config: Config, charts: bool = True) -> None:
    """History, a subscription to the Leaf, then a month that takes it past 150,000."""
    from bot.delivery.following import subscribe

    catalog = await load_catalog(store, config)
    spec = SubscriptionSpec(CHANNEL, catalog.resolve("leaf").subject, charts=charts)
    await Detector(store, config).poll()  # the first import is history
    await subscribe(store, config, spec, time.time())
    await store.import_records(
        [(SOURCE, [SalesRecord("2016-03", WORLD, "Nissan", "Leaf", 45_000)])], file="news"
    )
    stored = await Detector(store, config).poll()
    assert any(s.event.kind == "milestone" for s in stored)


async def test_a_milestone_announcement_carries_its_cumulative_chart(store: SqliteStore) -> None:
    config = default_config()
    await leaf_crosses(store, config)
    adapter = CollectingAdapter()
    worker = DeliveryWorker(
        store, {"test": adapter}, ladder_objects(config.ladders), charts=StoreCharts(store, config)
    )
    await worker.drain()
    following, news = adapter.posts
    assert following.image is None  # the baseline is not a milestone
    assert news.title == "Nissan Leaf passes 150,000 sales"
    assert news.image is not None and news.image_name == "nissan-leaf-cumulative.png"
    assert png_size(news.image) == (1200, 675)


async def test_a_fan_out_draws_each_chart_once(store: SqliteStore) -> None:
    """The same milestone to many channels: one drawing, the same picture in every post."""
    from bot.delivery.following import subscribe

    config = default_config()
    catalog = await load_catalog(store, config)
    leaf = catalog.resolve("leaf").subject
    await leaf_crosses(store, config)
    for n in range(5):  # more channels following the Leaf, before the news
        spec = SubscriptionSpec(Channel("test", "guild", f"more-{n}"), leaf)
        await subscribe(store, config, spec, time.time())
    await store.import_records(
        [(SOURCE, [SalesRecord("2016-04", WORLD, "Nissan", "Leaf", 60_000)])], file="news"
    )
    await Detector(store, config).poll()

    class Counting(StoreCharts):
        calls = 0

        async def milestone_chart(self, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
            Counting.calls += 1
            return await super().milestone_chart(*args, **kwargs)

    adapter = CollectingAdapter()
    charts = Counting(store, config)
    worker = DeliveryWorker(store, {"test": adapter}, ladder_objects(config.ladders), charts=charts)
    await worker.drain()
    charted = [p for p in adapter.posts if p.image is not None]
    latest = [p for p in charted if p.title == charted[-1].title]
    assert len(latest) == 6  # the first channel and the five more
    assert len({p.image for p in latest}) == 1
    assert Counting.calls == len({p.title for p in charted})  # one drawing per milestone


async def test_the_milestone_chart_stresses_the_announced_threshold(store: SqliteStore) -> None:
    config = default_config()
    await leaf_crosses(store, config)
    event = next(
        s.event
        for s in await store.events()
        if isinstance(s.event, MilestoneEvent) and s.event.subject.name == "Nissan Leaf"
    )
    assert event.headline == 150_000
    charts = StoreCharts(store, config)
    png, name = await charts.milestone_chart(event, LADDERS[0], "fr")
    assert name == "nissan-leaf-cumulative.png" and png_size(png) == (1200, 675)
    # the same data, drawn here, labels the threshold the event announces, in French
    monthly = await store_monthly(store, "leaf")
    data = cumulative_data(frame("Nissan Leaf", "fr"), monthly, LADDERS, highlight=150_000)
    crossing = first_crossings(cumulative(monthly), [150_000])[150_000][0]
    assert f"150\u202f000 · {format_month(crossing, 'fr')}" in render(data).plotted.texts


class BrokenStore(SqliteStore):
    """A store whose figures cannot be read (a disk gone bad), for the chart source only."""

    async def sources(self) -> list[Any]:
        raise OSError("disk I/O error")


async def test_a_chart_that_fails_never_holds_the_announcement_back(
    store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = default_config()
    await leaf_crosses(store, config)
    adapter = CollectingAdapter()
    broken = StoreCharts(BrokenStore(tmp_path / "broken.sqlite3"), config)
    worker = DeliveryWorker(store, {"test": adapter}, ladder_objects(config.ladders), charts=broken)
    await worker.drain()
    assert [m.title for m in adapter.posts][-1] == "Nissan Leaf passes 150,000 sales"
    assert adapter.posts[-1].image is None
    assert "no chart for Nissan Leaf, posted without it" in caplog.text
    assert (await store.delivery_counts())["posted"] == 2


async def test_a_subscription_with_charts_off_gets_milestones_without_them(
    store: SqliteStore,
) -> None:
    config = default_config()
    await leaf_crosses(store, config, charts=False)
    (sub,) = await store.subscriptions(CHANNEL)
    assert sub.spec.charts is False
    adapter = CollectingAdapter()
    worker = DeliveryWorker(
        store, {"test": adapter}, ladder_objects(config.ladders), charts=StoreCharts(store, config)
    )
    await worker.drain()
    assert adapter.posts[-1].title == "Nissan Leaf passes 150,000 sales"
    assert adapter.posts[-1].image is None


async def test_the_running_app_attaches_charts_to_milestones(tmp_path: Path) -> None:
    config = default_config()
    adapter = CollectingAdapter()
    app = build_app(config, SqliteStore(tmp_path / "app.sqlite3"), {"test": adapter})
    await app.start(poll=False)
    try:
        await app.store.import_records([(SOURCE, leaf_and_friends())], file="history")
        await leaf_crosses(app.store, config)
        app.worker.wake()
        async with asyncio.timeout(30):  # not delivered, if it runs out
            while len(adapter.posts) < 2:
                adapter.changed.clear()
                await adapter.changed.wait()
        assert adapter.posts[-1].image is not None
    finally:
        await app.stop(grace=2)


# -- the subscription setting ---------------------------------------------------------------


def test_charts_switch_parses_on_and_off_and_refuses_the_rest() -> None:
    assert parse_charts(None) is True and parse_charts("") is True
    assert parse_charts("off") is False and parse_charts(" ON ") is True
    assert parse_charts("no") is False and parse_charts("true") is True
    with pytest.raises(SubscriptionError, match="charts: 'sometimes' is not on or off"):
        parse_charts("sometimes")
    spec = SubscriptionSpec(CHANNEL, ALL, charts="yes")  # type: ignore[arg-type]
    with pytest.raises(SubscriptionError, match="charts: 'yes' is not on or off"):
        validate_spec(spec, default_config().ladders)


async def test_ev_subscribe_takes_charts_on_or_off(ctx: CommandContext) -> None:
    reply = await run_text(ctx, WHO, "/ev-subscribe nissan leaf charts:off")
    assert reply.ok, reply.message.body
    listing = await run_text(ctx, WHO, "/ev-subscriptions")
    assert "Nissan Leaf" in listing.message.body and "no charts" in listing.message.body
    (sub,) = await ctx.store.subscriptions(CHANNEL)
    assert sub.spec.charts is False
    bad = await run_text(ctx, WHO, "/ev-subscribe nissan leaf charts:maybe")
    assert not bad.ok and "charts: 'maybe' is not one of on, off" in bad.message.body


def test_evbot_subscribe_has_charts_and_no_charts() -> None:
    parser = build_parser()
    assert parser.parse_args(["subscribe", "leaf"]).charts is True
    assert parser.parse_args(["subscribe", "leaf", "--no-charts"]).charts is False


# -- evbot chart and the README -------------------------------------------------------------


@pytest.fixture
async def demo_db(tmp_path: Path) -> Path:
    path = tmp_path / "demo.sqlite3"
    config = default_config()
    async with SqliteStore(path) as s:
        await s.sync_groups(config.groups)
        await import_demo(s, config)
    return path


async def test_evbot_chart_writes_the_png_and_says_what_it_shows(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pictures" / "alliance.png"
    argv = ["chart", "Renault-Nissan Alliance", "--out", str(out), "--db", str(demo_db)]
    status = await asyncio.to_thread(main, argv)
    assert status == 0
    assert png_size(out.read_bytes()) == (1200, 675)
    said = capsys.readouterr().out
    assert f"wrote {out} (1200x675" in said and "377,700 sold through December 2016" in said


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["chart", "leaf", "--kind", "shares"], "Nissan Leaf is a model"),
        (["chart", "lef"], "Did you mean"),
        (["chart", "leaf", "--locale", "xx"], "unknown locale 'xx'"),
    ],
)
async def test_evbot_chart_errors_name_the_problem(
    demo_db: Path, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await asyncio.to_thread(main, [*argv, "--db", str(demo_db)])
    assert status == 1
    assert expected in capsys.readouterr().err


def readme_chart_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [shlex.split(line)[1:] for line in re.findall(r"^evbot chart .*$", text, re.M)]


def test_the_readme_shows_its_images_and_the_commands_that_made_them() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = readme_chart_commands()
    assert len(commands) == 3
    for argv in commands:
        out = argv[argv.index("--out") + 1]
        assert f"]({out})" in text, f"the README does not show {out}"
        png = (ROOT / out).read_bytes()
        assert png_size(png) == (1200, 675) and len(png) <= 1_000_000


async def test_the_readme_images_come_from_its_commands(demo_db: Path, tmp_path: Path) -> None:
    """Each command the README names, run on the demo data, draws its image again: byte for
    byte when this matplotlib drew the image in docs/ (the PNG says which one did)."""
    import matplotlib

    for argv in readme_chart_commands():
        out = argv[argv.index("--out") + 1]
        fresh = tmp_path / Path(out).name
        args = [a for a in argv if a != "--db"]
        args = [str(fresh) if a == out else a for a in args]
        args = [a for a in args if not a.endswith(".sqlite3")]
        status = await asyncio.to_thread(main, [*args, "--db", str(demo_db)])
        assert status == 0
        committed = (ROOT / out).read_bytes()
        drawn = fresh.read_bytes()
        assert png_software(drawn) == f"EV Milestone Bot (matplotlib {matplotlib.__version__})"
        if png_software(committed) != png_software(drawn):
            pytest.skip(f"{out} was drawn by another matplotlib: {png_software(committed)}")
        assert drawn == committed, f"{out} is not what `evbot chart` draws now"


def test_chart_data_is_plain_and_picklable() -> None:
    import pickle

    data = cumulative_data(frame("Leaf"), {Month(2020, 1): 900, Month(2020, 2): 1200}, LADDERS)
    assert pickle.loads(pickle.dumps(data)) == data
    monthly = monthly_data(frame("Leaf"), {Month(2020, 1): 900})
    assert isinstance(pickle.loads(pickle.dumps(monthly)), MonthlyData)
    assert isinstance(data, CumulativeData)
