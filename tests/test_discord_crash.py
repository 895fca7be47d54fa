"""The crash tests against the fake Discord, whose history, as Discord's, shows no nonce.

1. `evbot run` (the real CLI, a subprocess) is SIGKILLed during a fan-out while Discord has
   accepted posts whose answers it holds back, so the bot never records them, and is started
   again only after the fake's nonce window has passed (Discord then creates a new message for
   a repeated nonce). Twice, then it finishes. Every channel ends with exactly one "now
   following" post and one announcement: reconciliation found each accepted post among the
   bot's own messages by the delivery's mark (the nonce alone, looked for in the history as
   before issue 16, finds nothing, and the re-posts would be duplicates).

2. `tests/crash_runner_discord.py`, a separate process running the real `DeliveryWorker` and
   `DiscordAdapter`, delivers a 1,000-channel fan-out and is killed 4-6 times (seeded) at random
   moments, started again each time: within the nonce window (Discord would deduplicate a
   re-post) and with no window at all (only reconciliation stands between a kill and a
   duplicate). In the end every delivery is posted, every channel holds exactly one message,
   the ids recorded are Discord's, and no create was a re-post of a message that existed.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from bot.delivery.following import subscribe
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_harness import outbox_counts
from tests.crash_runner import LEAF, SOURCE, Feed, leaf
from tests.crash_runner_discord import prepare
from tests.fake_discord import CHANNEL_ID, GUILD_ID, NONCE_WINDOW, TOKEN, FakeDiscord
from tests.test_discord_run import env as run_env
from tests.test_discord_run import write_config

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tests" / "crash_runner_discord.py"
CHANNELS = 1_000
SEED = 20_251_125
CONCURRENCY = inspect.signature(DeliveryWorker).parameters["concurrency"].default
RUN_CHANNELS = 12  # more than one fan-out slot's worth: posts go on after each kill
RUN_NONCE_WINDOW = 1.0  # seconds: the fake's, so that a restart can come after it
ENV = os.environ | {"PYTHONPATH": str(ROOT), "DISCORD_TOKEN": TOKEN}


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


async def evbot_run(db: Path, config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--db",
        str(db),
        "--config",
        str(config),
        cwd=ROOT,
        env=run_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.slow
async def test_evbot_run_killed_with_accepted_posts_unrecorded_posts_each_once_after_the_window(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.sqlite3"
    ids = [CHANNEL_ID + i for i in range(RUN_CHANNELS)]
    async with SqliteStore(db) as store:
        config = default_config()
        await store.sync_groups(config.groups)
        await Feed(store, Detector(store, config)).history()
        for c in ids:  # each subscription queues its "now following" post
            spec = SubscriptionSpec(Channel("discord", str(GUILD_ID), str(c)), LEAF)
            await subscribe(store, config, spec, time.time())
        # news that `evbot run` finds on its first poll: an announcement for every channel
        await store.import_records([(SOURCE, [leaf(3, 1_500)])])
    assert await asyncio.to_thread(outbox_counts, db) == {"pending": RUN_CHANNELS}

    unrecorded: list[int] = []
    async with FakeDiscord(guilds={GUILD_ID: ids}) as fake:
        fake.nonce_window = RUN_NONCE_WINDOW
        toml = write_config(
            tmp_path / "evbot.toml", fake, "channel_rate_per_second = 50\ntimeout = 120\n"
        )
        bot = None
        try:
            for _ in range(2):
                fake.hold()  # Discord creates the messages; the bot never hears back
                before = len(fake.messages())
                bot = await evbot_run(db, toml)
                await fake.wait_messages(before + CONCURRENCY, within=120)
                bot.kill()  # SIGKILL, with every post under way accepted and unrecorded
                await asyncio.wait_for(bot.wait(), 30)
                bot = None
                fake.release()
                left = await asyncio.to_thread(outbox_counts, db)
                unrecorded.append(left.get("inflight", 0))
                assert left.get("posted", 0) + left["inflight"] == len(fake.messages())
                # the restart comes after Discord has forgotten the nonces
                await asyncio.sleep(RUN_NONCE_WINDOW + 0.2)

            bot = await evbot_run(db, toml)
            for _ in range(1200):  # until everything is posted (at most 2 minutes)
                left = await asyncio.to_thread(outbox_counts, db)
                if set(left) == {"posted"} and left["posted"] == 2 * RUN_CHANNELS:
                    break
                await asyncio.sleep(0.1)
            bot.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(bot.communicate(), 60)
            assert bot.returncode == 0, err.decode()[-2000:]
            bot = None
        finally:
            if bot is not None and bot.returncode is None:
                bot.kill()
                await bot.wait()
        messages = {c: fake.messages(c) for c in ids}

    assert unrecorded == [CONCURRENCY, CONCURRENCY]  # each kill left a full fan-out slot
    assert await asyncio.to_thread(outbox_counts, db) == {"posted": 2 * RUN_CHANNELS}
    for channel, found in messages.items():  # exactly one of each, in order
        titles = [m.body["embeds"][0]["title"] for m in found]
        assert len(titles) == 2, (channel, titles)
        assert titles[0] == "Now following Nissan Leaf", (channel, titles)
        assert "Nissan Leaf" in titles[1] and "2,500" in titles[1], (channel, titles)


@pytest.mark.parametrize("window", [NONCE_WINDOW, 0.0], ids=["within-nonce-window", "no-window"])
@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_nothing_and_posts_no_duplicate(
    tmp_path: Path, window: float
) -> None:
    rng = random.Random(f"{SEED}-{window}")
    db = tmp_path / "bot.sqlite3"
    ids = [CHANNEL_ID + i for i in range(CHANNELS)]
    channels = [Channel("discord", str(GUILD_ID), str(c)) for c in ids]
    async with SqliteStore(db) as store:
        await prepare(store, channels)
    assert await asyncio.to_thread(outbox_counts, db) == {"pending": CHANNELS}

    kills: list[tuple[int, int]] = []  # (messages Discord had, deliveries left in flight)
    async with FakeDiscord(guilds={GUILD_ID: ids}) as fake:
        fake.nonce_window = window
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
                left = (await asyncio.to_thread(outbox_counts, db)).get("inflight", 0)
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
        f"\ndiscord (nonce window {window} s): "
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
    # reconciliation found every in-flight message that Discord had: no create repeated one
    assert duplicates == 0
    assert creates == CHANNELS
