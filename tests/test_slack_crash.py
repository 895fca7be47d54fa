"""The outbox crash test against the fake Slack: SIGKILL the bot at random moments while it posts
a 1,000-channel fan-out, start it again, and check that every delivery was posted exactly once.

Unlike the webhook receiver, Slack does not deduplicate: a second `chat.postMessage` is a second
message. What keeps duplicates at zero is the reconciliation on start: each delivery left in
flight is looked up in the channel's `conversations.history` by the key in its message metadata,
and marked posted when found instead of being posted again.

The fake Slack runs as its own process (`tests/fake_slack.py`); the bot runs as `evbot run` with
a Slack configuration (HTTP mode, its Web API pointed at the fake) and, as a second case, as the
bare worker in `tests/crash_runner_slack.py`.

The second test does the same to a fan-out with charts, killing the bot between a post and the
upload of its chart into the post's thread (and between the upload and its record): every
channel must end with one announcement and one chart, with alt text, in its thread.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import random
import sqlite3
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_harness import Bot, fake_stats, outbox_counts, start_fake, stopped_at_the_end
from tests.crash_runner import LEAF, Feed

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "fake_slack.py"
RUNNER = ROOT / "tests" / "crash_runner_slack.py"
CHANNELS = 1_000
SEED = 20_261_125
RATE = 2_000.0
CONCURRENCY = inspect.signature(DeliveryWorker).parameters["concurrency"].default
ENV = os.environ | {
    "PYTHONPATH": str(ROOT),
    "CRASH_SLACK_BOT": "xoxb-T0001-crash",
    "CRASH_SLACK_SIGNING": "crash-signing-secret",
}


def bot_command(runner: str, db: Path, config: Path, api: str) -> list[str]:
    if runner == "evbot-run":
        return [sys.executable, "-m", "bot", "run", "--db", str(db), "--config", str(config)]
    return [
        sys.executable,
        str(RUNNER),
        "--db",
        str(db),
        "--api",
        api,
        "--rate",
        str(RATE),
        "--concurrency",
        str(CONCURRENCY),
    ]


def write_config(path: Path, api: str) -> Path:
    """`evbot run`'s configuration: Slack in HTTP mode, its Web API the fake's."""
    path.write_text(
        "[platforms.slack]\n"
        "enabled = true\n"
        'mode = "http"\n'
        'host = "127.0.0.1"\n'
        "port = 0\n"
        f'api_base_url = "{api}"\n'
        f"rate_per_second = {RATE}\n"
        "channel_rate_per_second = 5\n"
        'bot_token_env = "CRASH_SLACK_BOT"\n'
        'signing_secret_env = "CRASH_SLACK_SIGNING"\n',
        encoding="utf-8",
    )
    return path


async def build(db: Path, channels: int = CHANNELS, charts: bool = False) -> list[int]:
    """Slack channels following the Leaf (1,000), and one milestone fanned out to them."""
    config = default_config()
    async with SqliteStore(db) as store:
        await store.sync_groups(config.groups)
        for i in range(channels):
            channel = Channel("slack", "T0001", f"C{i:05d}")
            await store.subscribe(SubscriptionSpec(channel, LEAF, charts=charts))
        feed = Feed(store, Detector(store, config))
        await feed.history()
        await feed.news()
        return [d.id for d in await store.deliveries(limit=10 * channels)]


@pytest.mark.parametrize("runner", ["evbot-run", "crash-runner"])
@pytest.mark.slow
def test_sigkill_at_random_moments_posts_everything_once_on_slack(
    runner: str, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{runner}")
    db = tmp_path / "bot.sqlite3"
    state = tmp_path / "fake.json"
    fake, port = start_fake(FAKE, state, ENV)
    api = f"http://127.0.0.1:{port}/api/"
    config = write_config(tmp_path / "evbot.toml", api)
    bot = Bot(bot_command(runner, db, config, api), ENV)
    kills: list[tuple[int, int]] = []  # (messages the fake had, deliveries left in flight)
    with stopped_at_the_end(fake, bot):
        ids = asyncio.run(build(db))
        assert len(ids) == CHANNELS and outbox_counts(db) == {"pending": CHANNELS}

        for _ in range(rng.randint(4, 6)):
            before = fake_stats(port)["messages"]
            wanted = before + rng.randint(30, 120)
            pause = rng.uniform(0.0, 0.03)  # a random moment in the middle of posting
            bot.kill_after(lambda: fake_stats(port)["messages"], wanted, 30, pause)
            kills.append((fake_stats(port)["messages"], outbox_counts(db).get("inflight", 0)))

        bot.run_until_posted(
            db,
            CHANNELS,
            60,
            may_exit=runner == "crash-runner",
            clean_stop=runner == "evbot-run",
        )

    received = json.loads(state.read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, status, message_id FROM deliveries").fetchall()
    conn.close()
    keys = {f"evbot-delivery-{i}": (status, mid) for i, status, mid in rows}
    print(
        f"\n{runner}: {len(kills)} kills at {[k[0] for k in kills]} messages, leaving "
        f"{[k[1] for k in kills]} in flight; {received['requests']} chat.postMessage, "
        f"{received['messages']} messages, {received['duplicates']} duplicates, "
        f"{received['history_calls']} conversations.history lookups"
    )

    assert {status for status, _ in keys.values()} == {"posted"}  # every delivery posted
    assert set(received["keys"]) == set(keys)  # every key reached Slack: none lost
    assert received["duplicates"] == 0  # and none twice: reconciliation found them
    assert received["messages"] == CHANNELS
    for key, (_, message_id) in keys.items():  # the ids recorded are Slack's ts
        assert [message_id] == received["keys"][key]
    assert sum(left for _, left in kills) > 0  # the kills did land mid-delivery
    assert received["history_calls"] >= 1  # and the restarts looked before posting again


CHARTED = 32  # channels of the fan-out with charts
ALT = "Chart of the cumulative sales of the Nissan Leaf, passing 2,500 in March 2020"


def fake_charts(port: int) -> dict[str, list[Any]]:
    """The files in each announcement's thread (by delivery key), as the fake has them now."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_charts", timeout=5) as response:
        found: dict[str, list[Any]] = json.load(response)
    return found


def in_flight_steps(db: Path) -> dict[str, list[str]]:
    """The steps recorded of each delivery in flight, by key."""
    with sqlite3.connect(db, timeout=10) as conn:
        rows = conn.execute("SELECT id, steps FROM deliveries WHERE status = 'inflight'").fetchall()
    conn.close()
    return {f"evbot-delivery-{i}": list(json.loads(steps)) for i, steps in rows}


@pytest.mark.slow
def test_sigkill_between_post_and_chart_leaves_one_announcement_and_one_chart_each(
    tmp_path: Path,
) -> None:
    rng = random.Random(f"{SEED}-charts")
    db = tmp_path / "bot.sqlite3"
    state = tmp_path / "fake.json"
    # uploads answered late: the bot spends most of each delivery between its post and the
    # record of its chart, before the share (getUploadURLExternal) and after it (complete)
    fake, port = start_fake(
        FAKE,
        state,
        ENV,
        "--slow",
        "files.getUploadURLExternal=0.2",
        "--slow",
        "files.completeUploadExternal=0.3",
    )
    api = f"http://127.0.0.1:{port}/api/"
    bot = Bot(bot_command("evbot-run", db, write_config(tmp_path / "evbot.toml", api), api), ENV)
    # per kill: posts without a chart in their thread, and charts shared but not recorded
    kills: list[tuple[int, int]] = []

    def progress() -> int:
        stats = fake_stats(port)
        return int(stats["messages"]) + int(stats["shared_files"])

    def both_windows_hit() -> bool:
        return sum(k[0] for k in kills) > 0 and sum(k[1] for k in kills) > 0

    with stopped_at_the_end(fake, bot):
        ids = asyncio.run(build(db, CHARTED, charts=True))
        assert len(ids) == CHARTED
        # kill at random moments until both windows were hit, while work is left to kill in
        while progress() < 2 * CHARTED - 6 and len(kills) < 12:
            if len(kills) >= 3 and both_windows_hit():
                break
            before = progress()
            wanted = before + rng.randint(2, 6)
            pause = rng.uniform(0.0, 0.3)  # a moment among posts and uploads
            bot.kill_after(progress, wanted, 60, pause)
            charts = fake_charts(port)
            steps = in_flight_steps(db)
            kills.append(
                (
                    sum(1 for files in charts.values() if not files),
                    sum(1 for k, s in steps.items() if "chart" not in s and charts.get(k)),
                )
            )

        bot.run_until_posted(db, CHARTED, 60, may_exit=False, clean_stop=True)

    received = json.loads(state.read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, status, message_id, steps FROM deliveries").fetchall()
    conn.close()
    print(
        f"\ncharts: {len(kills)} kills leaving {[k[0] for k in kills]} posts without their "
        f"chart and {[k[1] for k in kills]} charts shared but unrecorded; "
        f"{received['messages']} messages, {received['shared_files']} charts, "
        f"{received['replies_calls']} conversations.replies lookups"
    )
    assert both_windows_hit()  # killed between posts and charts, and between charts and records

    assert {status for _, status, _, _ in rows} == {"posted"}
    assert received["duplicates"] == 0 and received["messages"] == CHARTED
    assert set(received["charts"]) == {f"evbot-delivery-{i}" for i, *_ in rows}
    for delivery_id, _, message_id, steps in rows:
        key = f"evbot-delivery-{delivery_id}"
        assert received["keys"][key] == [message_id]  # one announcement, its ts recorded
        (chart,) = received["charts"][key]  # one chart in its thread, with alt text
        assert chart["name"].startswith(f"{key}.") and chart["alt_txt"] == ALT
        assert json.loads(steps) == ["post", "chart"]
    assert received["shared_files"] == CHARTED  # no chart shared twice, nor anywhere else
