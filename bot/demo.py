"""`evbot demo`: the Alliance's milestones arriving, month by month, in a terminal.

It takes a temporary database and feeds the shipped demo data one month at a time, on an
accelerated clock, through the real store, detector and announcer; each month's news for the
channel goes out as one grouped message. No tokens, no network.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TextIO

from bot.announcer import announce_digest, announce_group
from bot.config import Config
from bot.detector import Detector
from bot.events import Event
from bot.importer import DEMO_SOURCE, demo_data_path
from bot.ingest import ImportFailed, parse_canonical
from bot.messages import Message
from bot.periods import end_month
from bot.records import SalesRecord, SourceSpec
from bot.sqlite_store import SqliteStore

INSTANT = ("milestone", "share")  # growth and records go to digests by default
SECONDS_PER_MONTH = 0.35


class Poster(Protocol):
    """What the demo needs of an adapter."""

    async def post(self, message: Message) -> str: ...

    def say(self, text: str) -> None: ...


async def run_demo(
    config: Config,
    out: TextIO,
    speed: float = 1.0,
    db: str | None = None,
    poster: Poster | None = None,
) -> int:
    """Feed the demo data month by month and print what the bot announces; returns 0."""
    if poster is None:
        from adapters.console import ConsoleAdapter

        poster = ConsoleAdapter(out)
    parsed = await asyncio.to_thread(parse_canonical, demo_data_path(), DEMO_SOURCE)
    if parsed.problems:
        raise ImportFailed(parsed.problems)
    by_month: dict[str, list[SalesRecord]] = defaultdict(list)
    for record in parsed.records[DEMO_SOURCE]:
        by_month[str(end_month(record.period))].append(record)
    with tempfile.TemporaryDirectory(prefix="evbot-demo-") as tmp:
        path = db or str(Path(tmp) / "demo.sqlite3")
        async with SqliteStore(path) as store:
            await store.sync_groups(config.groups)
            await feed(store, config, by_month, poster, speed)
    return 0


async def feed(
    store: SqliteStore,
    config: Config,
    by_month: dict[str, list[SalesRecord]],
    poster: Poster,
    speed: float = 1.0,
) -> list[Event]:
    """Import each month as its own import, poll the detector after each, post the news."""
    detector = Detector(store, config)
    spec = SourceSpec(DEMO_SOURCE)
    posted: list[Event] = []
    year_events: list[Event] = []
    months = sorted(by_month)
    poster.say(
        f"EV Milestone Bot demo: {len(months)} months of Renault-Nissan Alliance sales, "
        f"{months[0]} to {months[-1]}, one month every {SECONDS_PER_MONTH / speed:.2f} s"
    )
    for month in months:
        await store.import_records([(spec, by_month[month])], file=f"demo {month}")
        stored = await detector.poll()
        events = [s.event for s in stored]
        instant = [e for e in events if e.kind in INSTANT]
        year_events.extend(e for e in events if e.kind not in INSTANT)
        if instant:
            await poster.post(announce_group(instant, config.locale))
            posted.extend(instant)
        if month.endswith("-12") and year_events:
            await poster.post(_digest(year_events, config.locale, month[:4]))
            year_events = []
        if speed > 0:
            await asyncio.sleep(SECONDS_PER_MONTH / speed)
    poster.say(
        f"Demo done: {sum(1 for e in posted if e.kind == 'milestone')} milestone "
        f"announcements, {sum(1 for e in posted if e.kind == 'share')} share changes."
    )
    return posted


def _digest(events: Sequence[Event], locale: str, year: str) -> Message:
    # one digest a year keeps the demo readable; a subject's latest figure replaces its earlier
    latest: dict[tuple[str, str, str], Event] = {}
    for event in sorted(events, key=lambda e: str(e.period)):
        latest[(event.kind, event.subject.key, event.region)] = event
    return announce_digest(list(latest.values()), locale, f"year {year}")
