"""SIGKILL during a fan-out to 20 channels per target (Discord channel webhooks, Slack incoming
webhooks, Teams Workflows, 60 channels in all): every channel ends holding its message, and the
duplicates stay within the bound the README states.

None of the three can be asked what it has (a Discord webhook fetches a message only by an id
it already has; Slack and Teams answer no id at all), so a delivery whose request reached the
platform but whose answer was never recorded is posted again after the restart. The worker posts
one delivery at a time per channel and at most `concurrency` (8) at once, so each kill can cost
at most one duplicate per channel and 8 in all. The fake answers every accepted post 0.2 s late,
so the kills land in that window.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import random
import sqlite3
import sys
from collections import Counter
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
from tests.fake_hooks import DISCORD, SLACK, TEAMS, FakeHooks, discord_id

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "fake_hooks.py"
RUNNER = ROOT / "tests" / "crash_runner_hooks.py"
KINDS = (DISCORD, SLACK, TEAMS)
PER_TARGET = 20
CHANNELS = PER_TARGET * len(KINDS)
CONCURRENCY = inspect.signature(DeliveryWorker).parameters["concurrency"].default
SEED = 20_261_207


def names(kind: str) -> list[str]:
    return [f"{kind[:5]}{i:02d}" for i in range(PER_TARGET)]


def write_config(path: Path, port: int) -> dict[str, str]:
    """The configuration (20 channels of each kind) and the environment holding their URLs."""
    fake = FakeHooks(port=port)  # (not started: the fake runs as its own process; its URLs)
    lines: list[str] = []
    env: dict[str, str] = {}
    for kind in KINDS:
        lines += [f"[platforms.{kind}]", "enabled = true", "rate_per_second = 500", ""]
        for name in names(kind):
            variable = f"CRASH_HOOK_{name.upper()}"
            lines += [f"[webhooks.{name}]", f'kind = "{kind}"', f'url_env = "{variable}"', ""]
            env[variable] = fake.url(kind, name)
    path.write_text("\n".join(lines), encoding="utf-8")
    return env


async def build(db: Path) -> int:
    config = default_config()
    async with SqliteStore(db) as store:
        await store.sync_groups(config.groups)
        for kind in KINDS:
            for name in names(kind):
                await store.subscribe(SubscriptionSpec(Channel(kind, "default", name), LEAF))
        feed = Feed(store, Detector(store, config))
        await feed.history()
        await feed.news()
        return len(await store.deliveries(limit=1000))


@pytest.mark.slow
def test_sigkill_during_a_fan_out_leaves_every_channel_its_message(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "bot.sqlite3"
    state = tmp_path / "fake.json"
    base_env = os.environ | {"PYTHONPATH": str(ROOT)}
    fake, port = start_fake(FAKE, state, base_env, "--delay", "0.2")
    env = base_env | write_config(tmp_path / "evbot.toml", port)
    config = str(tmp_path / "evbot.toml")
    bot = Bot([sys.executable, str(RUNNER), "--db", str(db), "--config", config], env)
    in_flight: list[int] = []  # deliveries each kill left in flight

    def reached() -> int:
        """Channels holding a message (duplicates not counted)."""
        return len(fake_stats(port)["per_channel"])

    with stopped_at_the_end(fake, bot):
        assert asyncio.run(build(db)) == CHANNELS
        # the outbox goes out target by target (Discord's, Slack's, then Teams' channels):
        # one kill among each target's posts
        for start in range(0, CHANNELS, PER_TARGET):
            wanted = max(reached(), start) + rng.randint(1, PER_TARGET - CONCURRENCY)
            bot.kill_after(reached, wanted, 60, rng.uniform(0.0, 0.15))
            in_flight.append(outbox_counts(db).get("inflight", 0))
        bot.run_until_posted(db, CHANNELS, 90, may_exit=True, clean_stop=False)

    received = json.loads(state.read_text(encoding="utf-8"))
    per_channel: dict[str, int] = received["per_channel"]
    wanted_channels = {
        f"{kind}/{discord_id(n) if kind == DISCORD else n}" for kind in KINDS for n in names(kind)
    }
    duplicates = Counter[str]()
    for channel, count in per_channel.items():
        duplicates[channel.split("/")[0]] += count - 1
    print(
        f"\n{len(in_flight)} kills leaving {in_flight} in flight; {received['messages']} "
        f"messages to {len(per_channel)} channels; duplicates by target {dict(duplicates)}"
    )
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status FROM deliveries").fetchall()
    conn.close()
    assert {status for (status,) in rows} == {"posted"} and len(rows) == CHANNELS
    assert set(per_channel) == wanted_channels  # every channel of every target holds its message
    kills = len(in_flight)
    assert kills >= 1 and sum(in_flight) > 0  # the kills did land mid-delivery
    assert all(duplicates[kind] > 0 for kind in KINDS)  # on each target's posts
    # the bound the README states: one per channel per kill, the worker's concurrency in all
    assert all(count <= 1 + kills for count in per_channel.values())
    assert sum(duplicates.values()) <= min(sum(in_flight), kills * CONCURRENCY)
