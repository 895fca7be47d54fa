"""The bot as a separate process for the Discord crash test: deliver an outbox to the fake Discord.

    DISCORD_TOKEN=... python tests/crash_runner_discord.py --db bot.sqlite3 --api-base URL

opens the store, runs the real `DeliveryWorker.run()` with the real `DiscordAdapter` (real
discord.py over REST, pointed at `--api-base`) until no delivery is pending or in flight, and
exits 0. The crash test SIGKILLs it at random moments and starts it again; each start reconciles
what the last one left in flight (the bot's own messages created since, compared on the
delivery's mark in the embed footer) before posting.

`prepare()` builds such an outbox: Discord channels subscribed to the Nissan Leaf, one import that
is history, then one that crosses a threshold, fanned out into one delivery per channel.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python tests/crash_runner_discord.py`
    sys.path.insert(0, str(ROOT))

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.settings import DiscordSettings
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed, drain


async def prepare(store: SqliteStore, channels: Sequence[Channel], *, rounds: int = 1) -> Feed:
    """Subscribe each channel to the Leaf and fan `rounds` milestones out to them."""
    config = default_config()
    await store.sync_groups(config.groups)
    for channel in channels:
        await store.subscribe(SubscriptionSpec(channel, LEAF))
    feed = Feed(store, Detector(store, config))
    await feed.history()
    for _ in range(rounds):
        await feed.news()
    return feed


async def deliver(args: argparse.Namespace) -> int:
    store = SqliteStore(args.db)
    await store.open()
    adapter = DiscordAdapter(
        token=os.environ["DISCORD_TOKEN"],
        settings=DiscordSettings(
            api_base=args.api_base,
            rate_per_second=args.rate,
            channel_rate_per_second=args.channel_rate,
            timeout=args.timeout,
        ),
    )
    return await drain(store, "discord", adapter, args.concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deliver an outbox through the Discord adapter")
    parser.add_argument("--db", required=True)
    parser.add_argument("--api-base", required=True, help="the fake Discord's REST base URL")
    parser.add_argument("--rate", type=float, default=2000.0, help="requests a second, in all")
    parser.add_argument("--channel-rate", type=float, default=5.0, help="creates a second each")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds for one post")
    return asyncio.run(deliver(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
