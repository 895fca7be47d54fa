"""Subscriptions end to end: a real SQLite store, the detector's fan-out, the delivery worker.

Most tests use a small made-up history so that each import crosses exactly the thresholds a test
wants. After the history import (a source's first import is history, never news):

    Nissan Leaf 95,000 + Nissan e-NV200 30,000 = Nissan 125,000
    Renault Zoe 60,000                          = Renault 60,000
                                                  Alliance 185,000

Under twelve months of data there is no growth, record or share news, only milestones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.delivery.following import SubscribeResult, subscribe
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import MISSING_ACCESS, Channel, DeliveryFailure, Limits
from bot.domain.deliveries import DeliveryRow
from bot.domain.formatting import format_units
from bot.domain.messages import Message
from bot.domain.records import SalesRecord, SourceSpec, StoredEvent
from bot.domain.settings import Config, default_config
from bot.domain.subscriptions import SubscriptionError, SubscriptionSpec, ladder_objects
from bot.ingest.canonical import parse_canonical
from bot.ingest.importer import DEMO_SOURCE, demo_data_path
from bot.reading.queries import load_catalog
from bot.store.sqlite.sales import SqliteStore

C1 = Channel("test", "guild", "c1")
C2 = Channel("test", "guild", "c2")
C3 = Channel("test", "guild", "c3")
SOURCE = SourceSpec("test-source")


class CollectingAdapter:
    """A chat platform that keeps what it is sent (a ChatAdapter for tests)."""

    platform = "test"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self) -> None:
        self.posts: list[tuple[Channel, Message, str]] = []
        self.by_key: dict[str, str] = {}
        self.failures: list[DeliveryFailure] = []  # raised by the next posts, in order

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        if self.failures:
            raise self.failures.pop(0)
        if key in self.by_key:
            return self.by_key[key]
        self.posts.append((channel, message, key))
        self.by_key[key] = f"msg-{len(self.posts)}"
        return self.by_key[key]

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return self.by_key.get(key)


def rec(period: str, make: str, model: str, units: int, region: str = "World") -> SalesRecord:
    return SalesRecord(period, region, make, model, units, "BEV")


HISTORY = [
    rec("2020-01", "Nissan", "Leaf", 95_000),
    rec("2020-01", "Nissan", "e-NV200", 30_000),
    rec("2020-01", "Renault", "Zoe", 60_000),
]
# Leaf 101,000: the Leaf crosses 100,000, nothing else does
LEAF_100K = [rec("2020-02", "Nissan", "Leaf", 6_000)]
# after LEAF_100K: Zoe 70,000, Alliance 201,000: only the Alliance crosses (200,000)
ALLIANCE_200K = [rec("2020-03", "Renault", "Zoe", 10_000)]
# after both: Leaf 151,000 (150,000), Nissan 181,000 (150,000), Alliance 251,000 (250,000)
THREE_AT_ONCE = [rec("2020-04", "Nissan", "Leaf", 50_000)]


def text(message: Message) -> str:
    return f"{message.title}\n{message.body}"


def bullets(message: Message) -> list[str]:
    """The compact lines of a grouped message, without the figures each carries."""
    return [line.split(" (")[0] for line in message.body.splitlines() if line.startswith("• ")]


@dataclass
class Bot:
    """The parts of the running bot these tests drive by hand."""

    store: SqliteStore
    config: Config
    detector: Detector
    worker: DeliveryWorker
    adapter: CollectingAdapter
    catalog: Any = None
    seen: int = 0
    months: list[str] = field(default_factory=list)

    async def feed(self, records: Sequence[SalesRecord]) -> list[StoredEvent]:
        """Import (news, after the history) and poll: the poll fans out to the outbox."""
        await self.store.import_records([(SOURCE, records)], file="test")
        self.catalog = await load_catalog(self.store, self.config)
        return await self.detector.poll()

    async def follow(self, subject: str, channel: Channel = C1, **settings: Any) -> SubscribeResult:
        resolved = self.catalog.resolve(subject)
        spec = SubscriptionSpec(channel, resolved.subject, **settings)
        return await subscribe(self.store, self.config, spec, time.time())

    async def drain(self) -> list[tuple[Channel, Message]]:
        """Deliver what is due; returns what was posted since the last call."""
        await self.worker.drain(limit_seconds=10)
        new = self.adapter.posts[self.seen :]
        self.seen = len(self.adapter.posts)
        return [(c, m) for c, m, _ in new]

    async def rows(self, status: str | None = None) -> list[DeliveryRow]:
        return sorted(await self.store.deliveries(status, limit=1000), key=lambda d: d.id)


async def start_bot(tmp_path: Path, history: Sequence[SalesRecord] = HISTORY) -> Bot:
    config = replace(
        default_config(),
        ladders={"default": "default", "headline": (100_000, 250_000)},
    )
    store = SqliteStore(tmp_path / "bot.sqlite3")
    await store.open()
    await store.sync_groups(config.groups)
    adapter = CollectingAdapter()
    worker = DeliveryWorker(store, {"test": adapter}, ladder_objects(config.ladders))
    bot = Bot(store, config, Detector(store, config), worker, adapter)
    assert await bot.feed(history) == []  # a first import is history: no news
    return bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    b = await start_bot(tmp_path)
    try:
        yield b
    finally:
        await b.store.close()


# -- subscribing: the baseline, never the history ----------------------------------------------


async def test_subscribing_sends_one_baseline_and_no_history(tmp_path: Path) -> None:
    parsed = parse_canonical(demo_data_path(), DEMO_SOURCE)
    first_half = [r for r in parsed.records[DEMO_SOURCE] if r.period <= "2015-06"]
    bot = await start_bot(tmp_path, first_half)
    try:
        history = await bot.store.milestone_log(limit=1000)
        assert len(history) > 20 and all(m["history"] for m in history)
        await bot.follow("alliance", created_by="alice")
        posts = await bot.drain()
        assert len(posts) == 1
        channel, message = posts[0]
        assert channel == C1
        assert message.kind == "following"
        assert message.title == "Now following Renault-Nissan Alliance"
        assert message.body.startswith(
            "Now following Renault-Nissan Alliance: 256,132 so far (through June 2015); "
            "next milestone 300,000"
        )
        assert ("Total", "256,132") in [(f.name, f.value) for f in message.fields]
        assert "passes" not in message.body and "passed" not in message.body
        # nothing else was queued: no old milestone, no share, no growth
        assert [d.kind for d in await bot.rows()] == ["following"]
        await bot.drain()
        assert len(bot.adapter.posts) == 1
    finally:
        await bot.store.close()


async def test_the_baseline_follows_the_subscription_ladder_and_locale(bot: Bot) -> None:
    await bot.follow("alliance", ladder="headline", locale="fr")
    [(_, message)] = await bot.drain()
    assert message.locale == "fr"
    assert f"{format_units(185_000, 'fr')} à ce jour" in message.body  # in French
    assert f"prochain cap : {format_units(250_000, 'fr')}" in message.body  # not 200,000


async def test_subscribing_twice_keeps_one_row_and_updates_settings(bot: Bot) -> None:
    first = await bot.follow("alliance", created_by="alice")
    assert first.created
    again = await bot.follow("Renault-Nissan", ladder="headline", locale="fr", created_by="bob")
    assert not again.created  # "already followed; settings updated"
    assert again.subscription.id == first.subscription.id
    assert again.overlaps == []  # the same subject is not an overlap with itself
    [sub] = await bot.store.subscriptions()
    assert (sub.spec.ladder, sub.spec.locale) == ("headline", "fr")
    # who created it and when stay the first subscriber's
    assert sub.spec.created_by == "alice"
    assert sub.created_at == first.subscription.created_at
    # one baseline per subscribe call, the second under the new settings
    posts = await bot.drain()
    assert [m.kind for _, m in posts] == ["following", "following"]
    assert "next milestone 200,000" in posts[0][1].body
    assert f"prochain cap : {format_units(250_000, 'fr')}" in posts[1][1].body
    # and the news is sent once, under the updated ladder
    await bot.feed(LEAF_100K)
    await bot.feed(ALLIANCE_200K)  # 200,000 is not on the headline ladder
    posts = await bot.drain()
    assert [m.title for _, m in posts] == [
        f"Nissan Leaf franchit le cap des {format_units(100_000, 'fr')} ventes"
    ]


async def test_who_and_when_are_recorded(bot: Bot) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = await bot.follow("nissan leaf", created_by="carol (U123)")
    after = datetime.now(UTC)
    stored = await bot.store.subscription(result.subscription.id)
    assert stored is not None
    assert stored.spec.created_by == "carol (U123)"
    created = datetime.strptime(stored.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= created <= after
    assert (stored.status, stored.paused_reason, stored.last_error) == ("active", None, None)


async def test_a_bad_setting_is_refused_and_nothing_is_stored(bot: Bot) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ladder": "nope"}, "ladder"),
        ({"kinds": ("milestone", "gossip")}, "kinds"),
        ({"kinds": ()}, "kinds"),
        ({"mode": "hourly"}, "mode"),
        ({"digest_at": "25:00"}, "time"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ]
    for settings, setting in cases:
        with pytest.raises(SubscriptionError, match=rf"^{setting}: "):
            await bot.follow("alliance", **settings)
    assert await bot.store.subscriptions() == []
    assert await bot.rows() == []


async def test_a_bad_locale_is_refused_and_nothing_is_stored(bot: Bot) -> None:
    with pytest.raises(SubscriptionError, match=r"^locale: "):
        await bot.follow("alliance", locale="xx-nowhere")
    assert await bot.store.subscriptions() == []


# -- overlapping subscriptions in one channel --------------------------------------------------


async def test_overlapping_subscriptions_send_each_event_once_with_the_most_specific_settings(
    bot: Bot,
) -> None:
    alliance = (await bot.follow("alliance")).subscription
    leaf_result = await bot.follow("nissan leaf", locale="fr", ladder="headline")
    leaf = leaf_result.subscription
    assert [s.id for s in leaf_result.overlaps] == [alliance.id]
    assert len(await bot.drain()) == 2  # two baselines

    # a Leaf milestone: covered by both, sent once, under the Leaf subscription (fr)
    events = await bot.feed(LEAF_100K)
    assert [e.event.subject.name for e in events] == ["Nissan Leaf"]
    [delivery] = await bot.rows("pending")
    assert delivery.subscription_ids == (leaf.id,)
    [(channel, message)] = await bot.drain()
    assert channel == C1
    assert message.locale == "fr"
    assert message.title == f"Nissan Leaf franchit le cap des {format_units(100_000, 'fr')} ventes"
    assert format_units(101_000, "fr") in message.body and "101,000" not in message.body

    # an Alliance milestone: only the Alliance subscription covers it (en)
    await bot.feed(ALLIANCE_200K)
    [delivery] = await bot.rows("pending")
    assert delivery.subscription_ids == (alliance.id,)
    [(_, message)] = await bot.drain()
    assert message.locale == "en"
    assert message.title == "Renault-Nissan Alliance passes 200,000 electric cars sold"

    # the Leaf's 150,000 is not on the Leaf subscription's ladder: among the subscriptions
    # that admit it (kinds and ladder first), the Alliance one applies and tells it (issue 15)
    await bot.feed(THREE_AT_ONCE)
    [(_, message)] = await bot.drain()
    assert message.locale == "en"
    assert message.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    assert bullets(message) == [
        "• Nissan passes 150,000 electric cars sold",
        "• Nissan Leaf passes 150,000 sales",
    ]


async def test_a_poll_sends_one_message_per_locale_of_the_channel(bot: Bot) -> None:
    # a channel whose subscriptions differ in locale gets one grouped message per locale, so
    # every line is in the language its subscription asked for
    await bot.follow("alliance")
    await bot.follow("nissan leaf", locale="fr")
    await bot.drain()
    # from the history: Leaf 100,000, Nissan 150,000, Alliance 200,000
    await bot.feed(THREE_AT_ONCE)
    messages = sorted((m for _, m in await bot.drain()), key=lambda m: m.locale)
    assert [m.locale for m in messages] == ["en", "fr"]
    english, french = messages
    assert english.title == "Renault-Nissan Alliance passes 200,000 electric cars sold"
    assert bullets(english) == ["• Nissan passes 150,000 electric cars sold"]
    assert "Nissan Leaf passes" not in english.body
    assert french.title == f"Nissan Leaf franchit le cap des {format_units(100_000, 'fr')} ventes"


async def test_a_broad_subscription_hears_the_subjects_inside_it(bot: Bot) -> None:
    await bot.follow("alliance")
    await bot.drain()
    await bot.feed(LEAF_100K)  # a model inside a make inside the group
    [(_, message)] = await bot.drain()
    assert message.title == "Nissan Leaf passes 100,000 sales"


# -- one poll, one message per channel ---------------------------------------------------------


async def test_several_events_of_one_poll_go_out_as_one_message_per_channel(bot: Bot) -> None:
    await bot.follow("alliance", channel=C1)
    await bot.follow("nissan leaf", channel=C2)
    await bot.drain()
    events = await bot.feed(THREE_AT_ONCE)  # from the history: Leaf, Nissan and Alliance cross
    names = {e.event.subject.name for e in events if e.event.kind == "milestone"}
    assert {"Nissan Leaf", "Nissan", "Renault-Nissan Alliance"} <= names
    pending = await bot.rows("pending")
    assert sorted((d.channel, len(d.event_ids)) for d in pending) == [(C1, 3), (C2, 1)]
    posts = dict(await bot.drain())
    assert posts[C1].title == "Renault-Nissan Alliance passes 200,000 electric cars sold"
    assert bullets(posts[C1]) == [
        "• Nissan passes 150,000 electric cars sold",
        "• Nissan Leaf passes 100,000 sales",
    ]
    assert posts[C2].title == "Nissan Leaf passes 100,000 sales"
    assert len(bot.adapter.posts) == 2 + 2  # baselines, then one message per channel


async def test_a_poll_with_nothing_new_queues_nothing(bot: Bot) -> None:
    await bot.follow("alliance")
    await bot.drain()
    assert await bot.detector.poll() == []
    await bot.feed([rec("2020-02", "Nissan", "Leaf", 10)])  # news, but no threshold
    assert await bot.rows("pending") == []


# -- filters: ladder, kinds, region -------------------------------------------------------------


async def test_a_subscription_ladder_lets_only_its_thresholds_through(bot: Bot) -> None:
    await bot.follow("alliance", ladder="headline")  # 100,000 and 250,000 only
    await bot.drain()
    # one jump: Leaf 165,000 (100,000 and 150,000), Nissan 195,000 (150,000),
    # Alliance 255,000 (200,000 and 250,000)
    await bot.feed([rec("2020-02", "Nissan", "Leaf", 70_000)])
    [(_, message)] = await bot.drain()
    assert message.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    assert bullets(message) == ["• Nissan Leaf passes 100,000 sales"]
    assert "200,000" not in message.body and "150,000" not in message.body
    # a poll whose only crossing is off the ladder queues nothing for the channel
    # e-NV200 76,000 (50,000 and 75,000), Nissan 241,000, Alliance 301,000 (300,000)
    await bot.feed([rec("2020-03", "Nissan", "e-NV200", 46_000)])
    assert await bot.rows("pending") == []
    assert await bot.drain() == []


async def test_the_default_ladder_hears_every_detected_threshold(bot: Bot) -> None:
    await bot.follow("alliance")
    await bot.drain()
    await bot.feed([rec("2020-02", "Nissan", "Leaf", 70_000)])
    [(_, message)] = await bot.drain()
    assert message.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    assert "• Nissan passes 150,000 electric cars sold" in message.body
    assert "• Nissan Leaf passes 150,000 sales" in message.body


async def test_kinds_filter_what_a_channel_hears(bot: Bot) -> None:
    await bot.follow("alliance", channel=C1, kinds=("share", "growth", "record"))
    await bot.follow("alliance", channel=C2, kinds=("milestone",))
    await bot.drain()
    await bot.feed(LEAF_100K)
    await bot.feed(ALLIANCE_200K)
    posts = await bot.drain()
    assert [c for c, _ in posts] == [C2, C2]
    assert all(m.kind == "milestone" for _, m in posts)
    assert {d.channel for d in await bot.rows()} == {C1, C2}  # C1 only had its baseline
    assert [d.kind for d in await bot.rows() if d.channel == C1] == ["following"]


async def test_region_filter(tmp_path: Path) -> None:
    bot = await start_bot(
        tmp_path,
        [
            rec("2020-01", "Nissan", "Leaf", 95_000, region="France"),
            rec("2020-01", "Nissan", "Leaf", 2_000, region="Norway"),
        ],
    )
    try:
        await bot.follow("nissan leaf", channel=C1, region="France")
        await bot.follow("nissan leaf", channel=C2, region="Norway")
        await bot.follow("nissan leaf", channel=C3)  # World
        baselines = dict(await bot.drain())
        assert "95,000 so far" in baselines[C1].body
        assert "2,000 so far" in baselines[C2].body
        assert "97,000 so far" in baselines[C3].body
        # Leaf France 101,000 and Leaf World 103,000 both cross 100,000; Norway does not move
        await bot.feed([rec("2020-02", "Nissan", "Leaf", 6_000, region="France")])
        posts = dict(await bot.drain())
        assert set(posts) == {C1, C3}
        assert posts[C1].title == "Nissan Leaf passes 100,000 sales in France"
        # the world's figure is made of France and Norway alone, and says so
        assert posts[C3].title == "Nissan Leaf passes 100,000 sales in France and Norway"
    finally:
        await bot.store.close()


# -- unsubscribing ------------------------------------------------------------------------------


async def test_unsubscribing_cancels_queued_deliveries_at_once(bot: Bot) -> None:
    await bot.follow("alliance", channel=C1)
    await bot.follow("alliance", channel=C2)
    await bot.drain()
    await bot.feed(THREE_AT_ONCE)
    queued = {d.channel: d for d in await bot.rows("pending")}
    assert set(queued) == {C1, C2}
    alliance_key = bot.catalog.resolve("alliance").subject.key
    assert await bot.store.unsubscribe(C1, alliance_key) == 1
    cancelled = {d.id: d for d in await bot.rows("cancelled")}
    assert set(cancelled) == {queued[C1].id}
    assert cancelled[queued[C1].id].reason == "unsubscribed"
    posts = await bot.drain()
    assert [c for c, _ in posts] == [C2]
    # and later news does not reach C1 either
    await bot.feed([rec("2020-05", "Renault", "Zoe", 50_000)])  # Alliance 285,000: 250,000
    assert [d.channel for d in await bot.rows("pending")] == [C2]


async def test_unsubscribing_everything_in_a_channel(bot: Bot) -> None:
    await bot.follow("alliance")
    await bot.follow("nissan leaf")
    await bot.follow("alliance", channel=C2)
    await bot.drain()
    await bot.feed(LEAF_100K)
    assert await bot.store.unsubscribe(C1, None) == 2
    assert [s.channel for s in await bot.store.subscriptions()] == [C2]
    assert [c for c, _ in await bot.drain()] == [C2]
    assert await bot.store.unsubscribe(C1, None) == 0


async def test_a_delivery_claimed_before_the_unsubscribe_is_not_posted(bot: Bot) -> None:
    """The worker re-reads the subscriptions just before posting (compose)."""
    sub = (await bot.follow("alliance")).subscription
    await bot.drain()
    await bot.feed(LEAF_100K)
    [row] = await bot.store.claim_due(time.time() + 1, 10)  # in flight: not cancellable by SQL
    await bot.store.unsubscribe(C1, sub.spec.subject.key)
    assert await bot.worker.compose(row) is None
    await bot.worker.deliver(row)
    assert bot.adapter.posts[bot.seen :] == []
    done = {d.id: d for d in await bot.rows()}[row.id]
    assert (done.status, done.reason) == ("cancelled", "no longer subscribed")


async def test_unsubscribing_before_the_baseline_goes_out_cancels_it(bot: Bot) -> None:
    result = await bot.follow("alliance")
    await bot.store.unsubscribe(C1, result.subscription.spec.subject.key)
    assert await bot.drain() == []


# -- pausing and resuming -----------------------------------------------------------------------


async def test_a_paused_subscription_gets_nothing_until_resumed(bot: Bot) -> None:
    sub = (await bot.follow("alliance")).subscription
    await bot.drain()
    await bot.feed(LEAF_100K)
    await bot.feed(ALLIANCE_200K)
    first, second = await bot.rows("pending")
    # the platform refuses the first: missing access pauses the channel at once
    paused = await bot.store.mark_failed(first, MISSING_ACCESS, "403 Missing Access")
    assert paused
    stored = await bot.store.subscription(sub.id)
    assert stored is not None
    assert (stored.status, stored.paused_reason) == ("paused", MISSING_ACCESS)
    assert stored.last_error == "missing_access: 403 Missing Access"
    # the queue behind it is held, and would compose to nothing while paused
    held = {d.id: d for d in await bot.rows("failed")}
    assert held[second.id].last_error == "channel paused"
    assert await bot.worker.compose(held[second.id]) is None
    assert await bot.drain() == []
    # a paused channel gets no new deliveries either
    await bot.feed(THREE_AT_ONCE)
    assert await bot.rows("pending") == []
    # resume: active again, and what the pause held back goes out, in order
    assert await bot.store.resume(C1) == 1
    stored = await bot.store.subscription(sub.id)
    assert stored is not None and stored.active and stored.paused_reason is None
    posts = await bot.drain()
    assert [m.title for _, m in posts] == [
        "Nissan Leaf passes 100,000 sales",
        "Renault-Nissan Alliance passes 200,000 electric cars sold",
    ]
    await bot.feed([rec("2020-05", "Renault", "Zoe", 60_000)])  # Alliance 311,000: 300,000
    [(_, message)] = await bot.drain()
    assert "Renault-Nissan Alliance passes 300,000 electric cars sold" in text(message)
    assert await bot.store.resume(C1) == 0  # nothing paused any more


async def test_resuming_one_subject_keeps_the_others_held_deliveries(bot: Bot) -> None:
    leaf = (await bot.follow("nissan leaf")).subscription
    alliance = (await bot.follow("alliance")).subscription
    await bot.drain()
    await bot.feed(LEAF_100K)  # for the Leaf subscription
    await bot.feed(ALLIANCE_200K)  # for the Alliance subscription
    first, _ = await bot.rows("pending")
    await bot.store.mark_failed(first, MISSING_ACCESS, "403 Missing Access")  # pauses both
    assert await bot.store.resume(C1, leaf.spec.subject.key) == 1
    posted = [m.title for _, m in await bot.drain()]
    assert await bot.store.resume(C1, alliance.spec.subject.key) == 1
    posted += [m.title for _, m in await bot.drain()]
    assert posted == [
        "Nissan Leaf passes 100,000 sales",
        "Renault-Nissan Alliance passes 200,000 electric cars sold",
    ]


async def test_the_worker_pauses_a_channel_the_platform_refuses(bot: Bot) -> None:
    sub = (await bot.follow("alliance")).subscription
    await bot.drain()
    await bot.feed(LEAF_100K)
    bot.adapter.failures.append(
        DeliveryFailure(MISSING_ACCESS, permanent=True, detail="403 Missing Access")
    )
    assert await bot.drain() == []
    assert bot.worker.stats.failed == 1
    [failed] = await bot.rows("failed")
    assert (failed.reason, failed.last_error) == (MISSING_ACCESS, "403 Missing Access")
    stored = await bot.store.subscription(sub.id)
    assert stored is not None and stored.status == "paused"
    assert await bot.store.resume(C1, sub.spec.subject.key) == 1
    [(_, message)] = await bot.drain()
    assert message.title == "Nissan Leaf passes 100,000 sales"


async def test_subscribing_again_resumes_a_paused_subscription(bot: Bot) -> None:
    sub = (await bot.follow("alliance")).subscription
    [row] = await bot.rows("pending")
    await bot.store.mark_failed(row, MISSING_ACCESS, "403")
    result = await bot.follow("alliance")
    assert not result.created and result.subscription.id == sub.id
    assert result.subscription.active and result.subscription.failures == 0


async def test_the_outbox_survives_a_restart_of_the_worker(bot: Bot, tmp_path: Path) -> None:
    await bot.follow("alliance")
    await bot.feed(LEAF_100K)
    await bot.store.close()
    store = SqliteStore(tmp_path / "bot.sqlite3")
    await store.open()
    try:
        adapter = CollectingAdapter()
        worker = DeliveryWorker(store, {"test": adapter}, ladder_objects(bot.config.ladders))
        await worker.drain(limit_seconds=10)
        assert [m.kind for _, m, _ in adapter.posts] == ["following", "milestone"]
    finally:
        await store.close()
    await bot.store.open()  # for the fixture's close


async def test_fan_out_is_quick_with_many_channels(bot: Bot) -> None:
    """Sixty channels, one poll: one delivery each, delivered together."""
    channels = [Channel("test", "guild", f"ch{i}") for i in range(60)]
    await asyncio.gather(*(bot.follow("alliance", channel=c) for c in channels))
    await bot.drain()
    started = time.monotonic()
    await bot.feed(LEAF_100K)
    assert len(await bot.rows("pending")) == 60
    posts = await bot.drain()
    assert sorted(c.channel for c, _ in posts) == sorted(c.channel for c in channels)
    assert time.monotonic() - started < 10
