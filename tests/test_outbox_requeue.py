"""The store methods behind `evbot unsubscribe --id` and `evbot deliveries retry`, on both
backends (PostgreSQL where EVBOT_TEST_POSTGRES_DSN is set: `any_store`, conftest)."""

from __future__ import annotations

from bot.domain.channels import MISSING_ACCESS, Channel
from bot.domain.subscriptions import PlannedDelivery, SubscriptionSpec
from bot.ports.store import BotStore
from tests.crash_runner import LEAF

HERE = Channel("test", "guild", "c1")


async def test_unsubscribe_id_removes_one_and_cancels_what_nobody_wants(
    any_store: BotStore,
) -> None:
    store = any_store
    world, _ = await store.subscribe(SubscriptionSpec(HERE, LEAF))
    usa, _ = await store.subscribe(SubscriptionSpec(HERE, LEAF, region="USA"))
    [only_usa, both] = await store.enqueue(
        [
            PlannedDelivery(HERE, "following", (), (usa.id,), "en", '{"title": "a"}'),
            PlannedDelivery(HERE, "following", (), (usa.id, world.id), "en", '{"title": "b"}'),
        ],
        10.0,
    )
    gone = await store.unsubscribe_id(usa.id)
    assert gone is not None and (gone.id, gone.spec.region) == (usa.id, "USA")
    assert [s.id for s in await store.subscriptions()] == [world.id]
    rows = {d.id: d for d in await store.deliveries(limit=10)}
    assert (rows[only_usa].status, rows[only_usa].reason) == ("cancelled", "unsubscribed")
    assert rows[both].status == "pending"  # still wanted by the world's subscription
    assert await store.unsubscribe_id(usa.id) is None
    assert await store.unsubscribe_id(999) is None


async def test_requeue_makes_failed_deliveries_pending_again(any_store: BotStore) -> None:
    store = any_store
    sub, _ = await store.subscribe(SubscriptionSpec(HERE, LEAF))
    [first, second] = await store.enqueue(
        [
            PlannedDelivery(HERE, "following", (), (sub.id,), "en", '{"title": "a"}'),
            PlannedDelivery(HERE, "following", (), (sub.id,), "en", '{"title": "b"}'),
        ],
        10.0,
    )
    [claimed] = await store.claim_due(10.0, 1)
    kept = await store.keep_rendered(claimed.id, '{"message": {"title": "x"}}')
    assert await store.mark_failed(claimed, MISSING_ACCESS, "403")  # pauses the channel
    assert await store.requeue([second, 999], 50.0) == [second]  # held back: failed too
    assert await store.requeue([first, first], 50.0) == [first]  # once
    row = await store.delivery(first)
    assert row is not None
    assert (row.status, row.attempts, row.last_error, row.reason) == ("pending", 0, None, None)
    assert (row.next_attempt_at, row.rendered) == (50.0, kept)  # the text first rendered
    # the subscription stays paused: requeueing is not resuming
    [still] = await store.subscriptions()
    assert still.status == "paused"
    assert await store.requeue([first], 60.0) == []  # pending, not failed: untouched
