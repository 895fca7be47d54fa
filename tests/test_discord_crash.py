"""The crash test against the fake Discord: the bot is SIGKILLed at random moments while it delivers
a 1,000-channel fan-out through the real discord.py.

Twice: with the fake's message history echoing nonces, so reconciliation finds what a killed run
posted; and without (as Discord's history, which shows nonces only to the sender at once), so
a re-post under the same nonce is what Discord deduplicates (`enforce_nonce`).

The fake Discord is served by the test on 127.0.0.1; the bot is `tests/crash_runner_discord.py`,
a separate process running the real `DeliveryWorker` and `DiscordAdapter`. It is killed 4-6 times
(seeded) while posts are under way, started again each time (each start reconciles what was left
in flight by looking for the delivery's nonce in the channel's recent messages), then left to
finish.

In the end every delivery is posted, every channel holds exactly one message (none lost, no
duplicate), the ids recorded are Discord's, and the creates that Discord answered with an
earlier message (the `enforce_nonce` dedup of re-posts of in-flight keys) are reported and
bounded by kills x concurrency.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.delivery import Channel
from bot.outbox import DeliveryWorker
from bot.sqlite_store import SqliteStore
from tests.crash_runner_discord import prepare
from tests.fake_discord import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tests" / "crash_runner_discord.py"
CHANNELS = 1_000
SEED = 20_251_125
CONCURRENCY = inspect.signature(DeliveryWorker).parameters["concurrency"].default
ENV = os.environ | {"PYTHONPATH": str(ROOT), "DISCORD_TOKEN": TOKEN}


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=10) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
    conn.close()
    return {str(status): int(n) for status, n in rows}


async def start(db: Path, fake: FakeDiscord) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(RUNNER),
        "--db",
        str(db),
        "--api-base",
        fake.api_base,
        "--concurrency",
        str(CONCURRENCY),
        cwd=ROOT,
        env=ENV,
        stdout=asyncio.subprocess.DEVNULL,
    )


@pytest.mark.parametrize("echo_nonce", [True, False], ids=["history-has-nonce", "enforce-only"])
async def test_sigkill_at_random_moments_loses_nothing_and_posts_no_duplicate(
    tmp_path: Path, echo_nonce: bool
) -> None:
    rng = random.Random(f"{SEED}-{echo_nonce}")
    db = tmp_path / "bot.sqlite3"
    ids = [CHANNEL_ID + i for i in range(CHANNELS)]
    channels = [Channel("discord", str(GUILD_ID), str(c)) for c in ids]
    async with SqliteStore(db) as store:
        await prepare(store, channels)
    assert await asyncio.to_thread(counts, db) == {"pending": CHANNELS}

    kills: list[tuple[int, int]] = []  # (messages Discord had, deliveries left in flight)
    async with FakeDiscord(guilds={GUILD_ID: ids}) as fake:
        fake.echo_nonce = echo_nonce
        bot = None
        try:
            for _ in range(rng.randint(4, 6)):
                before = len(fake.messages())
                bot = await start(db, fake)
                wanted = min(before + rng.randint(30, 120), CHANNELS - 1)
                progress = asyncio.create_task(fake.wait_messages(wanted, within=60))
                exited = asyncio.create_task(bot.wait())
                done, _ = await asyncio.wait(
                    {progress, exited}, return_when=asyncio.FIRST_COMPLETED
                )
                assert progress in done, f"the bot exited early with {bot.returncode}"
                exited.cancel()
                progress.result()  # the bot made progress in time
                await asyncio.sleep(rng.uniform(0.0, 0.03))  # a random moment mid-posting
                bot.kill()
                await asyncio.wait_for(bot.wait(), 20)
                bot = None
                left = (await asyncio.to_thread(counts, db)).get("inflight", 0)
                kills.append((len(fake.messages()), left))

            bot = await start(db, fake)
            assert await asyncio.wait_for(bot.wait(), 120) == 0
            bot = None
        finally:
            if bot is not None and bot.returncode is None:
                bot.kill()
                await bot.wait()

        messages = {cid: fake.messages(cid) for cid in map(str, ids)}
        duplicates = sum(fake.duplicates.values())
        creates = len(fake.requests_to("POST", "/messages"))

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT channel, status, message_id FROM deliveries").fetchall()
    conn.close()
    print(
        f"\ndiscord ({'history has nonces' if echo_nonce else 'enforce_nonce only'}): "
        f"{len(kills)} kills at {[k[0] for k in kills]} messages, leaving "
        f"{[k[1] for k in kills]} in flight; {creates} creates, "
        f"{sum(len(m) for m in messages.values())} messages, {duplicates} re-posts answered "
        "with the first message (enforce_nonce)"
    )

    assert {status for _, status, _ in rows} == {"posted"}  # every delivery posted
    assert len(rows) == CHANNELS
    assert all(len(found) == 1 for found in messages.values())  # one each: none lost, no dup
    for channel, _, message_id in rows:  # the ids recorded are Discord's
        assert message_id == messages[channel][0].payload["id"]
    assert sum(left for _, left in kills) > 0  # the kills did land mid-delivery
    # a re-post is of a key that was in flight at a kill and not found by reconciliation
    assert duplicates <= len(kills) * CONCURRENCY
    assert creates == CHANNELS + duplicates
    if echo_nonce:  # reconciliation found every in-flight message that Discord had
        assert duplicates == 0
