"""Announcements to Slack through the real outbox worker and slack_sdk, against the fake Slack:
blocks with metadata, the chart in the thread (a step of its own, with alt text), 429s,
permanent errors, reconciliation of posts and of charts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.posting import EVENT_TYPE, failure, followup_key, followup_name
from adapters.slack.render import MAX_BLOCKS, MAX_HEADER, MAX_TEXT
from bot.config.version import evbot_version
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    RATE_LIMITED,
    Channel,
    DeliveryFailure,
)
from bot.domain.delivery_steps import POST
from bot.domain.events import MilestoneEvent
from bot.domain.ladders import Ladder
from bot.domain.messages import Field, Message
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec, ladder_objects
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed
from tests.fake_slack import FakeSlack
from tests.test_slack_support import http_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 100


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    return fake_slack


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "bot.sqlite3") as s:
        await s.sync_groups(default_config().groups)
        yield s


@pytest.fixture
async def adapter(fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    a = SlackAdapter(http_settings(fake))
    yield a
    await a.close()


def slack(channel: str, team: str = "T0001") -> Channel:
    return Channel("slack", team, channel)


class Charts:
    """Draws the same small picture for every milestone."""

    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        return PNG, "leaf.png"


async def fan_out(
    store: SqliteStore, channels: list[Channel], rounds: int = 1, charts: bool = False
) -> Feed:
    for channel in channels:
        await store.subscribe(SubscriptionSpec(channel, LEAF, charts=charts))
    feed = Feed(store, Detector(store, default_config()))
    await feed.history()
    for _ in range(rounds):
        await feed.news()
    return feed


def worker(store: SqliteStore, adapter: SlackAdapter, clock: float | None = None) -> DeliveryWorker:
    return DeliveryWorker(
        store,
        {"slack": adapter},
        ladder_objects(default_config().ladders),
        charts=Charts(),
        **({"clock": lambda: clock} if clock is not None else {}),
    )


async def test_an_announcement_is_posted_as_blocks_with_its_delivery_key_in_the_metadata(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter
) -> None:
    await fan_out(store, [slack("C0001")])
    await worker(store, adapter).drain()
    (row,) = await store.deliveries()
    assert row.status == "posted"
    (posted,) = fake.messages
    assert posted.channel == "C0001"
    assert posted.metadata == {"event_type": EVENT_TYPE, "event_payload": {"delivery": row.key}}
    assert row.message_id == posted.ts
    assert posted.blocks[0]["type"] == "header"
    assert "Nissan Leaf" in posted.blocks[0]["text"]["text"]
    assert "2,500" in posted.text  # the plain fallback tells the news too
    (call,) = fake.calls_to("chat.postMessage")
    assert call.params["unfurl_links"] is False and call.params["unfurl_media"] is False
    # slack_sdk's own agent, then the bot's version
    assert "slackclient/" in call.user_agent
    assert call.user_agent.endswith(f" evbot/{evbot_version()}")


async def test_a_chart_is_uploaded_into_the_posts_thread_marked_with_the_key_and_alt_text(
    fake: FakeSlack, adapter: SlackAdapter
) -> None:
    message = Message(
        title="Nissan Leaf passes 100,000",
        body="100,200 sold.",
        image=PNG,
        image_name="leaf.png",
        image_alt="Chart of the cumulative sales of the Nissan Leaf, passing 100,000 in May 2015",
    )
    channel = slack("C0001")
    ts = await adapter.post(channel, message, "evbot-delivery-7")
    assert fake.uploads == {}  # the post carries no file: uploads carry no metadata
    assert await adapter.find_followup(channel, ts, "evbot-delivery-7") is None

    file_id = await adapter.post_followup(channel, ts, message, "evbot-delivery-7")

    (upload,) = fake.uploads.values()
    assert upload == PNG
    (done,) = fake.completed
    assert done["channel_id"] == "C0001" and done["thread_ts"] == ts
    assert done["files"][0]["title"] == "Nissan Leaf passes 100,000"
    ask = fake.calls_to("files.getUploadURLExternal")[0]
    assert ask.params["filename"] == "evbot-delivery-7.leaf.png"
    assert int(ask.params["length"]) == len(PNG)
    assert ask.params["alt_txt"] == message.image_alt
    (shared,) = fake.files_in_thread("C0001", ts)
    assert shared["id"] == file_id and shared["alt_txt"] == message.image_alt
    assert await adapter.find_followup(channel, ts, "evbot-delivery-7") == file_id
    assert await adapter.find_followup(channel, ts, "evbot-delivery-70") is None
    methods = [c.method for c in fake.calls if c.method != "auth.test"]
    assert methods == [
        "chat.postMessage",
        "conversations.replies",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "conversations.replies",
        "conversations.replies",
    ]


def test_a_charts_file_name_carries_its_delivery_key() -> None:
    assert followup_name("evbot-delivery-7", "leaf.png") == "evbot-delivery-7.leaf.png"
    assert followup_key("evbot-delivery-7.leaf.png") == "evbot-delivery-7"
    assert followup_key("leaf.png") == "leaf"  # not a key, so it matches none
    assert followup_key("chart") is None


async def test_a_chart_refused_for_good_is_logged_and_recorded_and_the_delivery_posted(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    await fan_out(store, [slack("C0001")], charts=True)
    fake.fail("files.getUploadURLExternal", "missing_scope")
    await worker(store, adapter).drain()
    (posted,) = fake.messages  # posted once; not failed, so not posted again
    (row,) = await store.deliveries()
    assert (row.status, row.message_id) == ("posted", posted.ts)
    assert row.steps_done == (POST, "chart: missing_permissions")
    assert "chart not sent" in caplog.text and "missing_scope" in caplog.text
    (sub,) = await store.subscriptions()
    assert sub.active


async def test_a_chart_whose_upload_failed_for_a_while_follows_the_post_once(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter
) -> None:
    await fan_out(store, [slack("C0001")], charts=True)
    fake.fail("files.completeUploadExternal", "internal_error", times=1)
    fake.fail("files.completeUploadExternal", "drop", times=1)  # shared, answer lost
    now = 4e9
    for _ in range(3):
        await worker(store, adapter, clock=now).drain()
        now += 10_000
    (posted,) = fake.messages
    (chart,) = fake.files_in_thread("C0001", posted.ts)
    assert followup_key(chart["name"]) == f"evbot-delivery-{(await store.deliveries())[0].id}"
    (row,) = await store.deliveries()
    assert (row.status, row.message_id, row.steps_done) == ("posted", posted.ts, (POST, "chart"))
    assert len(fake.calls_to("files.completeUploadExternal")) == 2  # the lost answer: looked up


@pytest.mark.parametrize("crash", ["after-the-post", "after-the-chart"])
async def test_a_delivery_found_after_a_crash_gets_its_missing_chart_and_no_second_one(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter, crash: str
) -> None:
    await fan_out(store, [slack("C0001")], charts=True)
    crashed = worker(store, adapter)
    (row,) = await store.claim_due(4e9, 10, ["slack"])
    message = await crashed.rendered(row)
    assert message is not None and message.image is not None
    ts = await adapter.post(row.channel, message, row.key)  # then it dies, nothing recorded
    if crash == "after-the-chart":
        await adapter.post_followup(row.channel, ts, message, row.key)

    restarted = worker(store, adapter)
    await restarted.drain()

    (posted,) = fake.messages
    (chart,) = fake.files_in_thread("C0001", posted.ts)
    assert chart["alt_txt"] == (
        "Chart of the cumulative sales of the Nissan Leaf, passing 2,500 in March 2020"
    )
    (done,) = await store.deliveries()
    assert (done.status, done.message_id, done.steps_done) == ("posted", ts, (POST, "chart"))
    assert len(fake.completed) == 1
    assert fake.calls_to("conversations.history")  # the post was found by its metadata
    assert fake.calls_to("conversations.replies")  # and the chart looked for in its thread


async def test_a_429_slows_the_worker_without_loss(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter
) -> None:
    channels = [slack(f"C{i:04d}") for i in range(4)]
    await fan_out(store, channels)
    fake.fail("chat.postMessage", "ratelimited", channel="C0002", times=1, retry_after=1)
    w = worker(store, adapter)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    try:
        await fake.wait_for(lambda: len(fake.messages) == 4, seconds=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert sorted(m.channel for m in fake.messages) == [c.channel for c in channels]
    assert w.stats.retried == 1 and w.stats.failed == 0
    limited = next(c for c in fake.calls_to("chat.postMessage") if c.status == 429)
    retried = next(m for m in fake.messages if m.channel == "C0002")
    assert retried.at >= limited.at + 1.0  # Retry-After was honoured for that channel
    assert {d.status for d in await store.deliveries()} == {"posted"}


async def test_channel_not_found_pauses_the_subscription_with_its_reason(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter
) -> None:
    await fan_out(store, [slack("C0001"), slack("C0404")])
    fake.fail("chat.postMessage", "channel_not_found", channel="C0404")
    await worker(store, adapter).drain()
    by_channel = {d.channel.channel: d for d in await store.deliveries()}
    assert by_channel["C0001"].status == "posted"
    gone = by_channel["C0404"]
    assert (gone.status, gone.reason) == ("failed", CHANNEL_GONE)
    assert "channel_not_found" in (gone.last_error or "")
    subs = {s.spec.channel.channel: s for s in await store.subscriptions()}
    assert subs["C0001"].active
    assert not subs["C0404"].active
    assert subs["C0404"].paused_reason == CHANNEL_GONE
    assert len(fake.calls_to("chat.postMessage")) == 2  # tried once: permanent, not retried


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("channel_not_found", CHANNEL_GONE),
        ("is_archived", CHANNEL_GONE),
        ("not_in_channel", MISSING_ACCESS),
        ("missing_scope", MISSING_PERMISSIONS),
        ("token_revoked", MISSING_ACCESS),
    ],
)
async def test_permanent_slack_errors_carry_reason_codes(
    fake: FakeSlack, adapter: SlackAdapter, error: str, reason: str
) -> None:
    fake.fail("chat.postMessage", error)
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(slack("C0001"), Message(title="t", body="b"), "evbot-delivery-1")
    assert (caught.value.reason, caught.value.permanent) == (reason, True)
    assert caught.value.detail == error


async def test_a_429_is_rate_limited_with_its_retry_after_and_not_retried_by_the_sdk(
    fake: FakeSlack, adapter: SlackAdapter
) -> None:
    fake.fail("chat.postMessage", "ratelimited", times=1, retry_after=7)
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(slack("C0001"), Message(title="t", body="b"), "evbot-delivery-1")
    assert caught.value.reason == RATE_LIMITED and not caught.value.permanent
    assert caught.value.retry_after == 7.0
    assert len(fake.calls_to("chat.postMessage")) == 1  # the worker waits, not the SDK


async def test_server_errors_are_transient(fake: FakeSlack, adapter: SlackAdapter) -> None:
    fake.fail("chat.postMessage", "internal_error")
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(slack("C0001"), Message(title="t", body="b"), "evbot-delivery-1")
    assert not caught.value.permanent


async def test_find_posted_finds_the_key_in_the_history_and_nothing_else(
    fake: FakeSlack, adapter: SlackAdapter
) -> None:
    channel = slack("C0001")
    ts = await adapter.post(channel, Message(title="t", body="b"), "evbot-delivery-5")
    for n in range(450):  # pushes it back past two pages of history
        await adapter.post(channel, Message(title="t", body="b"), f"evbot-delivery-{1000 + n}")
    assert await adapter.find_posted(channel, "evbot-delivery-5") == ts
    assert await adapter.find_posted(channel, "evbot-delivery-6") is None
    assert await adapter.find_posted(slack("C0002"), "evbot-delivery-5") is None
    history = fake.calls_to("conversations.history")
    assert all(str(c.params["include_all_metadata"]).lower() in ("1", "true") for c in history)


async def test_a_post_that_got_no_answer_is_looked_up_before_it_is_posted_again(
    fake: FakeSlack, adapter: SlackAdapter
) -> None:
    channel = slack("C0001")
    message = Message(title="t", body="b")
    fake.fail("chat.postMessage", "drop", times=1)
    with pytest.raises(DeliveryFailure):
        await adapter.post(channel, message, "evbot-delivery-9")
    assert len(fake.messages) == 1  # it did land
    ts = await adapter.post(channel, message, "evbot-delivery-9")
    assert [m.ts for m in fake.messages] == [ts]  # found, not posted twice


async def test_nothing_in_the_data_can_ping_and_limits_hold(
    fake: FakeSlack, adapter: SlackAdapter
) -> None:
    hostile = "<!channel> <!here> @everyone <@U0001> <!subteam^S1> <https://x.test|click> *b*"
    message = Message(
        title=hostile * 10,
        body=(hostile + "\n") * 2000,
        fields=tuple(Field(f"{hostile} {i}", hostile) for i in range(600)),
        footer=hostile,
    )
    await adapter.post(slack("C0001"), message, "evbot-delivery-1")
    (posted,) = fake.messages
    raw = json.dumps({"blocks": posted.blocks, "text": posted.text}, ensure_ascii=False)
    for mention in ("<!channel>", "<!here>", "<@U0001>", "<!subteam", "<https://", "@everyone"):
        assert mention not in raw
    assert len(posted.blocks) <= MAX_BLOCKS
    assert len(posted.blocks[0]["text"]["text"]) <= MAX_HEADER
    for block in posted.blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= MAX_TEXT
        for f in block.get("fields", []):
            assert len(f["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10
    assert len(posted.text) <= 3000


def test_failure_mapping_without_a_json_answer() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="http://127.0.0.1/api/chat.postMessage",
        req_args={},
        data="<html>bad gateway</html>",  # type: ignore[arg-type]
        headers={},
        status_code=502,
    )
    found = failure(SlackApiError("bad gateway", response))
    assert not found.permanent and found.detail.startswith("HTTP 502")


async def test_a_milestones_real_chart_follows_the_announcement_in_its_thread(
    fake: FakeSlack, store: SqliteStore, adapter: SlackAdapter
) -> None:
    charts = pytest.importorskip("bot.charts.service")
    channel = slack("C0001")
    await store.subscribe(SubscriptionSpec(channel, LEAF, charts=True))
    feed = Feed(store, Detector(store, default_config()))
    await feed.history()
    await feed.news()
    w = DeliveryWorker(
        store,
        {"slack": adapter},
        ladder_objects(default_config().ladders),
        charts=charts.StoreCharts(store, default_config()),
    )
    await w.drain()
    (posted,) = fake.messages
    (png,) = fake.uploads.values()
    assert png.startswith(b"\x89PNG")
    (done,) = fake.completed
    assert (done["channel_id"], done["thread_ts"]) == ("C0001", posted.ts)
    (shared,) = fake.files_in_thread("C0001", posted.ts)
    assert shared["alt_txt"].startswith("Chart of the cumulative sales of the Nissan Leaf")
    (row,) = await store.deliveries()
    assert (row.status, row.message_id) == ("posted", posted.ts)
    assert row.steps_done == (POST, "chart")
