"""The outbox crash test against the fake Matrix homeserver: SIGKILL the bot at random moments
while it fans one milestone out to 20 rooms, start it again, and check that every room got
exactly one announcement.

A homeserver deduplicates a retried transaction id only for a while, and may forget it on a
restart: here the fake forgets them after every kill (`POST /_restart`), so what keeps
duplicates at zero is the reconciliation on start, which looks for each delivery left in flight
by the key in its content, in the room's `/messages`, back to when it went in flight. Sends are
answered late (after they are done), so kills land between a post and its record.

The bot runs as `evbot run` with a `[platforms.matrix]` configuration (its sync loop running
beside the worker) and as the bare worker in `tests/crash_runner_matrix.py`.
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

import pytest

from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_harness import Bot, fake_stats, outbox_counts, start_fake, stopped_at_the_end
from tests.crash_runner import LEAF, Feed
from tests.fake_matrix import BOT_TOKEN, SERVER

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "fake_matrix.py"
RUNNER = ROOT / "tests" / "crash_runner_matrix.py"
ROOMS = 20
SEED = 20_261_207
CONCURRENCY = inspect.signature(DeliveryWorker).parameters["concurrency"].default
ENV = os.environ | {"PYTHONPATH": str(ROOT), "CRASH_MATRIX_TOKEN": BOT_TOKEN}


def room(i: int) -> str:
    return f"!room{i:03d}:{SERVER}"


def bot_command(runner: str, db: Path, config: Path, homeserver: str) -> list[str]:
    if runner == "evbot-run":
        return [sys.executable, "-m", "bot", "run", "--db", str(db), "--config", str(config)]
    return [
        sys.executable,
        str(RUNNER),
        "--db",
        str(db),
        "--homeserver",
        homeserver,
        "--concurrency",
        str(CONCURRENCY),
    ]


def write_config(path: Path, homeserver: str) -> Path:
    path.write_text(
        "[platforms.matrix]\n"
        "enabled = true\n"
        f'homeserver = "{homeserver}"\n'
        "rate_per_second = 2000\n"
        "channel_rate_per_second = 5\n"
        "sync_timeout = 2\n"
        'access_token_env = "CRASH_MATRIX_TOKEN"\n',
        encoding="utf-8",
    )
    return path


async def build(db: Path) -> int:
    """20 rooms following the Leaf, and one milestone fanned out to them."""
    config = default_config()
    async with SqliteStore(db) as store:
        await store.sync_groups(config.groups)
        for i in range(ROOMS):
            await store.subscribe(SubscriptionSpec(Channel("matrix", "default", room(i)), LEAF))
        feed = Feed(store, Detector(store, config))
        await feed.history()
        await feed.news()
        return len(await store.deliveries(limit=10 * ROOMS))


def restart_fake(port: int) -> None:
    """The homeserver forgets every transaction id, as after a restart of its own."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_restart", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


# the bare worker is killed three times; `evbot run` (slower to start: the charts, the sync
# loop) once, which is enough to show its reconciliation at start
@pytest.mark.parametrize(("runner", "kills"), [("evbot-run", 1), ("crash-runner", 3)])
@pytest.mark.slow
def test_sigkill_during_a_fan_out_to_20_rooms_leaves_one_announcement_per_room(
    runner: str, kills: int, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{runner}")
    db = tmp_path / "bot.sqlite3"
    state = tmp_path / "fake.json"
    fake, port = start_fake(
        FAKE, state, ENV, "--rooms", str(ROOMS), "--slow-send", "0.25", "--txn-window", "600"
    )
    homeserver = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "evbot.toml", homeserver)
    bot = Bot(bot_command(runner, db, config, homeserver), ENV)
    killed: list[tuple[int, int]] = []  # (announcements the fake had, deliveries in flight)
    with stopped_at_the_end(fake, bot):
        assert asyncio.run(build(db)) == ROOMS and outbox_counts(db) == {"pending": ROOMS}
        for _ in range(kills):
            wanted = fake_stats(port)["messages"] + rng.randint(1, 4)
            pause = rng.uniform(0.0, 0.2)  # a moment among the posts, most of them unanswered
            bot.kill_after(lambda: fake_stats(port)["messages"], wanted, 30, pause)
            killed.append((fake_stats(port)["messages"], outbox_counts(db).get("inflight", 0)))
            restart_fake(port)
        bot.run_until_posted(
            db, ROOMS, 60, may_exit=runner == "crash-runner", clean_stop=runner == "evbot-run"
        )

    received = json.loads(state.read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, status, message_id FROM deliveries").fetchall()
    conn.close()
    print(
        f"\n{runner}: kills at {[k[0] for k in killed]} announcements, leaving "
        f"{[k[1] for k in killed]} in flight; {received['sends']} sends, "
        f"{received['messages']} announcements, {received['duplicates']} duplicates, "
        f"{received['history_calls']} /messages lookups"
    )
    assert {status for _, status, _ in rows} == {"posted"}
    assert received["rooms"] == {room(i): 1 for i in range(ROOMS)}  # one announcement each
    assert received["duplicates"] == 0 and received["messages"] == ROOMS
    assert set(received["keys"]) == {f"evbot-delivery-{i}" for i, _, _ in rows}
    assert sum(left for _, left in killed) > 0  # the kills landed mid-delivery
    assert received["history_calls"] >= 1  # and the restarts looked before posting again
