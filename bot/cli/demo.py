"""`evbot demo`: the Alliance's milestones arriving, month by month, in a terminal.

It takes a temporary database and feeds the shipped demo data one month at a time, on an
accelerated clock (a scheduler job), through the real store, detector, outbox, delivery worker
and console adapter. The terminal is subscribed to the Renault-Nissan Alliance after the first
month, so it gets the "now following" baseline, then each month's news as one grouped message,
and a digest of growth and records at the end of each year. No tokens, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.app.bootstrap import build_app, build_console, open_store
from bot.cli.common import load_settings, with_locale
from bot.cli.logs import configure_logging
from bot.domain.announcer import year_label
from bot.domain.channels import Channel
from bot.domain.periods import end_month
from bot.domain.records import ImportFailed, SalesRecord, SourceSpec
from bot.domain.settings import Config
from bot.domain.subjects import Catalog
from bot.domain.subscriptions import KINDS, SubscriptionSpec
from bot.ingest.canonical import parse_canonical
from bot.ingest.importer import DEMO_SOURCE, demo_data_path
from bot.ports.chat import ChatAdapter

if TYPE_CHECKING:
    from bot.app.runtime import App

SECONDS_PER_MONTH = 0.35
DEMO_CHANNEL = Channel("console", "local", "terminal")


async def run_demo(
    config: Config,
    out: TextIO,
    speed: float = 1.0,
    db: str | None = None,
    adapter: ChatAdapter | None = None,
) -> int:
    """Feed the demo data month by month through the running bot; returns 0."""
    if adapter is None:
        adapter = build_console(out)
    parsed = await asyncio.to_thread(parse_canonical, demo_data_path(), DEMO_SOURCE)
    if parsed.problems:
        raise ImportFailed(parsed.problems)
    by_month: dict[str, list[SalesRecord]] = defaultdict(list)
    for record in parsed.records[DEMO_SOURCE]:
        by_month[str(end_month(record.period))].append(record)
    with tempfile.TemporaryDirectory(prefix="evbot-demo-") as tmp:
        store = open_store(db or str(Path(tmp) / "demo.sqlite3"))
        app = build_app(
            replace(config, poll_seconds=3600.0), store, {DEMO_CHANNEL.platform: adapter}
        )
        await app.start(poll=False)
        try:
            await feed(app, by_month, speed, out)
        finally:
            await app.stop()
    return 0


async def feed(app: App, by_month: dict[str, list[SalesRecord]], speed: float, out: TextIO) -> None:
    """Import one month per tick, poll after each, and wait until everything is delivered."""
    from apscheduler.triggers.date import DateTrigger

    from bot.delivery.following import subscribe

    months = sorted(by_month)
    spec = SourceSpec(DEMO_SOURCE)
    print(
        f"EV Milestone Bot demo: Renault-Nissan Alliance sales, {months[0]} to {months[-1]}, "
        f"one month every {SECONDS_PER_MONTH / speed if speed > 0 else 0:.2f} s",
        file=out,
    )
    # the source's first import is history: subscribing after it shows the baseline only
    await app.store.import_records([(spec, by_month[months[0]])], file=f"demo {months[0]}")
    await app.poll()
    alliance = Catalog(groups=list(app.config.groups)).resolve("Renault-Nissan Alliance")
    result = await subscribe(
        app.store,
        app.config,
        SubscriptionSpec(
            DEMO_CHANNEL,
            alliance.subject,
            kinds=KINDS,
            locale=app.config.locale,
            created_by="evbot demo",
        ),
        time.time(),
    )
    app.worker.wake()
    # the baseline is rendered when the worker claims it: out before the first month comes in
    await _delivered(app)
    pending = iter(months[1:])
    done = asyncio.Event()

    async def tick() -> None:
        month = next(pending, None)
        if month is None:
            done.set()
            return
        await app.store.import_records([(spec, by_month[month])], file=f"demo {month}")
        await app.poll()
        if month.endswith("-12"):
            label = year_label(int(month[:4]), app.config.locale)
            await app.run_digest(result.subscription.id, label)

    if speed > 0:
        interval = SECONDS_PER_MONTH / speed

        async def tick_and_again() -> None:
            # the next tick is scheduled when this one ends, so ticks never pile up; that next
            # run can fire before this one has returned (at --speed 50 it is due in 0.01 s),
            # and with one instance allowed the scheduler skipped it and the demo stalled
            await tick()
            if not done.is_set():
                app.scheduler.add_job(
                    tick_and_again,
                    DateTrigger(datetime.now(UTC) + timedelta(seconds=interval)),
                    id="demo-feed",
                    replace_existing=True,
                    max_instances=2,
                )

        app.scheduler.add_job(
            tick_and_again, DateTrigger(datetime.now(UTC)), id="demo-feed", max_instances=2
        )
        await done.wait()
    else:
        while not done.is_set():
            await tick()
    await _delivered(app)
    counts = await app.store.delivery_counts()
    print(
        f"Demo done: {counts['posted']} messages posted to the terminal "
        f"({counts['failed']} failed).",
        file=out,
    )


async def _delivered(app: App) -> None:
    """Until the worker has posted what is queued."""
    while True:
        counts = await app.store.delivery_counts()
        if counts["pending"] + counts["inflight"] == 0:
            return
        await asyncio.sleep(0.05)


async def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from bot.cli.demo import run_demo

    config = load_settings(args)
    if args.log_level is None:  # the demo is a show on stdout: its start-up lines would clutter it
        configure_logging("warning")
    status: int = await run_demo(with_locale(config, args), out, speed=args.speed, db=args.db)
    return status
