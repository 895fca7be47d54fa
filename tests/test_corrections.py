"""Corrections of announced milestones, with successive imports and polls (replay and the demo
replay final figures, so they never show one).

A revision that takes an announced milestone back below its threshold, or moves its crossing to
another month, is told to exactly the channels that received the original (and are still
subscribed, and did not opt out), at once, and marks the original corrected where the platform
can edit; an original still pending is withdrawn instead; a re-crossing is "passes again"; a
re-recording a migration caused is silent. Deliveries keep the text of their first claim.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.settings import DiscordSettings
from adapters.slack.adapter import SlackAdapter
from adapters.webhook import WebhookAdapter
from bot.delivery.following import following_now
from bot.delivery.following import subscribe as follow
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel, DeliveryFailure, Limits
from bot.domain.corrections import SILENT_FLAG
from bot.domain.event_codec import event_from_dict, event_to_dict
from bot.domain.events import CorrectionEvent
from bot.domain.messages import Message
from bot.domain.periods import Month
from bot.domain.records import StoredEvent
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec, ladder_objects
from bot.ports.store import BotStore
from bot.store.postgres.migrations import PG_MIGRATIONS
from bot.store.sqlite.migrations import MIGRATIONS
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, SOURCE, leaf
from tests.fake_discord import CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord
from tests.fake_slack import FakeSlack
from tests.fake_webhook import FakeWebhook
from tests.test_slack_support import http_settings

LADDERS = ladder_objects(default_config().ladders)


class Recorder:
    """A chat platform that keeps what it was sent, deduplicates by key, and edits."""

    platform = "test"
    limits = Limits(1000.0, 1000.0)

    def __init__(self) -> None:
        self.posted: dict[str, tuple[str, Channel, Message]] = {}  # key -> (id, channel, msg)
        self.edits: list[tuple[Channel, str, Message]] = []
        self.fail_next: DeliveryFailure | None = None

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        if key not in self.posted:
            self.posted[key] = (f"m{len(self.posted) + 1}", channel, message)
        return self.posted[key][0]

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        found = self.posted.get(key)
        return found[0] if found else None

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        self.edits.append((channel, message_id, message))

    def to(self, channel: Channel) -> list[Message]:
        return [m for _, c, m in self.posted.values() if c == channel]


def here(n: int) -> Channel:
    return Channel("test", "guild", f"c{n}")


Factory = Callable[[], Any]


@pytest.fixture
def store(grouped_store: BotStore) -> BotStore:
    """Either backend, with the default groups (`make_store`, `grouped_store`: conftest)."""
    return grouped_store


class Story:
    """The Leaf's figures, imported and polled one step at a time."""

    def __init__(self, store: BotStore) -> None:
        self.store = store
        self.detector = Detector(store, default_config())

    async def figures(self, *months: tuple[int, int]) -> list[StoredEvent]:
        """Import the Leaf's units for these months of 2020 (a month again is a revision)."""
        await self.store.import_records([(SOURCE, [leaf(m, u) for m, u in months])])
        return await self.detector.poll()

    async def crossing(self) -> list[StoredEvent]:
        """History (1,200), then March takes the Leaf to 2,500: one milestone."""
        await self.figures((1, 600), (2, 600))
        return await self.figures((3, 1_300))


def worker(store: BotStore, adapter: Recorder) -> DeliveryWorker:
    return DeliveryWorker(store, {"test": adapter}, LADDERS)


async def subscribe(store: BotStore, channel: Channel, **settings: Any) -> None:
    await store.subscribe(SubscriptionSpec(channel, LEAF, charts=False, **settings))


def corrections(events: list[StoredEvent]) -> list[CorrectionEvent]:
    """The Leaf's corrections (its make, group and all EVs have theirs)."""
    return [
        e.event
        for e in events
        if isinstance(e.event, CorrectionEvent) and e.event.subject.key == LEAF.key
    ]


# -- pure parts -------------------------------------------------------------------------------


def test_a_correction_event_goes_to_json_and_back() -> None:
    event = CorrectionEvent(
        LEAF,
        "World",
        "sales",
        10_000,
        "moved",
        Month(2015, 4),
        10_120,
        Month(2015, 3),
        10_050,
        Month(2015, 4),
        10_120,
        "feed",
    )
    assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event


def test_the_correction_messages_say_what_changed() -> None:
    from bot.domain.announcer import announce

    below = CorrectionEvent(
        LEAF, "World", "sales", 10_000, "fell_below", Month(2015, 3), 9_870, Month(2015, 3), 10_050
    )
    text = announce(below).body
    assert "Correction: revised figures put the Nissan Leaf at 9,870 through March 2015" in text
    assert "below 10,000" in text and "announced for March 2015 no longer holds" in text
    moved = CorrectionEvent(
        LEAF,
        "World",
        "sales",
        10_000,
        "moved",
        Month(2015, 4),
        10_120,
        Month(2015, 3),
        10_050,
        Month(2015, 4),
        10_120,
    )
    assert "in April 2015, not March 2015 as announced" in announce(moved).body
    again = CorrectionEvent(
        LEAF,
        "World",
        "sales",
        10_000,
        "restored",
        Month(2015, 5),
        10_300,
        Month(2015, 3),
        10_050,
        Month(2015, 5),
        10_300,
    )
    assert announce(again).title == "Nissan Leaf passes 10,000 sales again"


def test_the_migration_is_appended_for_both_backends() -> None:
    # later migrations may follow it (milestone ranges do)
    assert any("store_flags" in m and "rendered" in m for m in MIGRATIONS[10:])
    assert any("store_flags" in m and "rendered" in m for m in PG_MIGRATIONS[2:])


# -- both backends ------------------------------------------------------------------------------


async def test_a_correction_reaches_exactly_the_channels_that_got_the_original(
    store: BotStore,
) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await subscribe(store, here(2))
    await subscribe(store, here(3), corrections=False)
    await story.crossing()
    adapter = Recorder()
    await worker(store, adapter).drain()
    assert [m.title for m in adapter.to(here(1))] == ["Nissan Leaf passes 2,500 sales"]
    # a channel that subscribes after the announcement never heard it: no correction for it
    await subscribe(store, here(4))
    await store.unsubscribe(here(2), LEAF.key)  # no longer subscribed: nothing more for it

    found = await story.figures((3, 1_200))  # March revised: 2,400, below 2,500

    (correction,) = corrections(found)
    assert correction.reason == "fell_below" and correction.value == 2_400
    await worker(store, adapter).drain()
    (told,) = adapter.to(here(1))[1:]
    assert told.kind == "correction"
    assert "revised figures put the Nissan Leaf at 2,400 through March 2020" in told.body
    # unsubscribed since, or opted out with --no-corrections: the original only
    for other in (here(2), here(3)):
        assert [m.kind for m in adapter.to(other)] == ["milestone"], other
    assert adapter.to(here(4)) == []
    # the original is marked corrected, where it was posted, on the channel still subscribed
    (edit,) = adapter.edits
    original_id = next(i for i, c, m in adapter.posted.values() if c == here(1))
    assert edit[0] == here(1) and edit[1] == original_id
    assert edit[2].title == "Corrected: Nissan Leaf passes 2,500 sales"
    assert "no longer holds" in edit[2].body


async def test_a_revision_that_moves_an_old_crossing_is_told_whatever_its_age(
    store: BotStore,
) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await story.crossing()
    await story.figures(*((m, 100) for m in range(4, 10)))  # April to September: 3,100
    adapter = Recorder()
    await worker(store, adapter).drain()

    found = await story.figures((3, 1_200))  # March (6 months old): 2,400; April 2,500

    (correction,) = corrections(found)
    assert (correction.reason, correction.new_period) == ("moved", Month(2020, 4))
    await worker(store, adapter).drain()
    told = adapter.to(here(1))[-1]
    assert "in April 2020, not March 2020 as announced" in told.body


async def test_a_pending_original_is_withdrawn_and_no_correction_follows(store: BotStore) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await story.crossing()  # queued, not yet claimed
    await story.figures((3, 1_200))
    adapter = Recorder()
    await worker(store, adapter).drain()
    assert adapter.posted == {}
    (row,) = await store.deliveries()
    assert (row.status, row.reason) == ("cancelled", "withdrawn")


async def test_an_original_in_an_unsent_digest_is_withdrawn(store: BotStore) -> None:
    story = Story(store)
    await subscribe(store, here(1), mode="daily")
    await story.crossing()
    (sub,) = await store.subscriptions(here(1))
    assert await store.digest_size(sub.id) == 1
    await story.figures((3, 1_200))
    assert await store.digest_size(sub.id) == 0
    assert await store.take_digest(sub.id, 0.0) is None


async def test_a_milestone_crossed_again_passes_again(store: BotStore) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await story.crossing()
    adapter = Recorder()
    await worker(store, adapter).drain()
    await story.figures((3, 1_200))
    await worker(store, adapter).drain()
    found = await story.figures((4, 300))  # April: 2,700

    (again,) = corrections(found)
    assert again.reason == "restored"
    await worker(store, adapter).drain()
    assert [m.title for m in adapter.to(here(1))] == [
        "Nissan Leaf passes 2,500 sales",
        "Correction: Nissan Leaf is below 2,500 sales",
        "Nissan Leaf passes 2,500 sales again",
    ]


async def test_a_re_recording_a_migration_caused_is_silent(store: BotStore) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await story.crossing()
    adapter = Recorder()
    await worker(store, adapter).drain()
    await store.set_flag(SILENT_FLAG)  # what a migration that stores periods anew does

    await story.figures((3, 1_200))

    await worker(store, adapter).drain()
    assert len(adapter.posted) == 1 and adapter.edits == []
    logged = [c for c in await store.correction_log() if c["subject"] == LEAF.name]
    assert [c["reason"] for c in logged] == ["fell_below"]  # recorded, told to no one
    # the flag was for that detection only: the next correction is told
    await story.figures((3, 1_300))
    await story.figures((3, 1_100))
    await worker(store, adapter).drain()
    assert [m.kind for m in adapter.to(here(1))][-1] == "correction"


async def test_a_crash_after_the_correction_was_posted_does_not_post_it_twice(
    make_store: Factory,
) -> None:
    store = make_store()
    await store.open()
    await store.sync_groups(default_config().groups)
    story = Story(store)
    await subscribe(store, here(1))
    await story.crossing()
    adapter = Recorder()
    await worker(store, adapter).drain()
    await story.figures((3, 1_200))
    # the worker renders, edits and posts, then dies before recording the post
    crashed = worker(store, adapter)
    (row,) = await store.claim_due(1e12, 10, ["test"])
    message = await crashed.rendered(row)
    assert message is not None and row.kind == "correction"
    assert await crashed.edit_originals(row, adapter) is None
    await adapter.post(row.channel, message, row.key)
    await store.close()

    restarted_store = make_store()
    await restarted_store.open()
    try:
        restarted = worker(restarted_store, adapter)
        await restarted.drain()

        assert restarted.stats.reconciled == 1 and restarted.stats.posted == 0
        assert [m.kind for m in adapter.to(here(1))] == ["milestone", "correction"]
        (settled,) = [d for d in await restarted_store.deliveries() if d.kind == "correction"]
        assert settled.status == "posted"
    finally:
        await restarted_store.close()


async def test_a_retry_sends_the_text_of_the_first_claim(store: BotStore) -> None:
    story = Story(store)
    config = default_config()
    await story.figures((1, 600), (2, 600))
    await follow(store, config, SubscriptionSpec(here(1), LEAF), 0.0)
    await story.figures((3, 1_300))  # after subscribing, before the notice went out
    adapter = Recorder()
    adapter.fail_next = DeliveryFailure("server_error", permanent=False)
    now = [1_000.0]

    def w() -> DeliveryWorker:
        return DeliveryWorker(
            store,
            {"test": adapter},
            LADDERS,
            clock=lambda: now[0],
            following=lambda sub: following_now(store, config, sub.spec),
        )

    await w().drain()
    (row,) = [d for d in await store.deliveries() if d.kind == "following"]
    assert row.status == "pending" and row.rendered is not None
    first = json.loads(row.rendered)["message"]["body"]
    assert "2,500 so far (through March 2020)" in first  # the figures at claim, not subscribe

    await story.figures((4, 500))  # the figures move on before the retry
    now[0] += 10_000
    await w().drain()
    (sent,) = adapter.to(here(1))
    assert sent.body == first


# -- the platforms, through their real client libraries against the local fakes ----------------


async def test_the_original_is_edited_on_slack_and_discord_and_named_by_the_webhook(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    slack_channel = Channel("slack", "T0001", "C0001")
    late_slack = Channel("slack", "T0001", "C0002")
    discord_channel = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))
    async with (
        SqliteStore(tmp_path / "bot.sqlite3") as store,
        FakeSlack() as fake_slack,
        FakeWebhook() as fake_hook,
    ):
        hook_channel = Channel("webhook", "default", fake_hook.url("news"))
        await store.sync_groups(default_config().groups)
        slack = SlackAdapter(http_settings(fake_slack))
        bot = DiscordAdapter(token=TOKEN, settings=DiscordSettings(), guild_ready_timeout=0.05)
        hook = WebhookAdapter(rate_per_second=200.0, channel_rate_per_second=50.0, timeout=2.0)
        adapters = {"slack": slack, "discord": bot, "webhook": hook}
        try:
            for channel in (slack_channel, discord_channel, hook_channel):
                await subscribe(store, channel)
            story = Story(store)
            await story.crossing()
            await DeliveryWorker(store, adapters, LADDERS).drain()
            (original_slack,) = fake_slack.in_channel("C0001")
            (original_discord,) = fake_discord.messages(CHANNEL_ID)
            (original_hook,) = fake_hook.accepted("news")
            await subscribe(store, late_slack)  # never heard the milestone

            await story.figures((3, 1_200))
            await DeliveryWorker(store, adapters, LADDERS).drain()

            # Slack: the original is updated in place, and the correction follows it
            (update,) = fake_slack.calls_to("chat.update")
            assert update.params["ts"] == original_slack.ts and update.error is None
            assert original_slack.text.startswith("Corrected: Nissan Leaf passes 2,500")
            assert original_slack.edits and original_slack.key is not None  # metadata kept
            told = fake_slack.in_channel("C0001")[1]
            assert told.text.startswith("Correction: Nissan Leaf is below 2,500 sales")
            assert fake_slack.in_channel("C0002") == []
            # Discord: the original's embed is edited; the correction is a message of its own
            (edit,) = original_discord.edits
            assert edit["embeds"][0]["title"].startswith("Corrected: Nissan Leaf passes 2,500")
            assert original_discord.payload["edited_timestamp"] is not None
            correction = fake_discord.messages(CHANNEL_ID)[1].body
            assert correction["embeds"][0]["title"].startswith("Correction: Nissan Leaf")
            # the webhook cannot edit: its correction names the original's delivery key
            correcting = fake_hook.accepted("news")[1]
            assert correcting.json["corrects"] == [original_hook.key]
            assert fake_hook.corrected == {original_hook.key: [correcting.key]}
            assert {d.status for d in await store.deliveries()} == {"posted"}
        finally:
            await slack.close()
            await bot.close()
            await hook.close()


async def test_a_deleted_original_does_not_hold_the_correction_back(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    discord_channel = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))
    async with SqliteStore(tmp_path / "bot.sqlite3") as store:
        await store.sync_groups(default_config().groups)
        bot = DiscordAdapter(token=TOKEN, settings=DiscordSettings(), guild_ready_timeout=0.05)
        try:
            await subscribe(store, discord_channel)
            story = Story(store)
            await story.crossing()
            await DeliveryWorker(store, {"discord": bot}, LADDERS).drain()
            fake_discord.channel_messages[str(CHANNEL_ID)].clear()  # someone deleted it

            await story.figures((3, 1_200))
            w = DeliveryWorker(store, {"discord": bot}, LADDERS)
            await w.drain()

            assert w.stats.edited == 0 and w.stats.posted == 1
            (correction,) = fake_discord.messages(CHANNEL_ID)
            assert correction.body["embeds"][0]["title"].startswith("Correction:")
            (sub,) = await store.subscriptions(discord_channel)
            assert sub.active  # an original that is gone never pauses the channel
        finally:
            await bot.close()


async def test_a_milestone_recorded_as_history_has_nothing_to_correct(store: BotStore) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await story.figures((1, 600), (2, 2_000))  # the first import: 2,500 passed, as history

    found = await story.figures((2, 600))  # revised below: logged, told to no one

    assert corrections(found) == []
    assert [c["reason"] for c in await store.correction_log() if c["subject"] == LEAF.name] == [
        "fell_below"
    ]
    assert not [s for s in await store.events() if s.event.kind == "correction"]


async def test_a_correction_waits_for_an_original_still_being_retried(store: BotStore) -> None:
    story = Story(store)
    await subscribe(store, here(1))
    await story.crossing()
    adapter = Recorder()
    adapter.fail_next = DeliveryFailure("server_error", permanent=False)
    now = [4e9]  # later than the detector's clock (the real one)

    def w() -> DeliveryWorker:
        return DeliveryWorker(store, {"test": adapter}, LADDERS, clock=lambda: now[0])

    await w().drain()  # claimed (its text fixed), failed, to be retried later
    (original,) = await store.deliveries()
    assert original.status == "pending" and original.rendered is not None

    await story.figures((3, 1_200))  # the original was rendered: it is not withdrawn

    await w().drain()  # the correction is due first, but must not overtake the original
    assert adapter.posted == {}
    now[0] += 10_000
    for _ in range(3):
        await w().drain()
        now[0] += 10
    assert [m.kind for m in adapter.to(here(1))] == ["milestone", "correction"]
    assert len(adapter.edits) == 1


async def test_ev_subscribe_takes_corrections_on_or_off(tmp_path: Path) -> None:
    from bot.app.bootstrap import open_commands
    from bot.commands.dispatch import run_text
    from bot.commands.types import Invocation

    channel = Channel("discord", "1", "2")
    who = Invocation(channel, "alice", can_manage=True)
    async with SqliteStore(tmp_path / "bot.sqlite3") as store:
        await store.sync_groups(default_config().groups)
        await store.import_records([(SOURCE, [leaf(1, 600)])])  # the Leaf is known
        ctx = await open_commands(store, default_config())
        reply = await run_text(ctx, who, "/ev-subscribe nissan leaf corrections:off")
        assert reply.ok, reply.message.body
        (sub,) = await store.subscriptions(channel)
        assert sub.spec.corrections is False
        listing = await run_text(ctx, who, "/ev-subscriptions")
        assert "no corrections" in listing.message.body
        bad = await run_text(ctx, who, "/ev-subscribe nissan leaf corrections:maybe")
        assert not bad.ok and "corrections: 'maybe' is not one of on, off" in bad.message.body


async def test_a_slack_original_that_is_gone_is_logged_and_the_correction_still_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slack_channel = Channel("slack", "T0001", "C0001")
    async with SqliteStore(tmp_path / "bot.sqlite3") as store, FakeSlack() as fake_slack:
        await store.sync_groups(default_config().groups)
        slack = SlackAdapter(http_settings(fake_slack))
        try:
            await subscribe(store, slack_channel)
            story = Story(store)
            await story.crossing()
            await DeliveryWorker(store, {"slack": slack}, LADDERS).drain()
            fake_slack.messages.clear()  # deleted in Slack

            await story.figures((3, 1_200))
            w = DeliveryWorker(store, {"slack": slack}, LADDERS)
            await w.drain()

            (update,) = fake_slack.calls_to("chat.update")
            assert update.error == "message_not_found"
            (told,) = fake_slack.in_channel("C0001")
            assert told.text.startswith("Correction: Nissan Leaf is below 2,500 sales")
            assert "not marked corrected" in caplog.text
            (sub,) = await store.subscriptions(slack_channel)
            assert sub.active and sub.failures == 0
        finally:
            await slack.close()


async def test_a_slack_edit_that_fails_for_a_while_is_retried_before_the_correction_goes(
    tmp_path: Path,
) -> None:
    slack_channel = Channel("slack", "T0001", "C0001")
    async with SqliteStore(tmp_path / "bot.sqlite3") as store, FakeSlack() as fake_slack:
        await store.sync_groups(default_config().groups)
        slack = SlackAdapter(http_settings(fake_slack))
        now = [4e9]  # later than the detector's clock (the real one)

        def w() -> DeliveryWorker:
            return DeliveryWorker(store, {"slack": slack}, LADDERS, clock=lambda: now[0])

        try:
            await subscribe(store, slack_channel)
            story = Story(store)
            await story.crossing()
            await w().drain()
            (original,) = fake_slack.in_channel("C0001")
            (original_row,) = await store.deliveries()
            await story.figures((3, 1_200))
            fake_slack.fail("chat.update", "internal_error", times=1)

            await w().drain()
            assert fake_slack.in_channel("C0001") == [original]  # the correction waits
            (row,) = [d for d in await store.deliveries() if d.kind == "correction"]
            assert (row.status, row.steps_done) == ("pending", ())

            now[0] += 10_000
            await w().drain()
            assert [c.error for c in fake_slack.calls_to("chat.update")] == ["internal_error", None]
            assert original.text.startswith("Corrected: Nissan Leaf passes 2,500")
            told = fake_slack.in_channel("C0001")[1]
            assert told.text.startswith("Correction: Nissan Leaf is below 2,500 sales")
            (row,) = [d for d in await store.deliveries() if d.kind == "correction"]
            assert (row.status, row.steps_done) == ("posted", (f"edit:{original_row.id}", "post"))
        finally:
            await slack.close()
