"""The bot as a separate process for the platform-webhook crash test: deliver an outbox through
the Discord webhook, Slack incoming webhook and Teams adapters, built from a configuration file.

    python tests/crash_runner_hooks.py --db bot.sqlite3 --config evbot.toml

The configuration enables the platforms and names their channels (`[webhooks.NAME]`, each URL in
an environment variable); the adapters come from the registry as `evbot run` makes them. Runs
the real `DeliveryWorker.run()` until no delivery is pending or in flight, and exits 0
(`crash_runner.drain_all`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python tests/crash_runner_hooks.py`
    sys.path.insert(0, str(ROOT))

from adapters import registry
from bot.config.load import load_config
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import drain_all


async def deliver(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    adapters = {
        name: registry.factory(name)(platform)
        for name, platform in config.platforms.items()
        if platform.enabled
    }
    store = SqliteStore(args.db)
    await store.open()
    return await drain_all(store, adapters, args.concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deliver an outbox through platform webhooks")
    parser.add_argument("--db", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    return asyncio.run(deliver(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
