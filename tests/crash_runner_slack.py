"""The bot as a separate process for the Slack crash test: deliver an outbox to the fake Slack.

    python tests/crash_runner_slack.py --db bot.sqlite3 --api http://127.0.0.1:PORT/api/

opens the store, runs the real `DeliveryWorker.run()` with the real `SlackAdapter` (slack_sdk
against the fake Slack) until no delivery is pending or in flight, and exits 0. Each start
reconciles what the last one left in flight, through `conversations.history` metadata.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python tests/crash_runner_slack.py`
    sys.path.insert(0, str(ROOT))

from adapters.slack.adapter import SlackAdapter
from adapters.slack.settings import SlackSettings
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import drain

BOT_TOKEN = "xoxb-T0001-crash"


async def deliver(args: argparse.Namespace) -> int:
    store = SqliteStore(args.db)
    await store.open()
    adapter = SlackAdapter(
        SlackSettings(
            mode="socket",
            api_base_url=args.api,
            bot_token=BOT_TOKEN,
            app_token="xapp-unused",
            rate_per_second=args.rate,
            channel_rate_per_second=args.channel_rate,
        )
    )
    return await drain(store, "slack", adapter, args.concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deliver an outbox to a (fake) Slack")
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True, help="the Web API base URL")
    parser.add_argument("--rate", type=float, default=2000.0, help="posts a second, in all")
    parser.add_argument("--channel-rate", type=float, default=5.0, help="posts a second each")
    parser.add_argument("--concurrency", type=int, default=8)
    return asyncio.run(deliver(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
