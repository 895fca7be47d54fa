"""Soak: the platform fault mix of the hostile suite, at size, for a set time; and optionally a
huge import in constant memory.

Runs twice in the same process, the same size both times: a baseline on a well-behaved fake
platform, then with faults (429 storms, global and per channel; 5xx bursts; answers slower than
the client's timeout; the receiver going down and coming back), repeated for at least
`--seconds`, while commands arrive through `bot.commands.dispatch.run_text`. Prints for each run

  deliveries (posted, failed), deliveries lost (must be 0), extra messages (must be 0),
  duplicates on the wire (a key sent again after a timeout; the platform deduplicates),
  commands answered within the deadline (fraction; median and p95 latency), faults injected,
  the platform's answers, and peak memory,

then the ratios faults/baseline of the run's seconds and of the commands' p95 latency, and
whether the targets are met (nothing lost or extra, no command raised, every command within its
deadline). `--import-gb N` also generates an N GB canonical CSV, imports it in a child process
and prints the child's peak memory against a 50 MB import's (constant memory: about the same).

    python bench/soak.py                         # 10,000 deliveries, 1,000 commands, >= 60 s
    python bench/soak.py --deliveries 2000 --commands 200 --seconds 10
    python bench/soak.py --import-gb 2 --deliveries 0

Measured here (2 cores): see the README's "What the hostile suite proves".
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/soak.py` from a checkout
    sys.path.insert(0, str(ROOT))

import bot.delivery.worker
from tests.hostile.chaos import MAX_ROUNDS, Plan, Result, main_result_lines, run
from tests.hostile.test_memory import import_in_child, write_csv


def _plan(args: argparse.Namespace, faults: bool) -> Plan:
    rounds = MAX_ROUNDS
    return Plan(
        channels=math.ceil(args.deliveries / rounds),
        rounds=rounds,
        commands=args.commands,
        deadline=args.deadline,
        client_timeout=args.client_timeout,
        rate=args.rate,
        storm=args.storm,
        cycles=1,
        min_seconds=args.seconds if faults else 0.0,
        give_up_seconds=args.give_up,
        faults=faults,
    )


async def _soak(args: argparse.Namespace) -> bool:
    results: dict[str, tuple[Plan, Result]] = {}
    for name, faults in (("baseline (no faults)", False), ("fault mix", True)):
        plan = _plan(args, faults)
        with tempfile.TemporaryDirectory(prefix="evbot-soak-") as tmp:
            result = await run(Path(tmp), plan)
        results[name] = (plan, result)
        print(f"-- {name}: {plan.channels:,} channels x {plan.rounds} fan-outs")
        for line in main_result_lines(result, plan):
            print(f"   {line}")
    (_, clean), (plan, hostile) = results.values()
    ratio_seconds = hostile.seconds / clean.seconds if clean.seconds else float("nan")
    p95_clean = clean.latency(0.95)
    ratio_p95 = hostile.latency(0.95) / p95_clean if p95_clean else float("nan")
    print(f"ratio faults/baseline: seconds {ratio_seconds:.2f}, command p95 {ratio_p95:.2f}")
    met = (
        hostile.lost == 0
        and hostile.extra == 0
        and hostile.failed == 0
        and not hostile.command_errors
        and hostile.deadline_fraction == 1.0
        and hostile.posted == hostile.deliveries
    )
    print(
        "target (0 lost, 0 extra, 0 failed, every command answered within "
        f"{plan.deadline:g} s): {'met' if met else 'NOT met'}"
    )
    for error in hostile.command_errors[:5]:
        print(f"   command error: {error}")
    return met


def _import(args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory(prefix="evbot-soak-import-") as tmp:
        folder = Path(tmp)
        peaks = {}
        for label, megabytes in (
            ("50 MB", 50.0),
            (f"{args.import_gb:g} GB", args.import_gb * 1000),
        ):
            csv = folder / f"{label.replace(' ', '')}.csv"
            began = time.perf_counter()
            rows = write_csv(csv, megabytes)
            written = time.perf_counter() - began
            records, peak = import_in_child(folder, csv)
            seconds = time.perf_counter() - began - written
            peaks[label] = peak
            print(
                f"import {label}: {rows:,} rows, {records:,} records in {seconds:.0f} s "
                f"({rows / seconds:,.0f} rows/s); peak memory {peak:.0f} MB"
            )
            csv.unlink()
        small, big = peaks.values()
        print(f"ratio peak memory {args.import_gb:g} GB / 50 MB: {big / small:.2f}")
        met = big / small < 1.5
        print(f"target (constant memory: ratio under 1.5): {'met' if met else 'NOT met'}")
        return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--deliveries", type=int, default=10_000, help="0: no fan-out soak")
    parser.add_argument("--commands", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="keep injecting this long")
    parser.add_argument("--deadline", type=float, default=3.0, help="a command's deadline, s")
    parser.add_argument("--rate", type=float, default=400.0, help="the adapter's pace, per s")
    parser.add_argument("--client-timeout", type=float, default=0.5, help="request timeout, s")
    parser.add_argument("--storm", type=int, default=60, help="faulty answers per phase")
    parser.add_argument("--give-up", type=float, default=900.0, help="seconds to empty outbox")
    parser.add_argument(
        "--backoff-base",
        type=float,
        default=bot.delivery.worker.BACKOFF_BASE,
        help=f"first retry delay, s (production: {bot.delivery.worker.BACKOFF_BASE:g})",
    )
    parser.add_argument("--import-gb", type=float, default=0.0, help="also import N GB of CSV")
    args = parser.parse_args(argv)
    bot.delivery.worker.BACKOFF_BASE = args.backoff_base
    ok = True
    if args.deliveries > 0:
        ok = asyncio.run(_soak(args)) and ok
    if args.import_gb > 0:
        ok = _import(args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
