"""Replicas share one rate limit and hear of new deliveries at once (PostgreSQL), and no chart is
drawn for a platform that cannot show it.

The registry is PostgreSQL's own sessions: each running replica holds a shared advisory lock on
its database and schema, so these tests open stores side by side in one process (each with its
own connections, as separate processes would have), end sessions cleanly and abruptly, and look
at the counts and rates each replica arrives at. The three-process test with a receiver
counting requests per window is in `tests/test_replicas.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from adapters.console import ConsoleAdapter
from adapters.webhook import WebhookAdapter
from bot.charts.service import StoreCharts
from bot.delivery.pacing import Pacer
from bot.delivery.rate_share import RateShare
from bot.delivery.worker import DeliveryWorker
from bot.domain.channels import Channel, Limits
from bot.domain.event_codec import message_to_dict
from bot.domain.messages import Message
from bot.domain.settings import default_config
from bot.domain.subscriptions import PlannedDelivery, SubscriptionSpec, ladder_objects
from bot.ports.chat import image_mode
from bot.store.postgres.base import REPLICA_CLASS, scratch_schema
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import postgres_dsn
from tests.crash_runner import LEAF
from tests.fake_webhook import FakeWebhook
from tests.test_charts import SOURCE, leaf_and_friends, leaf_crosses

BOUND = 30.0  # seconds: catches a wait that never ends, not a slow machine


async def until(check: Callable[[], Any], what: str) -> None:
    """Wait (bounded) for `check()` to hold."""
    deadline = time.monotonic() + BOUND
    while not await _holds(check):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def _holds(check: Callable[[], Any]) -> bool:
    result = check()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


class Heard:
    """What one replica heard: deliveries queued and replicas joining or leaving."""

    def __init__(self) -> None:
        self.deliveries = 0
        self.replicas = 0

    def delivery(self) -> None:
        self.deliveries += 1

    def replica(self) -> None:
        self.replicas += 1


@pytest.fixture
async def stores(pg_dsn: str) -> AsyncIterator[list[PgStore]]:
    """Three stores on one schema, opened as three replicas would open them."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(PgStore(pg_dsn)) for _ in range(3)]


def planned(channel: str, sub_id: int = 1) -> PlannedDelivery:
    message = Message(title="t", body="b", kind="following")
    return PlannedDelivery(
        Channel("webhook", "default", channel),
        "following",
        (),
        (sub_id,),
        "en",
        json.dumps(message_to_dict(message)),
    )


# -- the registry ---------------------------------------------------------------------------


async def test_live_replicas_are_the_joined_sessions_of_this_schema(
    stores: list[PgStore], pg_dsn: str
) -> None:
    a, b, c = stores
    heard = [Heard() for _ in stores]
    await a.join_replicas(heard[0].delivery, heard[0].replica)
    assert await a.live_replicas() == 1
    await b.join_replicas(heard[1].delivery, heard[1].replica)
    await c.join_replicas(heard[2].delivery, heard[2].replica)
    await until(lambda: heard[0].replicas >= 3, "a hears b and c join (and itself)")
    assert [await s.live_replicas() for s in stores] == [3, 3, 3]

    # a store that only opened (a CLI command) is no replica; nor is one in another schema
    base = postgres_dsn()
    assert base is not None
    async with (
        PgStore(pg_dsn) as cli,
        scratch_schema(base) as elsewhere,
        PgStore(elsewhere) as other,
    ):
        await other.join_replicas(lambda: None, lambda: None)
        assert await other.live_replicas() == 1
        assert await a.live_replicas() == 3
        assert await cli.live_replicas() == 3

    # a clean stop: b leaves and says so
    before = heard[0].replicas
    await b.close()
    await until(lambda: heard[0].replicas > before, "a hears b leave")
    assert await a.live_replicas() == 2

    # a crash: c's session ends without a word; it is no longer counted, at once
    admin = await asyncpg.connect(base)
    try:
        ended = await admin.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = $1::oid AND objid = $2::oid AND objsubid = 2",
            REPLICA_CLASS,
            c.replica_id,
        )
        assert ended
        await until(lambda: _count_is(a, 1), "c is no longer counted")
        # c itself notices its lost session when it counts: it joins again, same id
        replica_id = c.replica_id
        assert await c.live_replicas() == 2
        assert c.replica_id == replica_id
        assert await a.live_replicas() == 2
    finally:
        await admin.close()


async def _count_is(store: PgStore, expected: int) -> bool:
    return await store.live_replicas() == expected


async def test_queued_deliveries_wake_every_joined_replica_of_the_schema(
    stores: list[PgStore],
) -> None:
    a, b, c = stores
    heard_a, heard_b = Heard(), Heard()
    await a.join_replicas(heard_a.delivery, heard_a.replica)
    await b.join_replicas(heard_b.delivery, heard_b.replica)
    base = postgres_dsn()
    assert base is not None
    async with scratch_schema(base) as elsewhere, PgStore(elsewhere) as other:
        await other.enqueue([planned("https://elsewhere.example/hook")], time.time())
    # c is no replica (a command, say): its enqueue still tells the replicas
    await c.enqueue([planned("https://example.test/hook/1")], time.time())
    await until(lambda: heard_a.deliveries and heard_b.deliveries, "both hear the enqueue")
    # notifications come in commit order: the other schema's came first, and was ignored
    assert (heard_a.deliveries, heard_b.deliveries) == (1, 1)
    await c.enqueue([], time.time())  # nothing queued: nothing to say
    await c.enqueue([planned("https://example.test/hook/2")], time.time())
    await until(lambda: heard_a.deliveries == 2, "a hears the second enqueue")
    assert heard_b.deliveries <= 2


# -- shares ---------------------------------------------------------------------------------


async def test_each_replica_paces_at_its_share_and_the_share_follows_the_count(
    stores: list[PgStore],
) -> None:
    pacers = [{"webhook": Pacer(30.0, 5.0)} for _ in stores]
    shares = [
        RateShare(s, p, lambda: None, interval=0.2) for s, p in zip(stores, pacers, strict=True)
    ]
    stopping = [asyncio.Event() for _ in stores]
    await shares[0].join()
    assert pacers[0]["webhook"].platform.rate == 30.0  # alone: the whole limit
    assert pacers[0]["webhook"].platform.delay() == 0.0  # and no reason to wait
    tasks = [asyncio.create_task(shares[0].run(stopping[0]))]
    for i in (1, 2):
        await shares[i].join()
        # a newcomer waits until the others have surely counted it before its first post
        assert pacers[i]["webhook"].platform.delay() > 0.1
        tasks.append(asyncio.create_task(shares[i].run(stopping[i])))
    try:
        await until(
            lambda: [p["webhook"].platform.rate for p in pacers] == [10.0] * 3,
            "every replica at a third",
        )
        # one stops: the two others take half each (the sum is the limit again)
        stopping[2].set()
        await tasks[2]
        await stores[2].close()
        await until(
            lambda: [p["webhook"].platform.rate for p in pacers[:2]] == [15.0, 15.0],
            "the survivors at a half",
        )
        assert sum(s.replicas for s in shares[:2]) == 4
    finally:
        for event in stopping:
            event.set()
        await asyncio.gather(*tasks)


async def test_a_worker_is_woken_by_a_notification_not_its_idle_look(
    stores: list[PgStore],
) -> None:
    """The worker's idle look is a minute here: only the NOTIFY can bring the post sooner."""
    a, b, _ = stores
    async with FakeWebhook() as fake:
        adapter = WebhookAdapter(rate_per_second=100.0, channel_rate_per_second=10.0)
        url = fake.url("c1")
        try:
            worker = DeliveryWorker(a, {"webhook": adapter}, {})
            worker.idle_poll = 60.0
            share = RateShare(a, worker.pacers, worker.wake)
            await share.join()
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            await asyncio.sleep(0.5)  # idle by now (if not, the test passes without proving)
            sub, _ = await b.subscribe(SubscriptionSpec(Channel("webhook", "default", url), LEAF))
            await b.enqueue([planned(url, sub.id)], time.time())
            deadline = time.monotonic() + BOUND
            while not fake.accepted():
                assert time.monotonic() < deadline, "the worker slept through the enqueue"
                await asyncio.sleep(0.02)
            stop.set()
            await task
        finally:
            await adapter.close()
    assert [r.name for r in fake.accepted()] == ["c1"]


# -- charts ---------------------------------------------------------------------------------


def test_webhook_and_console_say_they_carry_no_image() -> None:
    assert image_mode(WebhookAdapter()) == "none"
    assert image_mode(ConsoleAdapter()) == "none"

    class Plain:  # an adapter that does not say sends the image with its post
        platform = "plain"

    assert image_mode(Plain()) == "inline"


class Collecting:
    platform = "test"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self, images: bool) -> None:
        self.images = "inline" if images else "none"
        self.posts: list[Message] = []

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        self.posts.append(message)
        return f"m{len(self.posts)}"

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return None


class CountingCharts(StoreCharts):
    calls = 0

    async def milestone_chart(self, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
        self.calls += 1
        return await super().milestone_chart(*args, **kwargs)


@pytest.mark.parametrize("images", [True, False])
async def test_a_chart_is_drawn_only_for_a_platform_that_carries_it(
    tmp_path: Path, images: bool
) -> None:
    config = default_config()
    async with SqliteStore(tmp_path / "s.sqlite3") as store:
        await store.sync_groups(config.groups)
        await store.import_records([(SOURCE, leaf_and_friends())], file="small")
        await leaf_crosses(store, config)
        adapter = Collecting(images)
        charts = CountingCharts(store, config)
        worker = DeliveryWorker(
            store, {"test": adapter}, ladder_objects(config.ladders), charts=charts
        )
        await worker.drain()
    news = [m for m in adapter.posts if m.kind != "following"]
    assert news, adapter.posts
    if images:
        assert charts.calls == 1 and all(m.image is not None for m in news)
    else:
        assert charts.calls == 0 and all(m.image is None for m in news)
