"""Chart drawing time, and what drawing charts continuously does to /ev-total's latency.

Loads the demo data (the Renault-Nissan Alliance, 2010-12 to 2016-12) into a temporary store,
or uses `--db`, and opens the command context (the in-memory read model) over it. Then:

1. the p50 (and p99) time to draw each kind of chart of SUBJECT, `bot.charts.render.render` called
   directly (the drawing alone), against a floor drawn in turn with it: a bare matplotlib figure
   of the same size and dpi on the same Agg canvas, a plain line of as many points, written to a
   PNG by `savefig` (what matplotlib costs out of the box, on this machine, under this load,
   with the process's settings: the charts set text unhinted for the process);
   and /ev-chart end to end (the command, drawing in a thread). The target: a chart at most
   1.5x the floor and p50 under 60 ms;
2. /ev-total latency with nothing else running: the baseline, measured in this run;
3. /ev-total latency while charts are drawn back to back by `--renderers` tasks in the loop's
   worker threads (what /ev-chart and the delivery worker do), and again in a process pool
   (drawing holds the GIL most of the time, which a process does not share).

Each /ev-total is timed around `bot.commands.dispatch.run_text`, one at a time with a short pause
between (`--gap`), as commands arrive; the ratio of each p99 to the baseline p99 shows what
charts cost the loop. No targets are asserted: the figures are printed. `--totals 0` draws
only (1.).

    python bench/charts.py
    python bench/charts.py --draws 30 --totals 0
    python bench/charts.py --totals 5000 --renderers 2 --db demo.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app.bootstrap import open_commands
from bot.charts.data import KINDS, ChartData, CumulativeData, SharesData
from bot.charts.draw import DPI, HEIGHT_PX, MAX_BARS, WIDTH_PX
from bot.charts.render import render
from bot.charts.service import model_chart_data, render_off_loop
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.domain.channels import Channel
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.ingest.importer import import_demo
from bot.store.sqlite.sales import SqliteStore

INVOCATION = Invocation(Channel("console", "local", "bench"), "bench", can_manage=False)
TOTALS = ["/ev-total alliance", "/ev-total nissan leaf", "/ev-total renault", "/ev-total"]


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def chart_data(ctx: CommandContext, subject: str, kind: str) -> ChartData:
    resolved = ctx.model.catalog.resolve(subject)
    return model_chart_data(
        ctx.model, kind, resolved.subject, WORLD, ladders=ctx.ladders, source="bench"
    )


def points(data: ChartData) -> int:
    """How many points (or bars) a chart plots."""
    if isinstance(data, CumulativeData):
        return len(data.points)
    if isinstance(data, SharesData):
        return min(len(data.shares), MAX_BARS + 1)
    return 2 * len(data.months)


def floor(n: int) -> bytes:
    """The floor a chart is held to: a bare figure of the chart's size, a line of `n` points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.add_subplot().plot(range(n), range(n))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def timed(draw: Callable[[], object]) -> float:
    start = time.perf_counter()
    draw()
    return time.perf_counter() - start


async def totals(ctx: CommandContext, n: int, gap: float) -> list[float]:
    """Latencies of `n` /ev-total commands, one at a time, `gap` seconds apart."""
    out = []
    for i in range(n):
        text = TOTALS[i % len(TOTALS)]
        start = time.perf_counter()
        reply = await run_text(ctx, INVOCATION, text)
        out.append(time.perf_counter() - start)
        if not reply.ok:
            raise SystemExit(f"{text}: {reply.message.body}")
        await asyncio.sleep(gap)
    return sorted(out)


async def totals_while_drawing(
    ctx: CommandContext,
    data: list[ChartData],
    n: int,
    gap: float,
    renderers: int,
    executor: Executor | None,
) -> tuple[list[float], int]:
    """/ev-total latencies while `renderers` tasks draw charts back to back."""
    stop = asyncio.Event()
    drawn = 0

    async def draw_forever(offset: int) -> None:
        nonlocal drawn
        i = offset
        while not stop.is_set():
            await render_off_loop(data[i % len(data)], executor)
            drawn += 1
            i += 1

    tasks = [asyncio.create_task(draw_forever(k)) for k in range(renderers)]
    await asyncio.sleep(0.2)  # let the drawing get going
    try:
        latencies = await totals(ctx, n, gap)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return latencies, drawn


def line(label: str, lat: list[float], base: list[float] | None = None) -> str:
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    text = (
        f"{label}: p50 {p50 * 1e6:,.0f} us, p99 {p99 * 1e6:,.0f} us, "
        f"max {lat[-1] * 1e3:,.1f} ms, mean {statistics.fmean(lat) * 1e6:,.0f} us"
    )
    if base is not None:
        text += (
            f"; p99 / alone = {p99 / percentile(base, 99):.1f}x, "
            f"p50 / alone = {p50 / percentile(base, 50):.1f}x"
        )
    return text


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing store (default: the demo data, loaded now)")
    parser.add_argument("--subject", default="Renault-Nissan Alliance")
    parser.add_argument("--draws", type=int, default=30, help="draws of each kind timed")
    parser.add_argument("--totals", type=int, default=3000, help="/ev-total commands per run")
    parser.add_argument("--gap", type=float, default=0.001, help="seconds between commands")
    parser.add_argument("--renderers", type=int, default=1, help="charts drawn at once")
    args = parser.parse_args()
    config = default_config()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or str(Path(tmp) / "demo.sqlite3")
        async with SqliteStore(path) as store:
            await store.sync_groups(config.groups)
            if args.db is None:
                await import_demo(store, config)
            ctx = await open_commands(store, config)
            print(f"store: {path}; {await store.count_records():,} sales rows; {args.subject}")
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"load average {load} on {os.cpu_count()} CPUs (other work slows both sides)")
            data = [chart_data(ctx, args.subject, kind) for kind in KINDS]
            for item in data:  # the first draws import matplotlib and load fonts: not timed
                render(item)
            floor(points(data[0]))

            print(f"draw time, {args.draws} draws of each kind, each beside a floor's:")
            all_times: list[float] = []
            all_floors: list[float] = []
            for kind, item in zip(KINDS, data, strict=True):
                times, floors = [], []
                for _ in range(args.draws):
                    times.append(timed(partial(render, item)))
                    floors.append(timed(partial(floor, points(item))))
                times.sort()
                floors.sort()
                all_times += times
                all_floors += floors
                command = []
                for _ in range(max(5, args.draws // 3)):
                    start = time.perf_counter()
                    reply = await run_text(ctx, INVOCATION, f"/ev-chart {args.subject} {kind}")
                    command.append(time.perf_counter() - start)
                    assert reply.message.image is not None, reply.message.body
                command.sort()
                p50, base = percentile(times, 50), percentile(floors, 50)
                print(
                    f"  {kind:<10} render p50 {p50 * 1e3:6.1f} ms, "
                    f"p99 {percentile(times, 99) * 1e3:6.1f} ms, "
                    f"{len(render(item).png) / 1024:5.1f} KiB; floor p50 {base * 1e3:5.1f} ms "
                    f"({points(item)} points): {p50 / base:4.2f}x; /ev-chart end to end p50 "
                    f"{percentile(command, 50) * 1e3:6.1f} ms"
                )
            all_times.sort()
            all_floors.sort()
            p50, base = percentile(all_times, 50), percentile(all_floors, 50)
            verdict = "met" if p50 <= 1.5 * base and p50 < 0.060 else "NOT met"
            print(
                f"  all kinds  render p50 {p50 * 1e3:6.1f} ms, floor p50 {base * 1e3:5.1f} ms: "
                f"{p50 / base:4.2f}x (target: at most 1.5x and under 60 ms: {verdict})"
            )
            if args.totals == 0:
                return

            await totals(ctx, 500, args.gap)  # warm the caches the commands use
            alone = await totals(ctx, args.totals, args.gap)
            print(f"/ev-total, {args.totals:,} one at a time, {args.gap * 1e3:g} ms apart:")
            print("  " + line("alone                          ", alone))
            threaded, drawn = await totals_while_drawing(
                ctx, data, args.totals, args.gap, args.renderers, None
            )
            print(
                "  "
                + line(f"charts drawing in threads  x{args.renderers}", threaded, alone)
                + f" ({drawn} charts drawn meanwhile)"
            )
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(args.renderers, mp_context=context) as pool:
                await asyncio.gather(  # start the workers and their matplotlib first
                    *(render_off_loop(data[0], pool) for _ in range(args.renderers))
                )
                processed, drawn = await totals_while_drawing(
                    ctx, data, args.totals, args.gap, args.renderers, pool
                )
            print(
                "  "
                + line(f"charts drawing in processes x{args.renderers}", processed, alone)
                + f" ({drawn} charts drawn meanwhile)"
            )


if __name__ == "__main__":
    asyncio.run(main())
