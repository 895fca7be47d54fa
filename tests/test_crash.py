"""The crash test: the bot is SIGKILLed at random moments while it delivers a 1,000-channel fan-out.

The fake webhook receiver runs as its own process (`tests/fake_webhook.py`, on 127.0.0.1); a
SQLite outbox holds one milestone fanned out to 1,000 webhook subscriptions (`/hook/c0000` ..
`/hook/c0999`). The bot runs as a separate process, `evbot run` with a webhook configuration
(and, as a second case, the bare worker in `tests/crash_runner.py`), and is killed with SIGKILL
4-6 times (seeded) at random moments while posts are under way, then started again, and finally
left to finish.

In the end every delivery is posted, every key reached the receiver (none lost), the receiver
holds exactly one message per delivery (it deduplicates by Idempotency-Key, so no duplicate was
delivered), and the re-posts of in-flight keys that it absorbed as duplicates are reported and
bounded by kills x concurrency.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import random
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.delivery.worker import DeliveryWorker
from bot.store.sqlite.sales import SqliteStore
from tests.crash_harness import Bot, fake_stats, outbox_counts, start_fake, stopped_at_the_end
from tests.crash_runner import prepare

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "fake_webhook.py"
RUNNER = ROOT / "tests" / "crash_runner.py"
CHANNELS = 1_000
SEED = 20_250_611
RATE = 2_000.0  # the adapter's pace: fast, so the test is
CONCURRENCY = inspect.signature(DeliveryWorker).parameters["concurrency"].default  # evbot run's
ENV = os.environ | {"PYTHONPATH": str(ROOT)}


def bot_command(runner: str, db: Path, config: Path) -> list[str]:
    if runner == "evbot-run":
        return [sys.executable, "-m", "bot", "run", "--db", str(db), "--config", str(config)]
    return [
        sys.executable,
        str(RUNNER),
        "--db",
        str(db),
        "--rate",
        str(RATE),
        "--concurrency",
        str(CONCURRENCY),
    ]


@pytest.mark.parametrize("runner", ["evbot-run", "crash-runner"])
@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_delivers_no_duplicate(
    runner: str, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{runner}")
    db = tmp_path / "bot.sqlite3"
    config = tmp_path / "evbot.toml"
    config.write_text(
        "[platforms.webhook]\n"
        "enabled = true\n"
        f"rate_per_second = {RATE}\n"
        "channel_rate_per_second = 5\n"
        "timeout = 5\n",
        encoding="utf-8",
    )
    state = tmp_path / "fake.json"
    fake, port = start_fake(FAKE, state, ENV)
    bot = Bot(bot_command(runner, db, config), ENV)
    kills: list[tuple[int, int]] = []  # (messages the fake had, deliveries left in flight)
    with stopped_at_the_end(fake, bot):

        async def build() -> list[int]:
            async with SqliteStore(db) as store:
                urls = [f"http://127.0.0.1:{port}/hook/c{i:04d}" for i in range(CHANNELS)]
                await prepare(store, urls)
                return [d.id for d in await store.deliveries(limit=10 * CHANNELS)]

        ids = asyncio.run(build())
        assert len(ids) == CHANNELS and outbox_counts(db) == {"pending": CHANNELS}

        for _ in range(rng.randint(4, 6)):
            before = fake_stats(port)["messages"]
            wanted = before + rng.randint(30, 120)
            pause = rng.uniform(0.0, 0.03)  # a random moment in the middle of posting
            bot.kill_after(lambda: fake_stats(port)["messages"], wanted, 20, pause)
            kills.append((fake_stats(port)["messages"], outbox_counts(db).get("inflight", 0)))

        bot.run_until_posted(
            db,
            CHANNELS,
            40,
            may_exit=runner == "crash-runner",
            clean_stop=runner == "evbot-run",
        )

    received = json.loads(state.read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, status, message_id, attempts FROM deliveries").fetchall()
    conn.close()
    keys = {f"evbot-delivery-{i}": (status, mid) for i, status, mid, _ in rows}
    duplicates = received["duplicates"]
    print(
        f"\n{runner}: {len(kills)} kills at {[k[0] for k in kills]} messages, leaving "
        f"{[k[1] for k in kills]} in flight; {received['requests']} requests, "
        f"{received['messages']} messages, {duplicates} duplicates absorbed by the receiver"
    )

    assert {status for status, _ in keys.values()} == {"posted"}  # every delivery posted
    assert set(received["keys"]) == set(keys)  # every key reached the fake: none lost
    assert received["messages"] == CHANNELS  # one message each: no duplicate delivered
    for key, (_, message_id) in keys.items():  # the ids recorded are the receiver's
        assert message_id == received["keys"][key]["id"]
    assert sum(left for _, left in kills) > 0  # the kills did land mid-delivery
    # a duplicate is a re-post of a key that was in flight at a kill: bounded
    assert duplicates <= len(kills) * CONCURRENCY
    assert duplicates <= sum(left for _, left in kills)
    assert received["requests"] == CHANNELS + duplicates
