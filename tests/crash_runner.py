"""The bot as a separate process for the crash test: deliver an outbox through the webhook adapter.

    python tests/crash_runner.py --db bot.sqlite3 [--rate 2000] [--concurrency 8]

opens the store, runs the real `DeliveryWorker.run()` with the real `WebhookAdapter` until no
delivery is pending or in flight, and exits 0. The crash test SIGKILLs it at random moments and
starts it again; each start reconciles what the last one left in flight before posting anything.

`prepare()` builds such an outbox (also used by `bench/fanout.py`): webhook subscriptions to the
Nissan Leaf, one import that is history, then one that crosses a threshold, so that the detector's
poll fans the milestone out into one delivery per channel, in the transaction that records it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python tests/crash_runner.py`
    sys.path.insert(0, str(ROOT))

from adapters.webhook import WebhookAdapter
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.events import Subject
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec, ladder_objects
from bot.store.sqlite.sales import SqliteStore

LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
SOURCE = SourceSpec("feed")
# cumulative totals: 1,200 (history: the source's first import), then each next one crosses a
# rung of the default ladder (2,500, 5,000, 10,000, ...): one news event per round
TOTALS = (1_200, 2_700, 5_200, 10_200, 25_200, 50_200, 75_200, 100_200, 150_200, 200_200)


def leaf(month: int, units: int) -> SalesRecord:
    return SalesRecord(f"2020-{month:02d}", "World", "Nissan", "Leaf", units)


class Feed:
    """A source of Leaf figures whose every import (after the first) crosses a new rung."""

    def __init__(self, store: SqliteStore, detector: Detector) -> None:
        self.store = store
        self.detector = detector
        self.step = 0

    async def history(self) -> None:
        """The source's first import: recorded as history, nothing is announced."""
        await self.store.import_records([(SOURCE, [leaf(1, 600), leaf(2, 600)])])
        await self.detector.poll()

    async def news(self) -> int:
        """Import the next month, crossing the next rung: one delivery per subscribed channel.
        Returns how many events the poll recorded."""
        self.step += 1
        if self.step >= len(TOTALS):
            raise ValueError("no more rungs to cross in this helper")
        units = TOTALS[self.step] - TOTALS[self.step - 1]
        await self.store.import_records([(SOURCE, [leaf(2 + self.step, units)])])
        return len(await self.detector.poll())


async def prepare(
    store: SqliteStore,
    urls: Sequence[str],
    *,
    rounds: int = 1,
    clock: Callable[[], float] = time.time,
) -> Feed:
    """Subscribe each URL to the Leaf and fan `rounds` milestones out (one delivery per URL
    each). Returns the feed, for more rounds with `feed.news()`."""
    config = default_config()
    await store.sync_groups(config.groups)
    for url in urls:
        await store.subscribe(SubscriptionSpec(Channel("webhook", "default", url), LEAF))
    feed = Feed(store, Detector(store, config, clock=clock))
    await feed.history()
    for _ in range(rounds):
        await feed.news()
    return feed


async def deliver(args: argparse.Namespace) -> int:
    store = SqliteStore(args.db)
    await store.open()
    adapter = WebhookAdapter(
        rate_per_second=args.rate,
        channel_rate_per_second=args.channel_rate,
        timeout=args.timeout,
    )
    return await drain(store, "webhook", adapter, args.concurrency)


async def drain(store: SqliteStore, platform: str, adapter: Any, concurrency: int) -> int:
    """Run the real delivery worker with `adapter` until nothing is pending or in flight, then
    close both and print what it did (the crash tests read the line). Returns exit status 0."""
    return await drain_all(store, {platform: adapter}, concurrency)


async def drain_all(store: SqliteStore, adapters: Mapping[str, Any], concurrency: int) -> int:
    """`drain` with several platforms' adapters at once (by platform)."""
    worker = DeliveryWorker(
        store,
        adapters,
        ladder_objects(default_config().ladders),
        concurrency=concurrency,
    )
    stop = asyncio.Event()

    async def until_done() -> None:
        while True:
            counts = await store.delivery_counts()
            if counts["pending"] == 0 and counts["inflight"] == 0:
                stop.set()
                return
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(until_done())
    try:
        await worker.run(stop)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for adapter in adapters.values():
            await adapter.close()
        counts = await store.delivery_counts()
        await store.close()
    print(
        f"posted {worker.stats.posted} retried {worker.stats.retried} "
        f"failed {worker.stats.failed} reconciled {worker.stats.reconciled}; outbox {counts}",
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deliver an outbox through the webhook adapter")
    parser.add_argument("--db", required=True)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests a second, in all")
    parser.add_argument("--channel-rate", type=float, default=5.0, help="requests a second each")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds for one request")
    return asyncio.run(deliver(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
