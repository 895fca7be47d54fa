"""Slash-command latency and throughput from the in-memory read model, against raw SQLite.

Builds a store of MODELS models (10 per make) x MONTHS months in region World (by default
10,000 x 100 = 1,000,000 sales rows, one first import, in a child process: the peak RSS
printed is the serving process's alone), loads the read model (and warms every
World series), then runs COMMANDS mixed text commands (/ev-total of models, makes, the Alliance
and the world, some as of a month; /ev-share of a make for a year; /ev-milestones of a model)
through `bot.commands.dispatch.run_text`, with 10 and with 200 in flight. Prints throughput, p50
and p99 at each, and the ratio of the command p50 to a raw SQLite point lookup (`sqlite3`, a
primary-key SELECT on `cells`) measured in the same run.

Before the commands it times the subject names: building the name index, then autocomplete and
"did you mean" of 2,000 typed names (a make's start, a name's start, a model's bare name, a
misspelt name, a name known nowhere), each against the baseline measured in the same run (the
hand-made index as it was, kept in bench/suggest_baseline.py, and the catalog's difflib
suggestions), and how far the slowest is from the 3-second answer budget.

Against the naive bot a user would otherwise write (`bench/naive.py`: one aiosqlite query per
command over the same store), run on the same commands alternately with the bot, ROUNDS times
at each in-flight count (the best of each counts). Targets (issue 19): at 200 in flight at least
3 times the naive throughput and a p99 at most 1/50 of the naive p99; at 10 in flight p99 under
1 ms; the process's peak RSS under 200 MB with the store and the read model loaded.

A command's latency is measured around `run_text` in each of the in-flight tasks. The reading
commands do not wait on I/O (the read model is in memory, and the journal is checked at most
once a second), so with many in flight a command runs to completion once started; the latency
is its service time and the in-flight count shows up in throughput. Each round also prints the
process's CPU time a command (every thread's: the naive bot's SQLite thread too), which busy
neighbours on a shared machine move far less than the wall clock; the least of each is compared.

Each run draws its own commands (the same mix, new draws), so a run is not answered from what
the previous one left in the caches: the line says how many of its commands had been asked
before in the process (what is kept: parsed texts, resolved names, formatted numbers, and the
read model's totals; every reply is built anew).

    python bench/commands.py                      # full size
    python bench/commands.py --models 1000        # 100,000 rows
    python bench/commands.py --models 1000 --database postgresql://postgres@127.0.0.1/test

With `--database` the same commands also run on a PostgreSQL store (a schema of its own there,
dropped afterwards), against a raw asyncpg point lookup as its floor, and both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import naive
from bench.measure import peak_rss_mb
from bench.suggest_baseline import NameIndex as BaselineIndex
from bot.app.bootstrap import open_commands
from bot.commands.completion import NameIndex
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.domain.channels import Channel
from bot.domain.events import Subject
from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import Config, default_config
from bot.ports.store import BotStore
from bot.store.postgres.base import connect, scratch_schema
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

MODELS_PER_MAKE = 10
FIRST_MONTH = Month(2010, 1)
SOURCE = SourceSpec("bench")
ROUNDS = 3  # each in-flight count is run this many times, alternating with the naive bot
RSS_TARGET_MB = 200
INVOCATION = Invocation(Channel("console", "local", "bench"), "bench", can_manage=False)


def units(model: int, month: int) -> int:
    return 40 + (model * 7919 + month * 104_729) % 460


def name(model: int) -> tuple[str, str]:
    # Renault and Nissan are in the Alliance: the group's commands have real work to do
    make = {0: "Renault", 1: "Nissan"}.get(model // MODELS_PER_MAKE)
    return make or f"Make{model // MODELS_PER_MAKE:05d}", f"Model {model % MODELS_PER_MAKE}"


def records(models: int, months: int) -> Iterator[SalesRecord]:
    for model in range(models):
        make, model_name = name(model)
        for month in range(months):
            yield SalesRecord(
                str(FIRST_MONTH.plus(month)), WORLD, make, model_name, units(model, month)
            )


def mixed_commands(count: int, models: int, months: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(count):
        model = rng.randrange(models)
        make, model_name = name(model)
        month = FIRST_MONTH.plus(rng.randrange(months))
        roll = rng.random()
        if roll < 0.35:
            out.append(f"/ev-total {make} {model_name}")
        elif roll < 0.50:
            out.append(f"/ev-total {make} {model_name} as-of:{month}")
        elif roll < 0.65:
            out.append(f"/ev-total {make}")
        elif roll < 0.72:
            out.append("/ev-total alliance")
        elif roll < 0.75:
            out.append("/ev-total")
        elif roll < 0.87:
            out.append(f"/ev-share {make} period:{month.year}")
        else:
            out.append(f"/ev-milestones {make} {model_name}")
    return out


def typed_names(count: int, models: int, rng: random.Random) -> list[str]:
    """What people type into the subject box: a make's start, a name's start, a model's bare
    name (a word of ten thousand names), a misspelt make or model, and a name known nowhere."""
    out = []
    for _ in range(count):
        make, model_name = name(rng.randrange(models))
        full = f"{make} {model_name}"
        cut = rng.randrange(2, len(full))
        swap = rng.randrange(1, len(make) - 1)
        out.append(
            rng.choice(
                [
                    make[: rng.randrange(2, len(make) + 1)],
                    full[:cut],
                    model_name,
                    make[:swap] + make[swap + 1] + make[swap] + make[swap + 2 :] + f" {model_name}",
                    "renualt",
                    "zoe",
                ]
            )
        )
    return out


def measure_names(ctx: CommandContext, rng: random.Random) -> None:
    """Autocomplete and "did you mean" of the ranked index against the baseline (the hand-made
    index as it was, and the catalog's difflib suggestions), in this run; the budget is 3 s."""
    catalog = ctx.model.catalog

    def sales(subject: Subject) -> int:
        cum = ctx.model.series(subject).cum
        return cum[-1] if cum else 0

    start = time.perf_counter()
    old = BaselineIndex.build(catalog, ctx.config)
    old_build = time.perf_counter() - start
    start = time.perf_counter()
    new = NameIndex.build(catalog, ctx.config, sales)  # with every subject's sales, as the bot
    new_build = time.perf_counter() - start
    print(f"name index build: baseline {old_build:.2f} s, ranked {new_build:.2f} s")
    texts = typed_names(2000, len(catalog.models), rng)
    for label, base, ranked in (
        ("autocomplete", old.complete, new.complete),
        ("did you mean", catalog.suggest, new.suggest),
    ):
        times: dict[str, list[float]] = {"baseline": [], "ranked": []}
        for text in texts:
            for which, call in (("baseline", base), ("ranked", ranked)):
                start = time.perf_counter()
                call(text)
                times[which].append(time.perf_counter() - start)
        parts = []
        for which, lat in times.items():
            lat.sort()
            parts.append(
                f"{which} p50 {percentile(lat, 50) * 1e3:.2f} ms, p99 "
                f"{percentile(lat, 99) * 1e3:.2f} ms, max {lat[-1] * 1e3:.1f} ms"
            )
        worst = times["ranked"][-1]
        verdict = "far within" if worst < 0.3 else "within" if worst < 3 else "OVER"
        print(f"{label:<13}{'; '.join(parts)}: {verdict} the 3 s answer budget")


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(
    ctx: CommandContext, texts: list[str], in_flight: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue = iter(texts)

    async def worker() -> None:
        nonlocal failures
        for text in queue:
            start = time.perf_counter()
            reply = await run_text(ctx, INVOCATION, text)
            latencies.append(time.perf_counter() - start)
            if not reply.ok:
                failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - start, sorted(latencies), failures


def raw_lookups(path: str, models: int, months: int, n: int, rng: random.Random) -> list[float]:
    """Primary-key SELECTs on the kept cells with the plain sqlite3 module: the floor."""
    db = sqlite3.connect(path)
    try:
        sql = (
            "SELECT inc FROM cells WHERE source_id = 1 AND make_key = ? AND model_key = ? "
            "AND region = ? AND month = ?"
        )
        keys = []
        for _ in range(n):
            make, model_name = name(rng.randrange(models))
            month = str(FIRST_MONTH.plus(rng.randrange(months)))
            keys.append((make.lower(), model_name.lower(), WORLD, month))
        times = []
        for key in keys:
            start = time.perf_counter()
            row = db.execute(sql, key).fetchone()
            times.append(time.perf_counter() - start)
            assert row is not None, key
        return sorted(times)
    finally:
        db.close()


async def raw_pg_lookups(
    dsn: str, models: int, months: int, n: int, rng: random.Random
) -> list[float]:
    """Primary-key SELECTs on the kept cells with plain asyncpg: PostgreSQL's floor."""
    con = await connect(dsn)
    try:
        statement = await con.prepare(
            "SELECT inc FROM cells WHERE source_id = 1 AND make_key = $1 AND model_key = $2 "
            "AND region = $3 AND month = $4"
        )
        times = []
        for _ in range(n):
            make, model_name = name(rng.randrange(models))
            month = str(FIRST_MONTH.plus(rng.randrange(months)))
            key = (make.lower(), model_name.lower(), WORLD, month)
            start = time.perf_counter()
            row = await statement.fetchrow(*key)
            times.append(time.perf_counter() - start)
            assert row is not None, key
        return sorted(times)
    finally:
        await con.close()


async def measure_postgres(
    dsn: str, args: argparse.Namespace, rng: random.Random
) -> dict[int, tuple[float, float, float]]:
    """The same run on PostgreSQL: {in flight: (commands/s, p50, p99)}."""
    config = default_config()
    out: dict[int, tuple[float, float, float]] = {}
    async with scratch_schema(dsn, "evbot_bench") as scratch, PgStore(scratch) as store:
        await store.sync_groups(config.groups)
        rows = list(records(args.models, args.months))
        start = time.perf_counter()
        await store.import_records([(SOURCE, rows)])
        print(f"store: {len(rows):,} sales rows imported in {time.perf_counter() - start:.1f} s")
        del rows
        ctx, _ = await prepare_context(store, config, args, rng)
        raw = await raw_pg_lookups(scratch, args.models, args.months, 5_000, rng)
        raw_p50 = percentile(raw, 50)
        print(
            f"raw asyncpg point lookup: p50 {raw_p50 * 1e6:.1f} us, p99 "
            f"{percentile(raw, 99) * 1e6:.1f} us"
        )
        for in_flight in (10, 200):
            out[in_flight] = await measure_commands(ctx, args, rng, in_flight, raw_p50, set())
    return out


async def prepare_context(
    store: BotStore, config: Config, args: argparse.Namespace, rng: random.Random
) -> tuple[CommandContext, float]:
    start = time.perf_counter()
    ctx = await open_commands(store, config)
    load = time.perf_counter() - start
    start = time.perf_counter()
    series = ctx.model.warm()
    print(
        f"read model: loaded in {load:.2f} s, {series:,} World series warmed in "
        f"{time.perf_counter() - start:.2f} s"
    )
    await run(ctx, mixed_commands(2000, args.models, args.months, rng), 10)  # warm caches
    return ctx, load


async def measure_commands(
    ctx: CommandContext,
    args: argparse.Namespace,
    rng: random.Random,
    in_flight: int,
    raw_p50: float,
    asked: set[str],
) -> tuple[float, float, float]:
    texts = mixed_commands(args.commands, args.models, args.months, rng)
    before = sum(text in asked for text in texts) / len(texts)
    asked.update(texts)
    wall, lat, failures = await run(ctx, texts, in_flight)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    print(
        f"{in_flight:>3} in flight: {len(texts) / wall:,.0f} commands/s, "
        f"p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us, "
        f"mean {statistics.fmean(lat) * 1e6:.0f} us, "
        f"p50 / raw lookup p50 = {p50 / raw_p50:.1f}x, "
        f"{before:.0%} asked before" + (f", {failures} errors" if failures else "")
    )
    return len(texts) / wall, p50, p99


async def naive_run(
    db: aiosqlite.Connection, texts: list[str], in_flight: int
) -> tuple[float, list[float]]:
    """The naive bot (bench/naive.py) answering `texts` with `in_flight` at once: (wall, sorted
    latencies)."""
    latencies: list[float] = []
    queue = iter(texts)

    async def worker() -> None:
        for text in queue:
            start = time.perf_counter()
            await naive.answer(db, text)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - start, sorted(latencies)


async def against_naive(
    ctx: CommandContext,
    path: str,
    args: argparse.Namespace,
    rng: random.Random,
    asked: set[str],
    raw_p50: float,
) -> dict[int, tuple[float, float, float]]:
    """The commands at 10 and 200 in flight, and the naive bot's over the same store, each
    ROUNDS times alternately (each round new draws of the mix); the best of each counts.
    Returns {in flight: (commands/s, p50, p99)} of the bot."""
    out: dict[int, tuple[float, float, float]] = {}
    async with aiosqlite.connect(path) as db:
        for in_flight in (10, 200):
            ours = [0.0, float("inf"), float("inf")]  # commands/s, p50, p99
            theirs = [0.0, float("inf"), float("inf")]
            cpus = [float("inf"), float("inf")]  # the least CPU a command, ours and theirs
            for _ in range(ROUNDS):
                texts = mixed_commands(args.commands, args.models, args.months, rng)
                before = sum(text in asked for text in texts) / len(texts)
                asked.update(texts)
                cpu = time.process_time()
                wall, lat, failures = await run(ctx, texts, in_flight)
                cpu = (time.process_time() - cpu) / len(texts)
                cpus[0] = min(cpus[0], cpu)
                p50, p99 = percentile(lat, 50), percentile(lat, 99)
                print(
                    f"{in_flight:>3} in flight: {len(texts) / wall:,.0f} commands/s, "
                    f"CPU {cpu * 1e6:.0f} us a command, "
                    f"p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us, "
                    f"mean {statistics.fmean(lat) * 1e6:.0f} us, "
                    f"p50 / raw lookup p50 = {p50 / raw_p50:.1f}x, "
                    f"{before:.0%} asked before" + (f", {failures} errors" if failures else "")
                )
                ours = [max(ours[0], len(texts) / wall), min(ours[1], p50), min(ours[2], p99)]
                cpu = time.process_time()
                wall, lat = await naive_run(db, texts, in_flight)
                cpu = (time.process_time() - cpu) / len(texts)
                cpus[1] = min(cpus[1], cpu)
                p50, p99 = percentile(lat, 50), percentile(lat, 99)
                print(
                    f"    naive bot: {len(texts) / wall:,.0f} commands/s, "
                    f"CPU {cpu * 1e6:.0f} us a command, "
                    f"p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us"
                )
                theirs = [
                    max(theirs[0], len(texts) / wall),
                    min(theirs[1], p50),
                    min(theirs[2], p99),
                ]
            out[in_flight] = (ours[0], ours[1], ours[2])
            speed, tail = ours[0] / theirs[0], theirs[2] / ours[2]
            print(
                f"  best of {ROUNDS} at {in_flight} in flight: {ours[0]:,.0f} commands/s "
                f"(naive {theirs[0]:,.0f}), p99 {ours[2] * 1e6:.0f} us (naive "
                f"{theirs[2] * 1e6:.0f} us): throughput {speed:.1f}x the naive bot's, "
                f"p99 1/{tail:.0f} of its; CPU a command {cpus[0] * 1e6:.0f} us (naive "
                f"{cpus[1] * 1e6:.0f} us, {cpus[1] / cpus[0]:.1f}x ours)"
            )
            if in_flight == 10:
                verdict = "met" if ours[2] < 0.001 else "NOT met"
                print(f"    target p99 < 1 ms at 10 in flight: {verdict}")
            else:
                verdict = "met" if speed >= 3 and tail >= 50 else "NOT met"
                print(f"    target >= 3x the naive throughput, p99 <= 1/50 of its: {verdict}")
    return out


async def build(path: str, models: int, months: int) -> None:
    """The store: MODELS x MONTHS sales rows of World, one first import."""
    async with SqliteStore(path) as store:
        await store.sync_groups(default_config().groups)
        await store.import_records([(SOURCE, list(records(models, months)))])


def build_sync(path: str, models: int, months: int) -> None:
    asyncio.run(build(path, models, months))


def build_apart(path: str, models: int, months: int) -> None:
    """`build` in a child process, so that the rows and the import's memory (about 650 MB at a
    million rows) are not counted in this process's peak RSS, the bot's serving process's."""
    child = multiprocessing.get_context("spawn").Process(
        target=build_sync, args=(path, models, months)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the store failed (exit code {child.exitcode})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=100)
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--db", help="reuse (or create) this store file")
    parser.add_argument(
        "--skip-names", action="store_true", help="leave the name index timings out"
    )
    parser.add_argument(
        "--database",
        metavar="postgresql://...",
        help="also run on PostgreSQL (a throwaway schema there) and print both",
    )
    args = parser.parse_args()
    config = default_config()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or str(Path(tmp) / "bench.sqlite3")
        fresh = not await asyncio.to_thread(Path(path).exists)
        async with SqliteStore(path) as store:
            await store.sync_groups(config.groups)
            if fresh:
                # built in a child process: the peak RSS printed is the serving process's
                start = time.perf_counter()
                await asyncio.to_thread(build_apart, path, args.models, args.months)
                took = time.perf_counter() - start
                print(
                    f"store: {args.models * args.months:,} sales rows imported in {took:.1f} s "
                    "(in a child process)"
                )
            else:
                print(f"store: reusing {path} ({await store.count_records():,} sales rows)")
            start = time.perf_counter()
            ctx = await open_commands(store, config)
            load = time.perf_counter() - start
            start = time.perf_counter()
            series = ctx.model.warm()
            print(
                f"read model: loaded in {load:.2f} s, {series:,} World series warmed in "
                f"{time.perf_counter() - start:.2f} s"
            )
            asked: set[str] = set()
            warm = mixed_commands(2000, args.models, args.months, rng)
            await run(ctx, warm, 10)  # warm caches (formatting, names)
            asked.update(warm)
            raw = raw_lookups(path, args.models, args.months, 20_000, rng)
            raw_p50 = percentile(raw, 50)
            print(
                f"raw SQLite point lookup: p50 {raw_p50 * 1e6:.1f} us, p99 "
                f"{percentile(raw, 99) * 1e6:.1f} us"
            )
            if not args.skip_names:
                measure_names(ctx, rng)
            print(
                f"peak RSS with the store and the read model loaded: {peak_rss_mb():.0f} MB "
                "(this process: the store is built in a child)"
            )
            lite = await against_naive(ctx, path, args, rng, asked, raw_p50)
    print(f"peak RSS: {peak_rss_mb():.0f} MB (target < {RSS_TARGET_MB} MB)")
    if args.database:
        print("\n== PostgreSQL")
        pg = await measure_postgres(args.database, args, rng)
        print(f"\n{'':<16}{'SQLite':>24}{'PostgreSQL':>24}")
        for in_flight in (10, 200):
            for label, index, scale, unit in (
                ("commands/s", 0, 1.0, ""),
                ("p50", 1, 1e6, " us"),
                ("p99", 2, 1e6, " us"),
            ):
                a, b = lite[in_flight][index] * scale, pg[in_flight][index] * scale
                print(
                    f"{in_flight:>3} in flight {label:<10}{a:>20,.0f}{unit:<4}{b:>20,.0f}{unit:<4}"
                )


if __name__ == "__main__":
    asyncio.run(main())
