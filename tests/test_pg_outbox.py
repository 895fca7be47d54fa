"""The outbox and detection contract on both backends, and what replicas add on PostgreSQL.

The first part runs every test on SQLite and on PostgreSQL (skipped without
EVBOT_TEST_POSTGRES_DSN): subscriptions, claiming, retries, the detection watermark's compare
and set, events recorded once, fan-out and digests. The second part is PostgreSQL only: several
stores on one database, as replicas are, claiming concurrently (never the same delivery, never
two of one channel at once), settling the deliveries of a replica that died, and the leader
lock changing hands when the leader's session dies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from bot.domain.channels import Channel
from bot.domain.records import DetectionWrite
from bot.domain.subscriptions import PlannedDelivery, SubscriptionSpec
from bot.ports.store import BotStore, StoreError
from bot.store.postgres.leader import Leadership
from bot.store.postgres.migrations import PG_MIGRATIONS
from bot.store.postgres.sales import PgStore
from tests.crash_runner import LEAF, prepare

Factory = Callable[[], Any]


@pytest.fixture
def store(any_store: BotStore) -> BotStore:
    """Either backend (`make_store`, `any_store`: conftest)."""
    return any_store


def channel(n: int) -> Channel:
    return Channel("test", "guild", f"c{n}")


def planned(ch: Channel, n: int = 1) -> PlannedDelivery:
    return PlannedDelivery(ch, "following", (), (n,), "en", '{"title": "hello"}')


# -- both backends ----------------------------------------------------------------------------


async def test_subscribe_creates_then_updates(store: BotStore) -> None:
    spec = SubscriptionSpec(channel(1), LEAF, created_by="ann")
    first, created = await store.subscribe(spec)
    assert created and first.spec.channel == channel(1) and first.status == "active"
    again, created_again = await store.subscribe(
        SubscriptionSpec(channel(1), LEAF, locale="fr", created_by="bob")
    )
    assert (again.id, created_again, again.spec.locale) == (first.id, False, "fr")
    assert [s.id for s in await store.subscriptions(channel(1))] == [first.id]
    assert await store.subscriptions(channel(2)) == []
    assert await store.unsubscribe(channel(1), LEAF.key) == 1
    assert await store.subscriptions() == []


async def test_claim_one_per_channel_in_order(store: BotStore) -> None:
    ids = await store.enqueue([planned(channel(1)), planned(channel(1)), planned(channel(2))], 10.0)
    assert ids == sorted(ids) and len(ids) == 3
    assert await store.claim_due(5.0, 10) == []  # nothing is due before its time
    claimed = await store.claim_due(10.0, 10)
    assert [d.id for d in claimed] == [ids[0], ids[2]]  # one per channel, the oldest first
    assert all(d.status == "inflight" and d.attempts == 1 for d in claimed)
    # channel 1 has a post under way: its next message waits for it
    assert await store.claim_due(10.0, 10) == []
    await store.mark_posted(ids[0], "m1", 11.0)
    [nxt] = await store.claim_due(11.0, 10)
    assert nxt.id == ids[1] and nxt.key == f"evbot-delivery-{ids[1]}"
    counts = await store.delivery_counts()
    assert (counts["posted"], counts["inflight"], counts["pending"]) == (1, 2, 0)
    [posted] = await store.deliveries("posted")
    assert (posted.message_id, posted.posted_at) == ("m1", 11.0)


async def test_retry_release_and_defer(store: BotStore) -> None:
    [a, b] = await store.enqueue([planned(channel(1)), planned(channel(2))], 0.0)
    claimed = {d.id: d for d in await store.claim_due(0.0, 10)}
    await store.mark_retry(a, 50.0, "server_error", "500")
    await store.release(b, not_before=20.0)
    rows = {d.id: d for d in await store.deliveries()}
    assert (rows[a].status, rows[a].next_attempt_at, rows[a].attempts) == ("pending", 50.0, 1)
    assert (rows[b].status, rows[b].next_attempt_at, rows[b].attempts) == ("pending", 20.0, 0)
    assert rows[a].reason == "server_error" and claimed[a].attempts == 1
    assert await store.next_due() == 20.0
    await store.defer_channel(channel(2), 30.0)
    await store.defer_channel(channel(1), 30.0)  # never earlier than it was
    rows = {d.id: d for d in await store.deliveries()}
    assert (rows[a].next_attempt_at, rows[b].next_attempt_at) == (50.0, 30.0)


async def test_a_claim_records_when_the_delivery_first_went_in_flight(store: BotStore) -> None:
    [a] = await store.enqueue([planned(channel(1))], 0.0)
    assert [d.claimed_at for d in await store.deliveries()] == [None]
    [claimed] = await store.claim_due(12.5, 10)
    assert claimed.claimed_at == 12.5
    await store.mark_retry(a, 20.0, "timeout", "slow")
    [again] = await store.claim_due(21.0, 10)  # a retry: reconciliation looks back to the first
    assert (again.claimed_at, again.attempts) == (12.5, 2)
    [left] = await store.deliveries("inflight")
    assert left.claimed_at == 12.5


async def test_a_failure_that_cannot_heal_pauses_the_channel(store: BotStore) -> None:
    sub, _ = await store.subscribe(SubscriptionSpec(channel(1), LEAF))
    ids = await store.enqueue([planned(channel(1), sub.id), planned(channel(1), sub.id)], 0.0)
    [row] = await store.claim_due(0.0, 10)
    assert await store.mark_failed(row, "channel_gone", "404")
    [paused] = await store.subscriptions(channel(1))
    assert (paused.status, paused.paused_reason) == ("paused", "channel_gone")
    assert {d.status for d in await store.deliveries()} == {"failed"}
    assert await store.resume(channel(1), now=5.0) == 1
    assert sorted(d.id for d in await store.deliveries("pending")) == ids


async def test_unsubscribing_cancels_what_nobody_wants(store: BotStore) -> None:
    sub, _ = await store.subscribe(SubscriptionSpec(channel(1), LEAF))
    [d] = await store.enqueue([planned(channel(1), sub.id)], 0.0)
    await store.unsubscribe(channel(1), None)
    [row] = await store.deliveries()
    assert (row.id, row.status, row.reason) == (d, "cancelled", "unsubscribed")


async def test_the_watermark_moves_only_from_where_it_was(store: BotStore) -> None:
    assert await store.watermark("detector") == 0
    assert await store.save_detection("detector", 0, 5, DetectionWrite()) == []
    assert await store.watermark("detector") == 5
    with pytest.raises(StoreError, match="moved"):
        await store.save_detection("detector", 0, 9, DetectionWrite())
    assert await store.watermark("detector") == 5


async def test_the_detector_fans_out_once_per_channel_and_records_once(
    store: BotStore,
) -> None:
    urls = [f"http://127.0.0.1:9/hook/c{i}" for i in range(25)]
    feed = await prepare(store, urls)
    assert (await store.delivery_counts())["pending"] == 25
    [event] = [e for e in await store.events() if e.event.subject.key == LEAF.key]
    assert len(await store.events()) == 4  # the Leaf, Nissan, the Alliance and all EVs
    rows = await store.deliveries(limit=100)
    assert sorted(d.channel.channel for d in rows) == sorted(urls)
    assert all(d.event_ids == (event.id,) for d in rows)
    # polling again with nothing new records nothing and queues nothing
    assert await feed.detector.poll() == []
    assert len(await store.deliveries(limit=100)) == 25
    milestones = await store.milestone_log()
    assert [(m["highest"], m["history"]) for m in milestones][:1] == [(2500, 0)]


async def test_digests_take_what_was_collected_once(store: BotStore) -> None:
    sub, _ = await store.subscribe(SubscriptionSpec(Channel("webhook", "default", "u"), LEAF))
    assert await store.take_digest(sub.id, 0.0) is None  # nothing collected: no digest
    weekly = SubscriptionSpec(Channel("webhook", "default", "u"), LEAF, mode="weekly")
    await store.subscribe(weekly)
    await prepare(store, [])
    assert await store.digest_size(sub.id) == 1
    delivery = await store.take_digest(sub.id, 1.0, "this week")
    assert delivery is not None
    assert await store.take_digest(sub.id, 2.0) is None
    [row] = await store.deliveries()
    assert (row.id, row.kind, len(row.event_ids)) == (delivery, "digest", 1)


async def test_slack_installations_and_states(store: Any) -> None:
    await store.save_slack_installation("", "T1", "U1", '{"v": 1}', 1.0)
    await store.save_slack_installation("", "T1", "U2", '{"v": 2}', 2.0)
    await store.save_slack_installation("", "T1", "U1", '{"v": 3}', 3.0)  # replaces
    assert await store.find_slack_installation("", "T1", None) == '{"v": 3}'  # the newest
    assert await store.find_slack_installation("", "T1", "U2") == '{"v": 2}'
    assert await store.find_slack_installation("", "T2", None) is None
    await store.save_slack_bot("", "T1", '{"bot": 1}', 1.0)
    assert await store.find_slack_bot("", "T1") == '{"bot": 1}'
    await store.delete_slack_installation("", "T1", "U1")
    assert await store.find_slack_installation("", "T1", "U1") is None
    await store.delete_slack_installation("", "T1", None)
    await store.delete_slack_bot("", "T1")
    assert await store.find_slack_installation("", "T1", None) is None
    assert await store.find_slack_bot("", "T1") is None
    await store.issue_slack_state("s1", 10.0)
    await store.issue_slack_state("s2", 5.0)
    assert await store.consume_slack_state("s1", 6.0) is True
    assert await store.consume_slack_state("s1", 6.0) is False  # once
    assert await store.consume_slack_state("s2", 6.0) is False  # expired


# -- PostgreSQL: replicas ---------------------------------------------------------------------


@pytest.fixture
async def replicas(pg_dsn: str) -> AsyncIterator[list[PgStore]]:
    stores = [PgStore(pg_dsn, pool_size=3) for _ in range(4)]
    for s in stores:
        await s.open()
    try:
        yield stores
    finally:
        for s in stores:
            await s.close()


async def test_replicas_never_claim_the_same_delivery(replicas: list[PgStore]) -> None:
    ids = await replicas[0].enqueue([planned(channel(n)) for n in range(600)], 0.0)
    claims: list[list[int]] = [[] for _ in replicas]

    async def drain(i: int) -> None:
        while rows := await replicas[i].claim_due(1.0, 7):
            claims[i].extend(d.id for d in rows)
            for d in rows:
                await replicas[i].mark_posted(d.id, f"m{d.id}", 2.0)

    await asyncio.gather(*(drain(i) for i in range(len(replicas))))
    every = [i for c in claims for i in c]
    assert sorted(every) == ids  # each claimed exactly once, by exactly one replica
    assert sum(1 for c in claims if c) >= 2  # and the work really was shared
    assert (await replicas[0].delivery_counts())["posted"] == 600


async def test_replicas_keep_one_post_at_a_time_per_channel(replicas: list[PgStore]) -> None:
    # 30 messages to each of 3 channels; replicas claim at once, again and again
    ids = await replicas[0].enqueue([planned(channel(n % 3)) for n in range(90)], 0.0)
    under_way: dict[Channel, int] = {}
    order: dict[Channel, list[int]] = {}
    overlaps = 0

    async def work(store: PgStore) -> None:
        nonlocal overlaps
        while rows := await store.claim_due(1.0, 3):
            for d in rows:
                if under_way.get(d.channel):
                    overlaps += 1
                under_way[d.channel] = d.id
                order.setdefault(d.channel, []).append(d.id)
            await asyncio.sleep(0)
            for d in rows:
                under_way[d.channel] = 0
                await store.mark_posted(d.id, "m", 2.0)

    await asyncio.gather(*(work(s) for s in replicas))
    assert overlaps == 0
    assert sorted(i for seq in order.values() for i in seq) == ids
    assert all(seq == sorted(seq) for seq in order.values())  # in order, across replicas


async def test_detection_is_recorded_once_when_replicas_race(replicas: list[PgStore]) -> None:
    results = await asyncio.gather(
        *(s.save_detection("detector", 0, 7, DetectionWrite()) for s in replicas),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == []) == 1
    assert all(isinstance(r, StoreError) for r in results if r != [])
    assert await replicas[0].watermark("detector") == 7


async def test_a_dead_replicas_deliveries_go_to_one_survivor(pg_dsn: str) -> None:
    async with PgStore(pg_dsn) as a, PgStore(pg_dsn) as b, PgStore(pg_dsn) as c:
        await a.enqueue([planned(channel(n)) for n in range(4)], 0.0)
        dead = PgStore(pg_dsn)
        await dead.open()
        claimed = await dead.claim_due(0.0, 3)
        live = await a.claim_due(0.0, 3)
        assert len(claimed) == 3 and len(live) == 1
        # while it lives, its posts under way are its own: nobody settles them
        assert await b.inflight() == [] and await c.inflight() == []
        await dead.close()  # its session (and lock) end, as on SIGKILL
        settled = await asyncio.gather(b.inflight(), c.inflight())
        got = sorted(d.id for rows in settled for d in rows)
        assert got == sorted(d.id for d in claimed)  # each to exactly one survivor
        assert await a.inflight() == []  # a's own post under way is never handed out
        for rows, owner in zip(settled, (b, c), strict=True):
            for d in rows:
                await owner.release(d.id)
                await a.release(d.id)  # not a's: no effect on a row another replica holds
        counts = await a.delivery_counts()
        assert (counts["pending"], counts["inflight"]) == (3, 1)


async def test_the_leader_lock_changes_hands_when_the_leader_dies(pg_dsn: str) -> None:
    stopping = asyncio.Event()
    changes: list[tuple[str, bool]] = []

    def listener(name: str) -> Callable[[bool], Any]:
        async def changed(leading: bool) -> None:
            changes.append((name, leading))

        return changed

    a = Leadership(pg_dsn, listener("a"), retry_seconds=0.2)
    b = Leadership(pg_dsn, listener("b"), retry_seconds=0.2)
    tasks = [asyncio.create_task(a.run(stopping))]
    try:
        await _until(lambda: a.is_leader)
        tasks.append(asyncio.create_task(b.run(stopping)))
        await _until(lambda: b._con is not None)
        await asyncio.sleep(0.5)  # b has tried, and failed, a few times
        assert (a.role, b.role) == ("leader", "follower")
        # the leader's session dies (as when its process is killed)
        assert a._con is not None
        pid = a._con.get_server_pid()
        killer = await asyncpg.connect(pg_dsn)
        try:
            await killer.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        started = time.monotonic()
        await _until(lambda: b.is_leader and not a.is_leader)
        print(f"\ntakeover after the leader's session died: {time.monotonic() - started:.2f} s")
        assert {("a", True), ("a", False), ("b", True)} <= set(changes)
    finally:
        stopping.set()
        await asyncio.gather(*tasks)
    assert not a.is_leader and not b.is_leader  # stopping steps down


async def _until(condition: Callable[[], bool], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_migrations_are_versioned_and_replicas_may_open_together(pg_dsn: str) -> None:
    stores = [PgStore(pg_dsn) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert {await s.schema_version() for s in stores} == {len(PG_MIGRATIONS)}
    finally:
        for s in stores:
            await s.close()


async def test_bad_urls_and_unreachable_servers_say_where() -> None:
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        PgStore("mysql://x@y/z")
    store = PgStore("postgresql://evbot:s3cret@127.0.0.1:1/evbot")
    with pytest.raises(StoreError, match="cannot connect") as info:
        await store.open()
    assert "s3cret" not in str(info.value) and "127.0.0.1:1" in str(info.value)
