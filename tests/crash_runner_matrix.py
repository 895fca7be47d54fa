"""The bot as a separate process for the Matrix crash test: deliver an outbox to the fake
homeserver.

    python tests/crash_runner_matrix.py --db bot.sqlite3 --homeserver http://127.0.0.1:PORT

opens the store, runs the real `DeliveryWorker.run()` with the real `MatrixAdapter` (matrix-nio
against the fake) until no delivery is pending or in flight, and exits 0. Each start reconciles
what the last one left in flight, through the rooms' `/messages`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python tests/crash_runner_matrix.py`
    sys.path.insert(0, str(ROOT))

from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.settings import MatrixSettings
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import drain
from tests.fake_matrix import BOT_TOKEN


async def deliver(args: argparse.Namespace) -> int:
    store = SqliteStore(args.db)
    await store.open()
    adapter = MatrixAdapter(
        MatrixSettings(
            homeserver=args.homeserver,
            access_token=BOT_TOKEN,
            rate_per_second=args.rate,
            channel_rate_per_second=args.channel_rate,
        )
    )
    return await drain(store, "matrix", adapter, args.concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="deliver an outbox to a (fake) homeserver")
    parser.add_argument("--db", required=True)
    parser.add_argument("--homeserver", required=True, help="the client-server API's base URL")
    parser.add_argument("--rate", type=float, default=2000.0, help="posts a second, in all")
    parser.add_argument("--channel-rate", type=float, default=5.0, help="posts a second each")
    parser.add_argument("--concurrency", type=int, default=8)
    return asyncio.run(deliver(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
