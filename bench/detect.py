"""Incremental crossing detection against a full recompute, measured in the same run.

Builds a store of MODELS models (10 per make) x MONTHS months in region World (by default
10,000 x 100 = 1,000,000 sales rows), imported as the source's first import (history), lets the
detector catch up once, then times two polls after 10,000 new rows each:

  A. the next month for every model: every series is touched, but only after the month it
     was last detected at, so each continues from its kept state (bot/domain/series_state.py) with
     the new month's cells alone;
  B. 100 months revised for 100 models (1 % of the subjects touched): those are read whole.

Then C: detection costs what it tells (issue 26). Two like stores (up to 2,000 models x 24
months) take the same three polls: the next month for every model, that month's figure of one
model revised, and the month after; on one of them that figure is first the accepted maximum
(10**12 units: a million thresholds of the default ladder, one range). The times are printed
side by side with their ratio (about 1: a figure's size costs nothing); not asserted anywhere.

Each of A and B is run `--rounds` times (like work each round: the next month again, other
models revised); the best poll counts. Its yardstick (issue 19) is the floor: a raw `sqlite3`
read, in the same run, of what the poll must read (`FLOOR_SQL`: the journal entries since the
watermark, and the cells from the earliest month they changed of every model, make and the
all-EVs series they name), no Python work per row beyond fetching. Targets: A within 8x of its
floor, B within 5x. `--sweep` then polls 100, 1,000 and 10,000 changed models and prints the
time per changed model (flat when a poll scales with the change, not the store).

The polls run in this process with one `Detector` kept across them, as the running bot keeps
one (`bot.app.runtime`); the store's build, the imports (as `evbot import` runs beside the bot)
and the full recomputes run in child processes, so the peak RSS printed at the end is the
polling process's (each child's is printed beside its time). `--keep DIR` keeps the built store
in DIR and copies it from there on the next run with the same arguments.

For continuity the old yardstick is printed too: a full recompute of every subject, the same
per-series detection (`Detector._detect`) over every model, make, group and "all" series, on the
same data, with nothing written (without the growth and share work news series get in a poll).
It is a poor one: making the per-series code faster speeds the recompute up as well.

The catch-up poll over a million history entries recomputes every series once, with growth and
share work on top, so above 2,000 models the bench catches up by saving the full recompute's
write with the watermark instead, which records the same history milestones.
`--catch-up poll` forces the real thing.

    python bench/detect.py                       # full size (minutes)
    python bench/detect.py --skip-c --sweep      # A and B against their floors, the sweep
    python bench/detect.py --models 1000         # 100,000 rows
    python bench/detect.py --models 1000 --profile
    python bench/detect.py --models 1000 --database postgresql://postgres@127.0.0.1/test

With `--database` the same run is repeated on a PostgreSQL store (in a schema of its own,
dropped afterwards) and its figures are printed beside SQLite's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import multiprocessing
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import peak_rss_mb
from bot.detection.detector import WATERMARK, Detector
from bot.detection.finding import Detection
from bot.detection.steps import SeriesKey
from bot.domain.events import Subject
from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import Config, default_config
from bot.domain.subjects import ALL, SubjectKey
from bot.ingest.fields import MAX_UNITS
from bot.ports.store import BotStore
from bot.reading.queries import load_catalog
from bot.store.postgres.base import scratch_schema
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

MODELS_PER_MAKE = 10
FIRST_MONTH = Month(2010, 1)
SOURCE = SourceSpec("bench")
TARGET_A, TARGET_B = 8.0, 5.0  # a poll's time over its floor's, at most
C_MONTHS = 24  # months of history of case C's stores
C_RUNS = 3  # case C's polls are timed this many times on new stores; the best counts
T = TypeVar("T")


def units(model: int, month: int) -> int:
    """A deterministic, varied monthly figure: 40..499 units."""
    return 40 + (model * 7919 + month * 104_729) % 460


def name(model: int) -> tuple[str, str]:
    return f"Make{model // MODELS_PER_MAKE:05d}", f"Model {model % MODELS_PER_MAKE}"


def records(models: range, months: range, bump: int = 0) -> Iterator[SalesRecord]:
    for model in models:
        make, model_name = name(model)
        for month in months:
            period = str(FIRST_MONTH.plus(month))
            yield SalesRecord(period, WORLD, make, model_name, units(model, month) + bump)


async def timed(what: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    start = time.perf_counter()
    result = await what()
    return result, time.perf_counter() - start


async def every_series(store: BotStore, config: Config) -> dict[SeriesKey, None]:
    """Every series a full recompute covers, as history (None: no news month; milestones only)."""
    catalog = await load_catalog(store, config)
    subjects: list[Subject] = [catalog.resolve(g.name).subject for g in config.groups]
    subjects += [
        Subject("make", SubjectKey.for_make(k), v) for k, v in sorted(catalog.makes.items()) if k
    ]
    subjects += [
        Subject("model", SubjectKey.for_model(m.make_key, m.model_key), f"{m.make} {m.model}")
        for m in catalog.models
    ]
    subjects.append(ALL)
    return {SeriesKey(s, WORLD, "sales"): None for s in subjects}


async def full_recompute(store: BotStore, config: Config) -> tuple[int, Detection]:
    """Recompute every subject's series and its milestones, writing nothing: (series, what
    was found)."""
    detector = Detector(store, config)
    catalog = await load_catalog(store, config)
    keys = await every_series(store, config)
    found = await detector._detect(keys, catalog, SOURCE.name)
    return len(keys), found


async def catch_up_by_recompute(store: BotStore, config: Config) -> int:
    """What the catch-up poll records after a history-only first import (every series as
    history), saved with the watermark; the poll's own cost grows with journal entries x models
    (see the module docstring), so at full size this is the way to get there in minutes."""
    head = await store.journal_head()
    _, found = await full_recompute(store, config)
    await store.save_detection(
        WATERMARK, await store.watermark(WATERMARK), head, found.write, states=found.states
    )
    return len(found.write.milestones)


def open_store(where: str) -> SqliteStore | PgStore:
    """The store at `where`: a PostgreSQL DSN or a SQLite file's path."""
    return PgStore(where) if where.startswith("postgres") else SqliteStore(Path(where))


async def build(where: str, models: int, months: int, how: str) -> tuple[float, float, int]:
    """The store of `models` x `months` rows as history, caught up by `how` ("poll" or
    "recompute"): (import seconds, catch-up seconds, history milestones recorded or -1)."""
    config = default_config()
    async with open_store(where) as store:
        await store.sync_groups(config.groups)
        first = list(records(range(models), range(months)))
        summaries, seconds = await timed(lambda: store.import_records([(SOURCE, first)]))
        first.clear()
        assert summaries[0].first_import
        if how == "poll":
            stored, catch_up = await timed(Detector(store, config).poll)
            assert not stored, "a first import is history: no events"
            return seconds, catch_up, -1
        recorded, catch_up = await timed(lambda: catch_up_by_recompute(store, config))
        return seconds, catch_up, recorded


async def recompute_at(where: str) -> tuple[int, float, float]:
    """`full_recompute` of the store at `where`: (series, seconds, this process's peak RSS)."""
    config = default_config()
    async with open_store(where) as store:
        (series, _), seconds = await timed(lambda: full_recompute(store, config))
    return series, seconds, peak_rss_mb()


async def import_at(where: str, rows: list[SalesRecord]) -> tuple[float, float]:
    """Import `rows` into the store at `where`: (seconds, this process's peak RSS)."""
    async with open_store(where) as store:
        _, seconds = await timed(partial(store.import_records, [(SOURCE, rows)]))
    return seconds, peak_rss_mb()


def child_import(where: str, rows: list[SalesRecord]) -> tuple[float, float]:
    """`import_at`, run in a child process (as `evbot import` runs beside the bot)."""
    return asyncio.run(import_at(where, rows))


def child_build(where: str, models: int, months: int, how: str) -> tuple[float, float, int]:
    """`build`, run in a child process."""
    return asyncio.run(build(where, models, months, how))


def child_recompute(where: str) -> tuple[int, float, float]:
    """`recompute_at`, run in a child process."""
    return asyncio.run(recompute_at(where))


async def in_child(what: Callable[..., T], *args: object) -> T:
    """`what(*args)` in a fresh process (spawned: nothing of this one's memory), so that the
    peak RSS this process prints is the polling process's alone."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, what, *args)


def profiled(profile: bool) -> tuple[cProfile.Profile | None, Callable[[], str]]:
    if not profile:
        return None, lambda: ""
    prof = cProfile.Profile()

    def report() -> str:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        return out.getvalue()

    return prof, report


# the floor: what a poll must read, with the plain sqlite3 module and nothing done per row
# beyond fetching it. The journal entries since the watermark, then, for every model, make and
# the all-EVs series they name, its cells from the earliest month an entry changed on (by the
# same indexes the store reads them by): a continued series (A) needs only those, a revised one
# (B) its whole history from the revised month on, which the cells from there are.
FLOOR_SQL = (
    "SELECT seq, source_id, make_key, model_key, region, month, history FROM journal "
    "WHERE seq > :after AND seq <= :upto",
    "WITH changed AS (SELECT make_key, model_key, MIN(month) AS since FROM journal "
    "WHERE seq > :after AND seq <= :upto AND model_key != '' GROUP BY make_key, model_key) "
    "SELECT c.source_id, c.region, c.make_key, c.model_key, c.month, c.inc FROM changed j "
    "JOIN cells c ON c.make_key = j.make_key AND c.model_key = j.model_key "
    "AND c.month >= j.since",
    "WITH changed AS (SELECT make_key, MIN(month) AS since FROM journal "
    "WHERE seq > :after AND seq <= :upto GROUP BY make_key) "
    "SELECT c.source_id, c.region, c.make_key, c.month, c.inc FROM changed j "
    "JOIN make_cells c ON c.make_key = j.make_key AND c.month >= j.since",
    "SELECT source_id, region, month, inc FROM all_cells WHERE month >= "
    "(SELECT MIN(month) FROM journal WHERE seq > :after AND seq <= :upto)",
)
FLOOR_RUNS = 5  # the floor is read this many times; the best counts


def floor_read(path: str, after: int, upto: int) -> tuple[float, int]:
    """The best of FLOOR_RUNS raw reads of what the poll of journal entries `after` < seq <=
    `upto` must read: (seconds, rows)."""
    best, rows = float("inf"), 0
    db = sqlite3.connect(path)
    try:
        for _ in range(FLOOR_RUNS):
            start = time.perf_counter()
            rows = sum(
                len(db.execute(sql, {"after": after, "upto": upto}).fetchall()) for sql in FLOOR_SQL
            )
            best = min(best, time.perf_counter() - start)
    finally:
        db.close()
    return best, rows


async def one_poll(
    store: BotStore, detector: Detector, profile: bool
) -> tuple[list[object], float, int, int, str]:
    """One timed poll of the detector kept across polls, as the running bot keeps its one
    (`bot.app.runtime`): (events, seconds, statements, cell rows read, profile report)."""
    statements, read = store.stats.statements, dict(store.stats.rows_read)
    prof, report = profiled(profile)
    if prof is not None:
        prof.enable()
    stored, poll_time = await timed(detector.poll)
    if prof is not None:
        prof.disable()
    cells = sum(
        store.stats.rows_read.get(t, 0) - read.get(t, 0)
        for t in ("cells", "make_cells", "all_cells")
    )
    return list(stored), poll_time, store.stats.statements - statements, cells, report()


async def case(
    label: str,
    store: BotStore,
    detector: Detector,
    where: str,
    batches: list[list[SalesRecord]],
    profile: bool,
    target: float,
) -> dict[str, float]:
    """The polls after each batch of new rows (like work each time; the best counts), against
    the floor of each, and a full recompute after the first batch for continuity (in a child
    process: its memory is not the poll's)."""
    print(f"\n{label}: {len(batches[0]):,} new rows, best of {len(batches)} polls")
    path = store.path if isinstance(store, SqliteStore) else None
    best: dict[str, float] = {"poll": float("inf"), "floor": float("inf"), "import": float("inf")}
    for round_, new_rows in enumerate(batches):
        import_time, import_rss = await in_child(child_import, where, new_rows)
        best["import"] = min(best["import"], import_time)
        best["import_rss"] = max(best.get("import_rss", 0.0), import_rss)
        if round_ == 0:
            subjects, full_time, child_rss = await in_child(child_recompute, where)
            print(
                f"  {f'full recompute ({subjects:,} series):':<33}{full_time:8.3f} s  "
                f"(in a child process, peak RSS {child_rss:.0f} MB)"
            )
            best["full"] = full_time
        gc.collect()
        after, upto = await store.watermark(WATERMARK), await store.journal_head()
        floor = await asyncio.to_thread(floor_read, path, after, upto) if path else None
        stored, poll_time, statements, cells, report = await one_poll(store, detector, profile)
        line = (
            f"  poll {round_ + 1}: {poll_time:8.3f} s  ({len(stored):,} events, "
            f"{statements:,} statements, {cells:,} cell rows read)"
        )
        if floor is not None:
            best["floor"] = min(best["floor"], floor[0])
            line += (
                f"; floor {floor[0] * 1e3:.1f} ms ({floor[1]:,} rows), {poll_time / floor[0]:.1f}x"
            )
        print(line)
        best["poll"] = min(best["poll"], poll_time)
        if report:
            print("  profile of the incremental poll (top 15 by own time):")
            print(report)
    print(
        f"  import (best):                   {best['import']:8.3f} s  (in a child process, "
        f"peak RSS {best['import_rss']:.0f} MB)"
    )
    print(f"  incremental poll (best):         {best['poll']:8.3f} s")
    best["ratio"] = best["full"] / best["poll"] if best["poll"] > 0 else float("inf")
    print(f"  ratio full / incremental:        {best['ratio']:8.1f}x  (the old yardstick)")
    if path is not None:
        best["to_floor"] = best["poll"] / best["floor"]
        verdict = "met" if best["to_floor"] <= target else "NOT met"
        print(
            f"  floor (raw sqlite3 read, best):  {best['floor']:8.4f} s\n"
            f"  ratio poll / floor:              {best['to_floor']:8.1f}x  "
            f"(target <= {target:.0f}x: {verdict})"
        )
    return best


async def sweep(store: BotStore, detector: Detector, where: str, models: int, months: int) -> None:
    """Polls of 100, 1,000 and 10,000 changed series (the next month of as many models) on the
    store: the time per changed series is flat when a poll scales with the change."""
    print("\nsweep: the next month of N models, one poll each")
    path = store.path if isinstance(store, SqliteStore) else None
    for step, count in enumerate(n for n in (100, 1_000, 10_000) if n <= models):
        rows = list(records(range(count), range(months + step, months + step + 1)))
        await in_child(child_import, where, rows)
        gc.collect()
        after, upto = await store.watermark(WATERMARK), await store.journal_head()
        floor = await asyncio.to_thread(floor_read, path, after, upto) if path else None
        _, poll_time, _, _, _ = await one_poll(store, detector, False)
        line = (
            f"  {count:>6,} models: poll {poll_time:7.3f} s, "
            f"{poll_time / count * 1e6:7.1f} us per changed model"
        )
        if floor is not None:
            per = floor[0] / count * 1e6
            line += f"; floor {per:5.1f} us per model, {poll_time / floor[0]:.1f}x"
        print(line)


async def three_polls(path: Path, config: Config, models: int, figure: int | None) -> list[float]:
    """On a fresh store of `models` models x C_MONTHS months (history, caught up): the times of
    the poll after the next month arrives (one model's figure `figure` when given), of the
    poll after that figure is revised back to its normal value, and of the month after's."""
    async with SqliteStore(path) as store:
        await store.sync_groups(config.groups)
        await store.import_records([(SOURCE, list(records(range(models), range(C_MONTHS))))])
        await Detector(store, config).poll()
        nxt = list(records(range(models), range(C_MONTHS, C_MONTHS + 1)))
        first = nxt[0]
        if figure is not None:
            nxt[0] = SalesRecord(first.period, WORLD, first.make, first.model, figure)
        # revised on both stores (to a figure neither had), so that both polls have work
        revised = SalesRecord(first.period, WORLD, first.make, first.model, first.units + 1)
        later = list(records(range(models), range(C_MONTHS + 1, C_MONTHS + 2)))
        batches = [nxt, [revised], later]
        times = []
        for batch in batches:
            await store.import_records([(SOURCE, batch)])
            gc.collect()
            await store.journal_head()
            _, seconds = await timed(Detector(store, config).poll)
            times.append(seconds)
        return times


async def maximal_figure(config: Config, models: int) -> None:
    """Case C: the same three polls on two like stores, one of which gets a figure of the
    accepted maximum; their times side by side."""
    print(
        f"\nC. a figure of {MAX_UNITS:,} units (the accepted maximum), {models:,} models x "
        f"{C_MONTHS} months, on two like stores"
    )
    # the best of C_RUNS, alternating: one slow moment of a shared machine is not the figure's
    without, with_it = [float("inf")] * 3, [float("inf")] * 3
    for run in range(C_RUNS):
        with tempfile.TemporaryDirectory(prefix="evbot-bench-c-") as tmp:
            a = await three_polls(Path(tmp) / f"without{run}.db", config, models, None)
            b = await three_polls(Path(tmp) / f"with{run}.db", config, models, MAX_UNITS)
        without = [min(x, y) for x, y in zip(without, a, strict=True)]
        with_it = [min(x, y) for x, y in zip(with_it, b, strict=True)]
    print(
        f"  {'seconds (best of ' + str(C_RUNS) + ')':<36}{'without':>9}{'with it':>9}{'ratio':>8}"
    )
    for label, a, b in zip(
        (
            "poll after the next month:",
            "poll after revising it back:",
            "poll of the month after:",
        ),
        without,
        with_it,
        strict=True,
    ):
        print(f"  {label:<36}{a:>9.3f}{b:>9.3f}{b / a:>7.2f}x")


def catch_up_way(args: argparse.Namespace) -> str:
    """How the detector first catches up: "poll" or "recompute" (see the module docstring)."""
    how: str = args.catch_up
    if how == "auto":
        how = "poll" if args.models <= 2_000 else "recompute"
    return how


async def built_store(where: str, args: argparse.Namespace, keep: Path | None) -> None:
    """Build the store at `where` in a child process and print what it took; with `keep` (a
    SQLite store's folder) a store built before with the same arguments is copied instead."""
    models, months, how = args.models, args.months, catch_up_way(args)
    print(
        f"store: {models:,} models ({models // MODELS_PER_MAKE:,} makes) x {months} "
        f"months = {models * months:,} rows, region {WORLD}, one source"
    )
    saved = keep / f"built-{models}x{months}-{how}.sqlite3" if keep is not None else None
    if saved is not None and saved.exists():
        shutil.copyfile(saved, where)
        print(f"  built and caught up before: copied from {saved}")
        return
    build_time, catch_up, recorded = await in_child(child_build, where, models, months, how)
    print(f"  first import (history):          {build_time:8.3f} s  (in a child process)")
    if recorded < 0:
        print(f"  catch-up poll (every series):    {catch_up:8.3f} s")
    else:
        print(
            f"  catch-up by full recompute:      {catch_up:8.3f} s  "
            f"({recorded:,} history milestones; the catch-up poll itself is skipped "
            "to keep the run short: --catch-up poll forces it)"
        )
    if saved is not None:
        shutil.copyfile(where, saved)  # closed: the write-ahead log is in the file


async def measure(
    store: BotStore, config: Config, args: argparse.Namespace, where: str
) -> dict[str, float]:
    """Cases A and B (and the sweep) on the store built at `where`; returns the figures."""
    models, months = args.models, args.months
    await store.sync_groups(config.groups)
    detector = Detector(store, config)  # one, kept across the polls, as the running bot's
    # A: 10,000 new rows (scaled), the next month for as many models, in each round
    count = min(models, 10_000)
    rounds = args.rounds
    a = await case(
        f"A. next month ({FIRST_MONTH.plus(months)} on) for {count:,} models",
        store,
        detector,
        where,
        [list(records(range(count), range(months + r, months + r + 1))) for r in range(rounds)],
        args.profile,
        TARGET_A,
    )
    # B: the same number of rows, revising every month of a few models (others each round)
    few = max(1, count // months)
    b = await case(
        f"B. {months} months revised for {few:,} models",
        store,
        detector,
        where,
        [
            list(records(range(r, few * MODELS_PER_MAKE, MODELS_PER_MAKE), range(months), 3))
            for r in range(rounds)
        ],
        args.profile,
        TARGET_B,
    )
    if args.sweep:
        await sweep(store, detector, where, models, months + rounds)
    return {f"{case_}_{k}": v for case_, found in (("a", a), ("b", b)) for k, v in found.items()}


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000, help="model subjects (10,000)")
    parser.add_argument("--months", type=int, default=100, help="months per model (100)")
    parser.add_argument("--profile", action="store_true", help="profile the incremental polls")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it")
    parser.add_argument(
        "--database",
        metavar="postgresql://...",
        help="also run on PostgreSQL (a throwaway schema there) and print both",
    )
    parser.add_argument(
        "--catch-up",
        choices=("poll", "recompute", "auto"),
        default="auto",
        help="how the detector first catches up: its poll, or the full recompute's write "
        "(auto: poll up to 2,000 models)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="polls of cases A and B (3)")
    parser.add_argument(
        "--sweep", action="store_true", help="also polls of 100, 1,000 and 10,000 changed models"
    )
    parser.add_argument("--skip-c", action="store_true", help="leave case C out")
    args = parser.parse_args(argv)
    models, months = args.models, args.months
    if models < 100 or models % MODELS_PER_MAKE or months < 4 or args.rounds < 1:
        parser.error(
            f"--models must be a multiple of {MODELS_PER_MAKE}, >= 100; --months >= 4; "
            "--rounds >= 1"
        )
    config = default_config()
    with tempfile.TemporaryDirectory(prefix="evbot-bench-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "bench.sqlite3"
        for leftover in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        print("== SQLite")
        await built_store(str(path), args, Path(args.keep) if args.keep else None)
        async with SqliteStore(path) as store:
            results = {"sqlite": await measure(store, config, args, str(path))}
    if args.database:
        async with scratch_schema(args.database, "evbot_bench") as dsn:
            print("\n== PostgreSQL")
            await built_store(dsn, args, None)
            async with PgStore(dsn) as pg_store:
                results["postgresql"] = await measure(pg_store, config, args, dsn)
    if not args.skip_c:
        await maximal_figure(config, min(models, 2_000))
    lite = results["sqlite"]
    a, b = lite["a_to_floor"], lite["b_to_floor"]
    print(
        f"\nsummary: poll / floor A {a:.1f}x (target <= {TARGET_A:.0f}x: "
        f"{'met' if a <= TARGET_A else 'NOT met'}), B {b:.1f}x (target <= {TARGET_B:.0f}x: "
        f"{'met' if b <= TARGET_B else 'NOT met'}); full / incremental A "
        f"{lite['a_ratio']:.1f}x, B {lite['b_ratio']:.1f}x; peak RSS of the polling process "
        f"{peak_rss_mb():.0f} MB (the store's build, the imports and the full recomputes ran "
        "in child processes)"
    )
    if "postgresql" in results:
        lite, pg = results["sqlite"], results["postgresql"]
        print(f"\n{'seconds':<26}{'SQLite':>10}{'PostgreSQL':>12}{'PG / SQLite':>13}")
        for key, label in (
            ("a_import", "A import"),
            ("a_full", "A full recompute"),
            ("a_poll", "A incremental poll"),
            ("b_import", "B import"),
            ("b_full", "B full recompute"),
            ("b_poll", "B incremental poll"),
        ):
            print(f"{label:<26}{lite[key]:>10.3f}{pg[key]:>12.3f}{pg[key] / lite[key]:>12.2f}x")
        print(f"{'ratio full / incremental':<26}{'':>10}{'':>12}")
        for case_ in ("a", "b"):
            print(
                f"  {case_.upper():<24}{lite[case_ + '_ratio']:>9.1f}x"
                f"{pg[case_ + '_ratio']:>11.1f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
