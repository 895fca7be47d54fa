"""Import throughput: `evbot`'s import path against a plain `sqlite3.executemany`, same run.

Generates N canonical rows (default 1,000,000: 10,000 make/model subjects x 100 months, each
subject in one region) into a temporary CSV, then measures

  (a) baseline: read the CSV with the csv module and `executemany` the rows into a plain table
      keyed on the natural key (columns in the order of evbot's own key), in one transaction,
      in a fresh file (WAL, synchronous=NORMAL);
  (b) evbot: `bot.ingest.importer.import_file` into a fresh `SqliteStore` (parse, validate,
  de-duplicate,
      write the records, the kept aggregates and the journal).

and prints rows, seconds and rows/s for each, the ratio (b)/(a) and whether the 2x target is met.

    python bench/import.py                 # 1,000,000 rows
    python bench/import.py --rows 100000   # quicker
    python bench/import.py --rows 100000 --profile   # also cProfile (b), top 15 by cumulative
    python bench/import.py --thread        # parse in a thread, as files under 8 MB are
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import pstats
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/import.py` from a checkout
    sys.path.insert(0, str(ROOT))

from bot.domain.settings import default_config
from bot.ingest.importer import import_file
from bot.store.sqlite.sales import SqliteStore

TARGET = 2.0
MONTHS = 100
REGIONS = ("World", "USA", "China", "Norway", "Germany", "France", "Japan", "United Kingdom")
POWERTRAINS = ("BEV", "PHEV")
HEADER = ("period", "region", "make", "model", "units", "powertrain")


def generate(path: Path, rows: int, seed: int = 2024) -> int:
    """Write `rows` canonical rows: subjects x 100 months (fewer months when rows < 100)."""
    rng = random.Random(seed)
    months = min(MONTHS, rows)
    subjects = -(-rows // months)
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for s in range(subjects):
            make = f"Make {s // 50:03d}"
            model = f"Model {s:05d}"
            region = REGIONS[s % len(REGIONS)]
            powertrain = POWERTRAINS[s % 2]
            batch = []
            for m in range(months):
                if written == rows:
                    break
                year, month = divmod(m, 12)
                batch.append(
                    (
                        f"{2010 + year:04d}-{month + 1:02d}",
                        region,
                        make,
                        model,
                        rng.randrange(0, 5000),
                        powertrain,
                    )
                )
                written += 1
            writer.writerows(batch)
    return written


def baseline(csv_path: Path, db_path: Path) -> float:
    """(a): csv module + one executemany into a plain keyed table, one transaction."""
    start = time.perf_counter()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    # The key's columns in the order evbot's own `records` key uses (subject, then period): the
    # file is sorted that way, so both append to their B-trees. Keyed period-first, the same
    # rows insert all over the tree and the baseline is about 2.5 times slower.
    db.execute(
        "CREATE TABLE sales (source TEXT NOT NULL, period TEXT NOT NULL, region TEXT NOT NULL, "
        "make TEXT NOT NULL, model TEXT NOT NULL, powertrain TEXT NOT NULL, "
        "units INTEGER NOT NULL, "
        "PRIMARY KEY (source, make, model, region, period, powertrain)) WITHOUT ROWID"
    )
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO sales VALUES ('bench', ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET units = excluded.units",
            ((p, r, mk, md, pt, int(u)) for p, r, mk, md, u, pt in reader),
        )
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


async def _evbot(csv_path: Path, db_path: Path, processes: bool | None = None) -> int:
    async with SqliteStore(db_path) as store:
        report = await import_file(
            store, default_config(), csv_path, source="bench", processes=processes
        )
        return sum(s.records for s in report.summaries)


def evbot(csv_path: Path, db_path: Path, processes: bool | None = None) -> tuple[float, int]:
    """(b): the evbot import path; returns seconds and figures written."""
    start = time.perf_counter()
    records = asyncio.run(_evbot(csv_path, db_path, processes))
    return time.perf_counter() - start, records


def profile(csv_path: Path, db_path: Path) -> str:
    """Run (b) again under cProfile in every thread (the work runs in aiosqlite's thread and
    `asyncio.to_thread`), and time each SQL statement; returns both reports."""
    profilers: list[cProfile.Profile] = []

    def start_thread_profiler(*_: object) -> None:
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    sql_seconds: dict[str, float] = defaultdict(float)
    names = ("_run", "_rows", "_many")  # the store's three ways of running SQL
    originals = {name: getattr(SqliteStore, name) for name in names}
    own = {name for name in names if name in vars(SqliteStore)}

    def timed(original: Any) -> Any:
        async def wrapper(self: SqliteStore, sql: str, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(self, sql, *args, **kwargs)
            finally:
                sql_seconds[" ".join(sql.split())[:90]] += time.perf_counter() - began

        return wrapper

    main_profiler = cProfile.Profile()
    profilers.append(main_profiler)
    threading.setprofile(start_thread_profiler)
    for name, original in originals.items():
        setattr(SqliteStore, name, timed(original))
    try:
        main_profiler.enable()
        asyncio.run(_evbot(csv_path, db_path))
        main_profiler.disable()
    finally:
        threading.setprofile(None)
        for name, original in originals.items():
            if name in own:
                setattr(SqliteStore, name, original)
            else:
                delattr(SqliteStore, name)  # inherited: uncover the base class's again
    out = io.StringIO()
    stats = pstats.Stats(profilers[0], stream=out)
    for other in profilers[1:]:
        stats.add(other)
    # only our code and the sqlite3 calls: the threads' idle waits would top the list otherwise
    stats.sort_stats("cumulative").print_stats(r"/bot/|sqlite3\.|_csv", 15)
    out.write("SQL statements by time (awaited wall time, all calls):\n")
    for sql, seconds in sorted(sql_seconds.items(), key=lambda kv: -kv[1])[:10]:
        out.write(f"  {seconds:8.2f} s  {sql}\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate")
    parser.add_argument("--profile", action="store_true", help="cProfile the evbot import")
    parser.add_argument(
        "--thread",
        action="store_true",
        help="parse in a thread, as files under 8 MB are, instead of in a process of its own",
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    with tempfile.TemporaryDirectory(prefix="evbot-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "bench.csv"
        rows = generate(csv_path, args.rows)
        size = csv_path.stat().st_size
        print(f"generated {rows:,} canonical rows ({size / 1e6:.1f} MB)")
        base = baseline(csv_path, folder / "baseline.sqlite3")
        ours, records = evbot(csv_path, folder / "evbot.sqlite3", False if args.thread else None)
        if records != rows:
            print(f"error: evbot wrote {records:,} figures for {rows:,} rows", file=sys.stderr)
            return 1
        for name, seconds in (("baseline sqlite3.executemany", base), ("evbot import", ours)):
            print(f"{name:<30} {rows:>10,} rows {seconds:8.2f} s {rows / seconds:>12,.0f} rows/s")
        ratio = ours / base
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"ratio evbot/baseline: {ratio:.2f}x (target <= {TARGET:.0f}x: {verdict})")
        if args.profile:
            print(profile(csv_path, folder / "profiled.sqlite3"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
