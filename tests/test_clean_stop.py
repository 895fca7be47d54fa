"""Clean stops: `evbot run` sent SIGTERM in the middle of a fan-out to 30 channels stops taking
work, puts what it claimed but had not started back in the queue, lets the posts under way
finish (or, at the deadline, leaves them to the next start's reconciliation), closes its
connections and exits 0 within `[delivery] stop_grace_seconds` (plus 2 s for the interpreter's
own exit). Started again after the platform's nonce window, it ends with exactly one message in
every channel.

- Slack answers each post late (created at once): the posts under way when SIGTERM comes finish,
  the ones waiting for their turn under the pace go back to pending, nothing is left in flight.
- Discord creates each post but answers none until released: the posts under way cannot finish,
  the stop's one deadline ends them, and the restart finds them by their mark in the history.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_harness import outbox_counts
from tests.crash_runner import LEAF, Feed
from tests.fake_discord import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord
from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = 30
GRACE = 3.0  # the configured stop deadline
EXIT_SLACK = 2.0  # the interpreter's own exit after the app has stopped
NONCE_WINDOW = 1.0
SLACK_BOT = "xoxb-T0001-stop"

pytestmark = pytest.mark.slow


async def fan_out(db: Path, channels: list[Channel]) -> None:
    config = default_config()
    async with SqliteStore(db) as store:
        await store.sync_groups(config.groups)
        for channel in channels:
            await store.subscribe(SubscriptionSpec(channel, LEAF))
        feed = Feed(store, Detector(store, config))
        await feed.history()
        await feed.news()
    assert await asyncio.to_thread(outbox_counts, db) == {"pending": len(channels)}


def environment() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("EVBOT_")}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": TOKEN,
        "STOP_SLACK_BOT": SLACK_BOT,
        "STOP_SLACK_SIGNING": "stop-signing-secret",
    }


async def evbot_run(db: Path, config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "run", "--db", str(db), "--config", str(config)),
        cwd=ROOT,
        env=environment(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def terminate(bot: asyncio.subprocess.Process) -> float:
    """SIGTERM, then the seconds until the bot exited; it must exit 0."""
    sent = time.monotonic()
    bot.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(bot.communicate(), 60)
    took = time.monotonic() - sent
    assert bot.returncode == 0, err.decode()[-3000:]
    return took


async def until_all_posted(db: Path, total: int) -> None:
    for _ in range(1200):  # polled: another process writes the outbox (at most 2 minutes)
        left = await asyncio.to_thread(outbox_counts, db)
        if left == {"posted": total}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all posted: {left}")


def delivery_ids_in_flight(db: Path) -> int:
    with sqlite3.connect(db) as con:
        (n,) = con.execute("SELECT count(*) FROM deliveries WHERE status = 'inflight'").fetchone()
    con.close()
    return int(n)


async def test_sigterm_mid_fan_out_on_slack_finishes_posts_under_way_and_requeues_the_rest(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.sqlite3"
    channels = [Channel("slack", "T0001", f"C{i:05d}") for i in range(CHANNELS)]
    await fan_out(db, channels)
    async with FakeSlack(slow={"chat.postMessage": 0.4}) as fake:
        config = tmp_path / "evbot.toml"
        config.write_text(
            '[platforms.slack]\nenabled = true\nmode = "http"\nhost = "127.0.0.1"\n'
            f'port = 0\napi_base_url = "{fake.api_url}"\n'
            # slow enough that posts wait for their turn under the pace when SIGTERM comes
            "rate_per_second = 8\nchannel_rate_per_second = 5\n"
            'bot_token_env = "STOP_SLACK_BOT"\nsigning_secret_env = "STOP_SLACK_SIGNING"\n'
            f"[delivery]\nstop_grace_seconds = {GRACE}\n",
            encoding="utf-8",
        )
        bot = await evbot_run(db, config)
        try:
            await fake.wait_for(lambda: len(fake.messages) >= 8, 60)
            took = await terminate(bot)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        assert took <= GRACE + EXIT_SLACK
        left = await asyncio.to_thread(outbox_counts, db)
        # stopped mid fan-out: nothing in flight, what was posted is recorded, the rest waits
        assert "inflight" not in left, left
        assert left["posted"] == len(fake.messages) and 0 < left["posted"] < CHANNELS, left

        bot = await evbot_run(db, config)
        try:
            await until_all_posted(db, CHANNELS)
            await terminate(bot)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        per_channel = Counter(m.channel for m in fake.messages)
    assert per_channel == {c.channel: 1 for c in channels}


async def test_sigterm_with_discord_holding_every_answer_stops_within_the_deadline(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.sqlite3"
    ids = [CHANNEL_ID + i for i in range(CHANNELS)]
    await fan_out(db, [Channel("discord", str(GUILD_ID), str(c)) for c in ids])
    async with FakeDiscord(guilds={GUILD_ID: ids}) as fake:
        fake.nonce_window = NONCE_WINDOW
        config = tmp_path / "evbot.toml"
        config.write_text(
            "[platforms.discord]\nenabled = true\n"
            f'api_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            "channel_rate_per_second = 50\ntimeout = 120\n"
            f"[delivery]\nstop_grace_seconds = {GRACE}\n",
            encoding="utf-8",
        )
        fake.hold()  # Discord creates the messages; the bot never hears back
        bot = await evbot_run(db, config)
        try:
            await fake.wait_messages(8, within=60)
            took = await terminate(bot)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        assert GRACE * 0.5 <= took <= GRACE + EXIT_SLACK  # the deadline, not a post, ended it
        created = len(fake.messages())
        assert await asyncio.to_thread(delivery_ids_in_flight, db) == created  # left in flight
        fake.release()
        await asyncio.sleep(NONCE_WINDOW + 0.2)  # Discord has forgotten the nonces

        bot = await evbot_run(db, config)
        try:
            await until_all_posted(db, CHANNELS)
            await terminate(bot)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        messages = {c: fake.messages(c) for c in ids}
    assert all(len(found) == 1 for found in messages.values()), {
        c: len(m) for c, m in messages.items() if len(m) != 1
    }
