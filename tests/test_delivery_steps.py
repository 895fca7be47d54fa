"""A delivery is its whole message, done in steps the outbox records (`bot.domain.delivery_steps`).

On both backends (PostgreSQL skips without EVBOT_TEST_POSTGRES_DSN): the store keeps each step
and the post's message id as soon as they are done; the worker sends a chart that goes after the
post (as on Slack) as a step of its own: retried without posting again, settled when it can
never go, completed (never repeated) after a crash; a correction's edits of the messages it
corrects are steps too: a failing edit is retried, one done is never done again, one that
cannot be done is settled and the correction still goes out.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.delivery.steps import MAX_ATTEMPTS
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import Channel, DeliveryFailure, Limits
from bot.domain.delivery_steps import CHART, POST, done_steps, edit_step, settled
from bot.domain.events import MilestoneEvent
from bot.domain.ladders import Ladder
from bot.domain.messages import Message
from bot.domain.settings import default_config
from bot.domain.subscriptions import PlannedDelivery, SubscriptionSpec, ladder_objects
from bot.ports.chat import image_mode
from bot.ports.store import BotStore
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed
from tests.test_corrections import Recorder, Story

LADDERS = ladder_objects(default_config().ladders)
PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 50
HERE = Channel("thread", "team", "c1")
NOW = 4e9  # later than the detector's clock (the real one), so its deliveries are due

Factory = Callable[[], Any]


@pytest.fixture
def store(grouped_store: BotStore) -> BotStore:
    """Either backend, with the default groups (`make_store`, `grouped_store`: conftest)."""
    return grouped_store


class Thread:
    """A platform like Slack: posts are never deduplicated, and an image goes after the post
    into its thread, where it can be found again. Failures are queued per method."""

    platform = "thread"
    limits = Limits(1000.0, 1000.0)
    images = "followup"

    def __init__(self) -> None:
        self.messages: list[tuple[str, Channel, str, Message]] = []  # (id, channel, key, msg)
        self.files: list[tuple[str, str, str, Message]] = []  # (file id, post id, key, msg)
        self.failures: dict[str, list[DeliveryFailure]] = {}
        self._ids = itertools.count(1)

    def fail(self, method: str, *failures: DeliveryFailure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def _raise(self, method: str) -> None:
        if self.failures.get(method):
            raise self.failures[method].pop(0)

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        self._raise("post")
        assert message.image is None  # the chart goes after the post, never with it
        message_id = f"m{next(self._ids)}"
        self.messages.append((message_id, channel, key, message))
        return message_id

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return next((m for m, c, k, _ in self.messages if (c, k) == (channel, key)), None)

    async def post_followup(
        self, channel: Channel, message_id: str, message: Message, key: str
    ) -> str:
        self._raise("post_followup")
        file_id = f"F{next(self._ids)}"
        self.files.append((file_id, message_id, key, message))
        return file_id

    async def find_followup(self, channel: Channel, message_id: str, key: str) -> str | None:
        return next((f for f, m, k, _ in self.files if (m, k) == (message_id, key)), None)


class Charts:
    """A chart drawer that draws the same picture every time, or fails."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.drawn = 0

    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        self.drawn += 1
        if self.broken:
            raise RuntimeError("no figures to draw")
        return PNG, "leaf.png"


def transient(reason: str = "server_error") -> DeliveryFailure:
    return DeliveryFailure(reason, permanent=False)


def permanent(reason: str = "rejected_payload") -> DeliveryFailure:
    return DeliveryFailure(reason, permanent=True)


async def milestone_for(store: BotStore, channel: Channel = HERE) -> None:
    """The Leaf passes 2,500: one delivery, with a chart, to `channel`."""
    await store.subscribe(SubscriptionSpec(channel, LEAF, charts=True))
    feed = Feed(store, Detector(store, default_config()))
    await feed.history()
    await feed.news()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def worker(
    store: BotStore, adapter: Any, clock: Clock | None = None, charts: Charts | None = None
) -> DeliveryWorker:
    return DeliveryWorker(
        store,
        {adapter.platform: adapter},
        LADDERS,
        clock=clock or Clock(),
        charts=charts if charts is not None else Charts(),
    )


# -- the store --------------------------------------------------------------------------------


def test_step_entries_name_their_step_whether_done_or_settled() -> None:
    entries = [POST, settled(CHART, "missing_scope"), edit_step(17)]
    assert entries == ["post", "chart: missing_scope", "edit:17"]
    assert done_steps(entries) == {"post", "chart", "edit:17"}


async def test_steps_are_recorded_in_order_with_the_posts_id_and_outlive_a_retry(
    store: BotStore,
) -> None:
    (delivery_id,) = await store.enqueue(
        [PlannedDelivery(HERE, "following", (), (1,), "en", "{}")], 10.0
    )
    (row,) = await store.claim_due(10.0, 5)
    assert row.steps_done == () and not row.done(POST)

    await store.mark_step(delivery_id, POST, "m1")
    kept = await store.delivery(delivery_id)
    assert kept is not None
    assert (kept.status, kept.message_id, kept.steps_done) == ("inflight", "m1", ("post",))

    await store.mark_step(delivery_id, settled(CHART, "missing_scope"))
    await store.mark_retry(delivery_id, 20.0, "server_error", "boom")
    await store.mark_step(delivery_id, "edit:3")  # not in flight: nothing is recorded
    (again,) = await store.claim_due(20.0, 5)
    assert again.steps_done == ("post", "chart: missing_scope")
    assert again.done(POST) and again.done(CHART) and not again.done("edit:3")
    assert again.message_id == "m1"

    await store.mark_posted(delivery_id, "m1", 30.0)
    (posted,) = await store.deliveries("posted")
    assert posted.steps_done == ("post", "chart: missing_scope")


# -- a post that got no answer ----------------------------------------------------------------


class Landing(Thread):
    """Posts land, but the first answer is lost on the way back (a timeout), and the platform
    no longer deduplicates by key when the retry comes (Discord past its nonce window)."""

    images = "inline"
    lost_answers = 1

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        message_id = f"m{next(self._ids)}"
        self.messages.append((message_id, channel, key, message))
        if self.lost_answers:
            self.lost_answers -= 1
            raise DeliveryFailure("timeout", permanent=False, detail="no answer")
        return message_id


@pytest.mark.parametrize("lost", [1, 0], ids=["answer-lost", "answered"])
async def test_a_retry_after_a_post_without_an_answer_finds_it_instead_of_posting_again(
    store: BotStore, lost: int
) -> None:
    await milestone_for(store)
    adapter = Landing()
    adapter.lost_answers = lost
    clock = Clock()
    for _ in range(2):
        await worker(store, adapter, clock).drain()
        clock.now += 10_000
    ((message_id, *_),) = adapter.messages  # once, however the first try ended
    (row,) = await store.deliveries()
    assert (row.status, row.message_id) == ("posted", message_id)


# -- a chart after the post -------------------------------------------------------------------


async def test_the_chart_goes_into_the_thread_after_the_post_with_its_alt_text(
    store: BotStore,
) -> None:
    await milestone_for(store)
    adapter = Thread()
    w = worker(store, adapter)
    await w.drain()

    ((message_id, _, key, posted),) = adapter.messages
    ((_, under, file_key, chart),) = adapter.files
    assert (under, file_key) == (message_id, key)
    assert posted.image is None and posted.title.startswith("Nissan Leaf passes 2,500")
    assert chart.image == PNG and chart.image_name == "leaf.png"
    assert (
        chart.image_alt
        == "Chart of the cumulative sales of the Nissan Leaf, passing 2,500 in March 2020"
    )
    (row,) = await store.deliveries()
    assert (row.status, row.message_id, row.steps_done) == ("posted", message_id, ("post", "chart"))
    assert (w.stats.posted, w.stats.followed_up) == (1, 1)


async def test_a_failing_chart_keeps_the_post_and_is_retried_without_posting_again(
    store: BotStore,
) -> None:
    await milestone_for(store)
    adapter = Thread()
    adapter.fail("post_followup", transient(), transient("rate_limited"))
    clock = Clock()
    await worker(store, adapter, clock).drain()

    ((message_id, *_),) = adapter.messages
    (row,) = await store.deliveries()
    assert (row.status, row.message_id, row.steps_done) == ("pending", message_id, ("post",))
    assert adapter.files == []

    for _ in range(2):
        clock.now += 10_000
        await worker(store, adapter, clock).drain()
    assert len(adapter.messages) == 1  # posted once
    ((_, under, *_),) = adapter.files
    assert under == message_id
    (row,) = await store.deliveries()
    assert (row.status, row.message_id, row.steps_done) == ("posted", message_id, ("post", "chart"))


@pytest.mark.parametrize(
    ("charts", "failure", "entry"),
    [
        (Charts(), permanent("missing_permissions"), "chart: missing_permissions"),
        (Charts(broken=True), None, "chart: not_drawn"),
    ],
    ids=["refused-for-good", "not-drawn"],
)
async def test_a_chart_that_can_never_go_is_settled_and_the_delivery_posted(
    store: BotStore,
    caplog: pytest.LogCaptureFixture,
    charts: Charts,
    failure: DeliveryFailure | None,
    entry: str,
) -> None:
    await milestone_for(store)
    adapter = Thread()
    if failure is not None:
        adapter.fail("post_followup", failure)
    with caplog.at_level(logging.WARNING, "evbot.outbox"):
        w = worker(store, adapter, charts=charts)
        await w.drain()

    assert len(adapter.messages) == 1 and adapter.files == []
    (row,) = await store.deliveries()
    assert (row.status, row.steps_done) == ("posted", ("post", entry))
    assert w.stats.settled == 1 and "chart not sent" in caplog.text
    (sub,) = await store.subscriptions(HERE)
    assert sub.active and sub.failures == 0  # the channel is fine: only the chart did not go


async def test_a_chart_failing_until_the_last_attempt_is_settled_not_failed(
    store: BotStore,
) -> None:
    await milestone_for(store)
    adapter = Thread()
    adapter.fail("post_followup", *(transient() for _ in range(MAX_ATTEMPTS + 5)))
    clock = Clock()
    for _ in range(MAX_ATTEMPTS):
        await worker(store, adapter, clock).drain()
        clock.now += 10_000
    (row,) = await store.deliveries()
    assert (row.status, row.steps_done) == ("posted", ("post", "chart: server_error"))
    assert len(adapter.messages) == 1 and row.attempts == MAX_ATTEMPTS


@pytest.mark.parametrize("crash", ["post-unrecorded", "chart-missing", "chart-unrecorded"])
async def test_after_a_crash_what_is_there_is_recorded_and_only_what_is_missing_is_sent(
    make_store: Factory, crash: str
) -> None:
    store = make_store()
    await store.open()
    await store.sync_groups(default_config().groups)
    await milestone_for(store)
    adapter = Thread()
    # the worker claims, renders, posts (and maybe more), then dies
    crashed = worker(store, adapter)
    (row,) = await store.claim_due(NOW, 10, ["thread"])
    message = await crashed.rendered(row)
    assert message is not None and message.image is not None
    message_id = await adapter.post(HERE, Message(message.title, message.body), row.key)
    if crash != "post-unrecorded":
        await store.mark_step(row.id, POST, message_id)
    if crash == "chart-unrecorded":
        await adapter.post_followup(HERE, message_id, message, row.key)
    await store.close()

    restarted_store = make_store()
    await restarted_store.open()
    try:
        restarted = worker(restarted_store, adapter)
        await restarted.drain()
        assert len(adapter.messages) == 1  # never posted again
        ((_, under, *_),) = adapter.files  # one chart, in the post's thread
        assert under == message_id
        (settled_row,) = await restarted_store.deliveries()
        assert settled_row.status == "posted" and settled_row.message_id == message_id
        assert settled_row.steps_done == ("post", "chart")
        # a delivery found whole is reconciled; one missing its chart is completed
        assert restarted.stats.reconciled == (crash == "chart-unrecorded")
        assert restarted.stats.followed_up == (crash != "chart-unrecorded")
    finally:
        await restarted_store.close()


def test_the_image_mode_of_adapters() -> None:
    from adapters.console import ConsoleAdapter
    from adapters.slack.adapter import SlackAdapter
    from adapters.webhook import WebhookAdapter

    assert image_mode(Thread()) == "followup"
    assert image_mode(Recorder()) == "inline"  # says nothing: the image goes with the post
    assert SlackAdapter.images == "followup"
    assert WebhookAdapter.images == "none" and ConsoleAdapter.images == "none"

    class Claims:
        images = "followup"  # but cannot send one

    assert image_mode(Claims()) == "none"


# -- a correction's edits ---------------------------------------------------------------------


class Editor(Recorder):
    """A platform that edits, with failures queued for its edits."""

    def __init__(self) -> None:
        super().__init__()
        self.edit_failures: list[DeliveryFailure] = []
        self.edit_tries = 0

    async def edit(self, channel: Channel, message_id: str, message: Message) -> None:
        self.edit_tries += 1
        if self.edit_failures:
            raise self.edit_failures.pop(0)
        await super().edit(channel, message_id, message)


def here() -> Channel:
    return Channel("test", "guild", "c1")


async def corrected_milestone(store: BotStore, adapter: Editor, clock: Clock) -> int:
    """The Leaf passes 2,500 (posted), then a revision takes it back: a correction queued.
    Returns the original's delivery id."""
    await store.subscribe(SubscriptionSpec(here(), LEAF, charts=False))
    story = Story(store)
    await story.crossing()
    await DeliveryWorker(store, {"test": adapter}, LADDERS, clock=clock).drain()
    (original,) = await store.deliveries()
    await story.figures((3, 1_200))
    return original.id


def correction_of(rows: list[Any]) -> Any:
    (found,) = [d for d in rows if d.kind == "correction"]
    return found


async def test_an_edit_failing_for_a_while_is_retried_then_the_correction_posted(
    store: BotStore,
) -> None:
    adapter = Editor()
    clock = Clock()
    original = await corrected_milestone(store, adapter, clock)
    adapter.edit_failures = [transient(), transient("timeout")]

    def w() -> DeliveryWorker:
        return DeliveryWorker(store, {"test": adapter}, LADDERS, clock=clock)

    await w().drain()
    row = correction_of(await store.deliveries())
    assert (row.status, row.steps_done) == ("pending", ())
    assert [m.kind for m in adapter.to(here())] == ["milestone"]  # it waits for its edit

    for _ in range(2):
        clock.now += 10_000
        await w().drain()
    (edit,) = adapter.edits
    assert edit[2].title.startswith("Corrected: Nissan Leaf passes 2,500")
    assert [m.kind for m in adapter.to(here())] == ["milestone", "correction"]
    row = correction_of(await store.deliveries())
    assert (row.status, row.steps_done) == ("posted", (edit_step(original), "post"))
    assert adapter.edit_tries == 3


async def test_an_edit_done_is_not_done_again_when_the_post_is_retried(store: BotStore) -> None:
    adapter = Editor()
    clock = Clock()
    original = await corrected_milestone(store, adapter, clock)
    adapter.fail_next = transient()  # the correction's post

    w = DeliveryWorker(store, {"test": adapter}, LADDERS, clock=clock)
    await w.drain()
    row = correction_of(await store.deliveries())
    assert (row.status, row.steps_done) == ("pending", (edit_step(original),))

    clock.now += 10_000
    await DeliveryWorker(store, {"test": adapter}, LADDERS, clock=clock).drain()
    assert adapter.edit_tries == 1 and len(adapter.edits) == 1
    assert correction_of(await store.deliveries()).status == "posted"


@pytest.mark.parametrize("how", ["for-good", "until-the-last-attempt"])
async def test_an_edit_that_cannot_be_done_is_settled_and_the_correction_goes(
    store: BotStore, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    adapter = Editor()
    clock = Clock()
    original = await corrected_milestone(store, adapter, clock)
    if how == "for-good":
        adapter.edit_failures = [permanent()]
        drains = 1
    else:
        adapter.edit_failures = [transient() for _ in range(MAX_ATTEMPTS)]
        drains = MAX_ATTEMPTS
    with caplog.at_level(logging.WARNING, "evbot.outbox"):
        for _ in range(drains):
            await DeliveryWorker(store, {"test": adapter}, LADDERS, clock=clock).drain()
            clock.now += 10_000

    reason = "rejected_payload" if how == "for-good" else "server_error"
    row = correction_of(await store.deliveries())
    assert (row.status, row.steps_done) == (
        "posted",
        (settled(edit_step(original), reason), "post"),
    )
    assert adapter.edits == [] and f"original {original} not marked corrected" in caplog.text
    assert [m.kind for m in adapter.to(here())] == ["milestone", "correction"]


def test_evbot_deliveries_shows_the_steps_that_never_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.main import main

    db = tmp_path / "cli.sqlite3"

    async def settle() -> int:
        async with SqliteStore(db) as store:
            (delivery_id,) = await store.enqueue(
                [PlannedDelivery(HERE, "following", (), (1,), "en", "{}")], 10.0
            )
            await store.claim_due(10.0, 5)
            await store.mark_step(delivery_id, POST, "m1")
            await store.mark_step(delivery_id, settled(CHART, "missing_permissions"))
            await store.mark_posted(delivery_id, "m1", 20.0)
            return delivery_id

    delivery_id = asyncio.run(settle())
    assert main(["deliveries", "--db", str(db)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line == (
        f"#{delivery_id} 1970-01-01 00:00 UTC {HERE} following posted after 1 tries; "
        "not done: chart: missing_permissions"
    )
    assert main(["deliveries", "--json", "--db", str(db)]) == 0
    (row,) = [json.loads(r) for r in capsys.readouterr().out.splitlines()]
    assert row["steps"] == ["post", "chart: missing_permissions"]
