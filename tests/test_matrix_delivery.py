"""Announcements to Matrix through the real outbox worker and matrix-nio, against the fake
homeserver: HTML and plain bodies with the key in the content, the chart an m.image with alt
text, M_LIMIT_EXCEEDED, rooms left, banned or encrypted, and finding a post again after the
homeserver forgot its transaction id."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.posting import KEY_FIELD, PART_FIELD
from adapters.matrix.render import render_content
from adapters.matrix.settings import MatrixSettings
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.channels import (
    ENCRYPTED_ROOM,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    RATE_LIMITED,
    Channel,
    DeliveryFailure,
)
from bot.domain.events import MilestoneEvent
from bot.domain.ladders import Ladder
from bot.domain.messages import Field, Message
from bot.domain.settings import ConfigError, PlatformConfig, default_config
from bot.domain.subscriptions import SubscriptionSpec, ladder_objects
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed
from tests.fake_matrix import ADMIN, BOT, BOT_TOKEN, FakeMatrix

PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 100
ALT = "Chart of the cumulative sales of the Nissan Leaf, passing 2,500 in March 2020"


def settings(fake: FakeMatrix, **overrides: object) -> MatrixSettings:
    values: dict[str, object] = {
        "homeserver": fake.base,
        "access_token": BOT_TOKEN,
        "rate_per_second": 1000.0,
        "channel_rate_per_second": 100.0,
        "timeout": 5.0,
        **overrides,
    }
    return MatrixSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "bot.sqlite3") as s:
        await s.sync_groups(default_config().groups)
        yield s


@pytest.fixture
async def adapter(fake_matrix: FakeMatrix) -> AsyncIterator[MatrixAdapter]:
    a = MatrixAdapter(settings(fake_matrix))
    yield a
    await a.close()


def matrix(room: str) -> Channel:
    return Channel("matrix", "default", room)


class Charts:
    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        return PNG, "leaf.png"


async def fan_out(store: SqliteStore, rooms: list[str], charts: bool = False) -> Feed:
    for room in rooms:
        await store.subscribe(SubscriptionSpec(matrix(room), LEAF, charts=charts))
    feed = Feed(store, Detector(store, default_config()))
    await feed.history()
    await feed.news()
    return feed


def worker(store: SqliteStore, adapter: MatrixAdapter) -> DeliveryWorker:
    return DeliveryWorker(
        store, {"matrix": adapter}, ladder_objects(default_config().ladders), charts=Charts()
    )


async def test_a_milestone_is_posted_with_its_chart_as_an_image_with_alt_text(
    fake_matrix: FakeMatrix, store: SqliteStore, adapter: MatrixAdapter
) -> None:
    room = fake_matrix.room("leaf")
    await fan_out(store, [room], charts=True)
    await worker(store, adapter).drain()
    (row,) = await store.deliveries()
    assert row.status == "posted" and row.done("post") and row.done("chart"), row
    text, image = fake_matrix.messages_of(room)
    assert row.message_id == text["event_id"]
    content = text["content"]
    assert content["msgtype"] == "m.text" and content[KEY_FIELD] == row.key
    assert content["format"] == "org.matrix.custom.html" and content["m.mentions"] == {}
    assert "Nissan Leaf" in content["body"] and "2,500" in content["body"]
    assert "<h4>" in content["formatted_body"] and "Nissan Leaf" in content["formatted_body"]
    chart = image["content"]
    assert chart["msgtype"] == "m.image" and chart["body"] == ALT
    assert (chart[KEY_FIELD], chart[PART_FIELD]) == (row.key, "chart")
    assert chart["info"] == {"mimetype": "image/png", "size": len(PNG)}
    media = chart["url"].removeprefix("mxc://fake.local/")
    assert fake_matrix.media[media] == PNG  # in the media repository


async def test_m_limit_exceeded_is_rate_limited_with_its_retry_after_and_survived(
    fake_matrix: FakeMatrix, store: SqliteStore, adapter: MatrixAdapter
) -> None:
    room = fake_matrix.room("busy")
    fake_matrix.limit(1, retry_after_ms=1500)
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(matrix(room), Message(title="t", body="b"), "evbot-delivery-1")
    assert (caught.value.reason, caught.value.permanent) == (RATE_LIMITED, False)
    assert caught.value.retry_after == 1.5  # the worker waits, not matrix-nio
    assert fake_matrix.limited == 1 and not fake_matrix.messages_of(room)

    fake_matrix.limit(2, retry_after_ms=50)
    await fan_out(store, [room])
    w = worker(store, adapter)
    deadline = time.monotonic() + 20
    while {d.status for d in await store.deliveries()} != {"posted"}:
        assert time.monotonic() < deadline, await store.deliveries()
        await w.drain(limit_seconds=5)
    assert fake_matrix.limited == 3 and w.stats.retried >= 1
    assert len(fake_matrix.messages_of(room)) == 1  # survived, posted once


@pytest.mark.parametrize(
    ("gone", "said"),
    [
        # read from the room's state as of leaving, which names no sender (the sync loop,
        # when it runs, tells who: tests/test_matrix_commands.py)
        ("kick", "the bot is no longer in the room (reason: spring cleaning)"),
        ("ban", "the bot was banned from the room (reason: spring cleaning)"),
        ("leave", "the bot is no longer in the room"),
    ],
)
async def test_a_room_the_bot_left_or_was_banned_from_pauses_with_its_reason(
    fake_matrix: FakeMatrix, store: SqliteStore, adapter: MatrixAdapter, gone: str, said: str
) -> None:
    kept, lost = fake_matrix.room("kept"), fake_matrix.room("lost")
    if gone == "kick":
        fake_matrix.leave(lost, by=ADMIN, reason="spring cleaning")
    elif gone == "ban":
        fake_matrix.ban(lost, reason="spring cleaning")
    else:
        fake_matrix.leave(lost)
    await fan_out(store, [kept, lost])
    await worker(store, adapter).drain()
    rows = {d.channel.channel: d for d in await store.deliveries()}
    assert rows[kept].status == "posted"
    assert (rows[lost].status, rows[lost].reason) == ("failed", MISSING_ACCESS)
    assert said in (rows[lost].last_error or "")
    subs = {s.spec.channel.channel: s for s in await store.subscriptions()}
    assert subs[kept].active
    assert (subs[lost].active, subs[lost].paused_reason) == (False, MISSING_ACCESS)


async def test_a_room_below_the_power_level_to_send_is_missing_permissions(
    fake_matrix: FakeMatrix, adapter: MatrixAdapter
) -> None:
    room = fake_matrix.room("announcements")
    fake_matrix.set_send_level(room, 50)
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(matrix(room), Message(title="t", body="b"), "evbot-delivery-1")
    assert (caught.value.reason, caught.value.permanent) == (MISSING_PERMISSIONS, True)
    assert "send_level (50)" in caught.value.detail


async def test_an_encrypted_room_is_refused_with_its_reason_and_nothing_is_sent(
    fake_matrix: FakeMatrix, store: SqliteStore, adapter: MatrixAdapter
) -> None:
    room = fake_matrix.room("secret", encrypted=True)
    await fan_out(store, [room])
    await worker(store, adapter).drain()
    (row,) = await store.deliveries()
    assert (row.status, row.reason) == ("failed", ENCRYPTED_ROOM)
    assert "end-to-end encrypted" in (row.last_error or "")
    (sub,) = await store.subscriptions()
    assert sub.paused_reason == ENCRYPTED_ROOM
    assert not fake_matrix.messages_of(room)  # never in the clear where members expect secrecy


async def test_a_post_is_found_again_by_its_key_after_the_homeserver_forgot_the_txn_id(
    fake_matrix: FakeMatrix, adapter: MatrixAdapter
) -> None:
    room = fake_matrix.room("leaf")
    fake_matrix.say(room, ADMIN, "evbot-delivery-7 is not a delivery, just words")
    first = await adapter.post(matrix(room), Message(title="t", body="b"), "evbot-delivery-7")
    again = await adapter.post(matrix(room), Message(title="t", body="b"), "evbot-delivery-7")
    assert again == first and len(fake_matrix.messages_of(room)) == 1  # the txnId, remembered
    for i in range(150):  # more than a page of the bot's own messages after it
        await adapter.post(matrix(room), Message(title="t", body=f"{i}"), f"evbot-delivery-{i + 8}")
    fake_matrix.restart()
    since = time.time() - 5
    assert await adapter.find_posted(matrix(room), "evbot-delivery-7", since=since) == first
    assert await adapter.find_posted(matrix(room), "evbot-delivery-6", since=since) is None
    # bounded: a lookup from a claim long after the post stops before reaching it
    later = time.time() + 3600
    assert await adapter.find_posted(matrix(room), "evbot-delivery-7", since=later) is None
    pages = [p for _, p in fake_matrix.requests if p.endswith("/messages")]
    assert len(pages) == 2 + 2 + 1  # two pages each, one for the bounded lookup


async def test_hostile_text_is_inert_in_both_bodies() -> None:
    hostile = Message(
        title="@room <b>alert</b>",
        body='Ping @room and @alice:example.org <a href="https://matrix.to/#/@bob:x">bob</a>'
        "\u202e<script>x</script>",
        fields=(Field("<img src=x onerror=alert(1)>", "@room"),),
        footer="&lt;not an entity&gt;",
    )
    content = render_content(hostile)
    body, html = content["body"], content["formatted_body"]
    assert content["m.mentions"] == {}
    for text in (body, html):
        assert "@room" not in text and "@alice" not in text and "@bob" not in text
        assert "\u202e" not in text
    for tag in ("<b>", "<a ", "<script", "<img"):
        assert tag not in html
    assert "&lt;script&gt;" in html and "&amp;lt;not an entity&amp;gt;" in html


def test_settings_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="homeserver"):
        MatrixSettings(homeserver="matrix.org", access_token="t")
    with pytest.raises(ConfigError, match="access_token"):
        MatrixSettings(homeserver="https://matrix.org")
    with pytest.raises(ConfigError, match="user_id"):
        MatrixSettings(homeserver="https://matrix.org", user_id="evbot", access_token="t")
    config = PlatformConfig(
        "matrix",
        True,
        {"access_token": "MY_TOKEN"},
        options={"homeserver": "https://matrix.example.org/", "rate_per_second": 2},
    )
    made = MatrixSettings.from_config(config, {"MY_TOKEN": "syt_x"})
    assert (made.homeserver, made.rate_per_second, made.access_token) == (
        "https://matrix.example.org",
        2.0,
        "syt_x",
    )
    assert "syt_x" not in repr(made)
    assert BOT.startswith("@")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[platforms.matrix]\nenabled = true\nhomeserver = "https://m.example.org"\n',
            "platforms.matrix.access_token: missing secret: environment variable "
            "MATRIX_ACCESS_TOKEN is not set",
        ),
        (
            '[platforms.matrix]\nhomeserver = "m.example.org"\n',
            "platforms.matrix.homeserver: 'm.example.org' is not an http(s) URL, "
            "e.g. https://matrix.org",
        ),
        (
            '[platforms.matrix]\nhomeserver = "https://m.example.org"\nuser_id = "evbot"\n',
            "platforms.matrix.user_id: 'evbot' is not a Matrix user id, e.g. @evbot:matrix.org",
        ),
        (
            '[platforms.matrix]\naccess_token = "syt_pasted"\n',
            "platforms.matrix.access_token: secrets never go in the file: set access_token_env "
            "(an environment variable name) or access_token_file",
        ),
        (
            '[platforms.matrix]\nhomeserver = "https://m.example.org"\nsync_timeout = 0\n',
            "platforms.matrix.sync_timeout: must be a number above 0 and at most 600, not 0",
        ),
    ],
)
def test_the_configuration_says_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    from tests.test_config import error

    assert error(tmp_path, text) == expected


def test_an_enabled_matrix_configuration_builds_the_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.registry import factory
    from bot.config.load import load_config

    path = tmp_path / "evbot.toml"
    path.write_text(
        '[platforms.matrix]\nenabled = true\nhomeserver = "https://m.example.org/"\n'
        "rate_per_second = 3\njoin_on_invite = false\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MATRIX_ACCESS_TOKEN", "syt_secret")
    config = load_config(path, environ={"MATRIX_ACCESS_TOKEN": "syt_secret"})
    adapter = factory("matrix")(config.platforms["matrix"])
    assert isinstance(adapter, MatrixAdapter) and adapter.images == "followup"
    assert adapter.settings.homeserver == "https://m.example.org"
    assert adapter.limits.global_per_second == 3.0 and not adapter.settings.join_on_invite


async def test_a_correction_edits_the_original_announcement_in_place(
    fake_matrix: FakeMatrix, adapter: MatrixAdapter
) -> None:
    from bot.ports.chat import MessageEditor

    assert isinstance(adapter, MessageEditor)
    room = fake_matrix.room("leaf")
    first = await adapter.post(
        matrix(room), Message(title="Leaf", body="10,000"), "evbot-delivery-1"
    )
    await adapter.edit(matrix(room), first, Message(title="Leaf", body="10,000 (corrected) @room"))
    original, edit = fake_matrix.messages_of(room)
    content = edit["content"]
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": first}
    assert "corrected" in content["m.new_content"]["body"]
    assert "@room" not in content["m.new_content"]["body"] and content["body"].startswith("* ")
    assert KEY_FIELD not in content  # an edit is no announcement of its own
    assert await adapter.find_posted(matrix(room), "evbot-delivery-1") == original["event_id"]


def test_a_body_whose_html_would_not_fit_an_event_goes_as_plain_text_only() -> None:
    content = render_content(Message(title="quotes", body='"' * 15_000))
    assert "formatted_body" not in content and "format" not in content
    assert content["body"].endswith('"' * 100)
    assert "formatted_body" in render_content(Message(title="short", body='"' * 100))
