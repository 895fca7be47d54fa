"""/ev-mute and /ev-unmute end to end (issue 18), on both backends (PostgreSQL where
EVBOT_TEST_POSTGRES_DSN is set: `any_store`, conftest): figures go in, a poll detects, and the
outbox shows what each channel would be sent. A muted channel is sent nothing about the subject
(the milestone is recorded all the same); after /ev-unmute or the mute's end it is sent again;
`then:digest` keeps the news for the digest, `then:drop` drops it."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from bot.app.bootstrap import open_commands
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.deliveries import DeliveryRow
from bot.domain.mutes import MuteError, parse_duration
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.ports.store import BotStore

A = Channel("discord", "guild", "muted")
B = Channel("discord", "guild", "loud")
SOURCE = SourceSpec("monthly")
DAY = 86400.0


def leaf(month: str, units: int) -> list[SalesRecord]:
    return [
        SalesRecord(month, WORLD, "Nissan", "Leaf", units),
        SalesRecord(month, WORLD, "Nissan", "e-NV200", 500),
    ]


async def ask(ctx: CommandContext, channel: Channel, text: str, manager: bool = True) -> Reply:
    return await run_text(ctx, Invocation(channel, "alice", can_manage=manager), text)


async def post_everything(store: BotStore) -> None:
    while rows := await store.claim_due(time.time() + 10 * DAY, 100):
        for row in rows:
            await store.mark_posted(row.id, f"m{row.id}", time.time())


async def instant(store: BotStore, channel: Channel) -> list[DeliveryRow]:
    """The instant deliveries waiting for a channel."""
    rows = await store.deliveries("pending", limit=1000)
    return [d for d in rows if d.kind == "instant" and d.channel == channel]


async def milestones(store: BotStore, event_ids: Sequence[int]) -> list[str]:
    events = await store.events_by_id(event_ids)
    return [f"{e.subject.name} {e.kind}" for e in events.values() if e.kind == "milestone"]


@pytest.fixture
async def ctx(any_store: BotStore) -> CommandContext:
    """Leaf history of 96,000 detected; channels A and B follow the Leaf, told of nothing yet."""
    store = any_store
    config = default_config()
    await store.sync_groups(config.groups)
    history = [r for i in range(24) for r in leaf(f"{2014 + i // 12}-{i % 12 + 1:02d}", 4_000)]
    await store.import_records([(SOURCE, history)])
    await Detector(store, config).poll()
    context = await open_commands(store, config)
    for channel in (A, B):
        assert (await ask(context, channel, "/ev-subscribe nissan leaf")).ok
    await post_everything(store)
    return context


async def detect(ctx: CommandContext, month: str, units: int, at: float | None = None) -> None:
    await ctx.store.import_records([(SOURCE, leaf(month, units))])
    clock = (lambda: at) if at is not None else time.time
    await Detector(ctx.store, ctx.config, clock=clock).poll()


async def test_muted_channel_is_sent_nothing_and_unmuted_is_sent_again(
    ctx: CommandContext,
) -> None:
    store = ctx.store
    reply = await ask(ctx, A, "/ev-mute nissan leaf for:7d then:drop")
    assert reply.ok, reply.message.body
    assert "until" in reply.message.body and "is not posted here at all" in reply.message.body
    await detect(ctx, "2016-01", 5_000)  # 101,000: passes 100,000
    assert await instant(store, A) == []  # muted: nothing posted
    [loud] = await instant(store, B)
    assert await milestones(store, loud.event_ids) == ["Nissan Leaf milestone"]
    # never lost from history: recorded, as /ev-milestones shows
    recorded = [e for e in await store.events() if e.event.kind == "milestone"]
    assert [e.id for e in recorded] == list(loud.event_ids)
    [sub_a] = await store.subscriptions(A)
    assert await store.digest_size(sub_a.id) == 0  # drop: not kept for the digest either
    await post_everything(store)

    reply = await ask(ctx, A, "/ev-unmute nissan leaf")
    assert reply.ok, reply.message.body
    await detect(ctx, "2016-02", 50_000)  # 151,000: passes 150,000
    [now_heard] = await instant(store, A)
    assert await milestones(store, now_heard.event_ids) == ["Nissan Leaf milestone"]
    assert len(await instant(store, B)) == 1


async def test_a_mute_ends_by_itself(ctx: CommandContext) -> None:
    assert (await ask(ctx, A, "/ev-mute leaf for:12h then:drop")).ok
    await detect(ctx, "2016-01", 5_000, at=time.time() + 13 * 3600)  # after the mute's end
    [heard] = await instant(ctx.store, A)
    assert await milestones(ctx.store, heard.event_ids) == ["Nissan Leaf milestone"]


async def test_digest_choice_keeps_the_news_for_the_digest(ctx: CommandContext) -> None:
    store = ctx.store
    reply = await ask(ctx, A, "/ev-mute nissan for:2w")  # the make covers the Leaf; digest
    assert reply.ok and "next digest" in reply.message.body, reply.message.body
    await detect(ctx, "2016-01", 5_000)
    assert await instant(store, A) == []
    [sub_a] = await store.subscriptions(A)
    delivery_id = await store.take_digest(sub_a.id, time.time())
    assert delivery_id is not None
    digest = await store.delivery(delivery_id)
    assert digest is not None and digest.kind == "digest" and digest.channel == A
    assert await milestones(store, digest.event_ids) == ["Nissan Leaf milestone"]


async def test_mute_all_silences_everything_and_unmute_all_ends_every_mute(
    ctx: CommandContext,
) -> None:
    assert (await ask(ctx, A, "/ev-mute all for:30m then:drop")).ok
    assert (await ask(ctx, A, "/ev-mute leaf for:7d")).ok
    again = await ask(ctx, A, "/ev-mute leaf for:1d")  # replaces the 7 days
    assert again.ok and again.data is not None and again.data["replaced"]
    assert "This replaces the mute that ran until" in again.message.body
    assert [m.until < time.time() + 2 * DAY for m in await ctx.store.mutes(A, time.time())] == [
        True,
        True,
    ]
    await detect(ctx, "2016-01", 5_000)
    assert await instant(ctx.store, A) == []
    reply = await ask(ctx, A, "/ev-unmute all")
    assert reply.ok and reply.data is not None
    assert len(reply.data["ended"]) == 2 and "all" in reply.data["ended"]
    assert await ctx.store.mutes(A, time.time()) == []


async def test_subscriptions_and_preview_show_the_mute(ctx: CommandContext) -> None:
    assert (await ask(ctx, A, "/ev-mute alliance for:7d then:drop")).ok
    listed = await ask(ctx, A, "/ev-subscriptions", manager=False)
    assert "Muted:" in listed.message.body
    assert listed.data is not None and [m["then"] for m in listed.data["mutes"]] == ["drop"]
    assert "(7 days more;" in listed.message.body
    await detect(ctx, "2016-01", 5_000)
    await ctx.refresh()
    preview = await ask(ctx, A, "/ev-preview nissan leaf", manager=False)
    assert preview.ok and preview.data is not None
    assert "Muted here:" in preview.message.body, preview.message.body
    assert preview.data["muted_until"] > time.time() + 6 * DAY
    reasons = {e["kind"]: e["reason"] for e in preview.data["events"]}
    assert reasons["milestone"].startswith("muted here (dropped); the mute ends ")
    assert reasons["record"] == reasons["milestone"]  # not "held for the digest": dropped
    other = await ask(ctx, B, "/ev-preview nissan leaf", manager=False)
    assert "Muted here" not in other.message.body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ev-mute leaf", "/ev-mute needs for (how long"),
        ("/ev-mute leaf for:soon", "for: 'soon' is not a duration"),
        ("/ev-mute leaf for:91d", "longer than the 90 days"),
        ("/ev-mute leaf for:0h", "no time at all"),
        ("/ev-mute leaf for:7d then:later", "then"),
        ("/ev-mute for:7d", "subject"),
        ("/ev-mute zzqqxx for:7d", "zzqqxx"),
        ("/ev-unmute leaf", "is not muted in this channel. Nothing is muted here."),
    ],
)
async def test_bad_mutes_say_why_and_change_nothing(
    ctx: CommandContext, text: str, expected: str
) -> None:
    reply = await ask(ctx, A, text)
    assert not reply.ok and reply.ephemeral
    assert expected in reply.message.body, reply.message.body
    assert await ctx.store.mutes(None, time.time()) == []


async def test_only_channel_managers_mute(ctx: CommandContext) -> None:
    for text in ("/ev-mute leaf for:7d", "/ev-unmute leaf"):
        reply = await ask(ctx, A, text, manager=False)
        assert not reply.ok and "permission to manage this channel" in reply.message.body
    assert await ctx.store.mutes(None, time.time()) == []
    assert COMMANDS["ev-mute"].manages_channel and COMMANDS["ev-unmute"].manages_channel


def test_durations() -> None:
    assert parse_duration("12h") == 12 * 3600
    assert parse_duration("7d") == 7 * DAY
    assert parse_duration("2W") == 14 * DAY
    assert parse_duration("90d") == 90 * DAY
    with pytest.raises(MuteError):
        parse_duration("13w")


def test_a_delivery_keeps_what_the_mute_does_not_cover() -> None:
    """One delivery grouping a muted and an unmuted subject keeps the unmuted one; the muted
    one goes to the digest (digest) or nowhere (drop); other channels and ended mutes are
    untouched."""
    from typing import Any, cast

    from bot.domain.mutes import Mute, apply_mutes
    from bot.domain.records import StoredEvent
    from bot.domain.subjects import ALL
    from bot.domain.subscriptions import FanoutPlan, PlannedDelivery, Subscription, SubscriptionSpec

    subs = [
        Subscription(1, SubscriptionSpec(A, ALL), ""),
        Subscription(2, SubscriptionSpec(B, ALL), ""),
    ]
    news = [
        (StoredEvent(10, cast(Any, None)), ["nissan:leaf", "make:nissan", "all"]),
        (StoredEvent(11, cast(Any, None)), ["tesla:model-3", "make:tesla", "all"]),
    ]

    def plan() -> FanoutPlan:
        return FanoutPlan(
            [
                PlannedDelivery(A, "instant", (10, 11), (1, 1), "en"),
                PlannedDelivery(B, "instant", (10, 11), (2, 2), "en"),
            ],
            [(1, 10), (2, 10)],
        )

    for then, digest in (("digest", [(1, 10), (2, 10)]), ("drop", [(2, 10)])):
        mute = Mute(A, "make:nissan", "Nissan", until=100.0, then=then)
        out = apply_mutes(plan(), news, subs, [mute], now=50.0)
        assert [(d.channel, d.event_ids, d.subscription_ids) for d in out.deliveries] == [
            (A, (11,), (1,)),
            (B, (10, 11), (2, 2)),
        ]
        assert sorted(out.digest_items) == digest
        ended = apply_mutes(plan(), news, subs, [mute], now=100.0)
        assert [d.event_ids for d in ended.deliveries] == [(10, 11), (10, 11)]
    everything = Mute(A, "all", "everything", until=100.0, then="drop")
    out = apply_mutes(plan(), news, subs, [everything], now=0.0)
    assert [d.channel for d in out.deliveries] == [B] and out.digest_items == [(2, 10)]
