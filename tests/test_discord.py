"""The Discord adapter end to end: the real discord.py client against the fake Discord in
`tests/fake_discord.py` (REST and the gateway websocket on 127.0.0.1), a real SQLite store with
the demo data, the real command layer and the real delivery worker.

Covers login and the sync of every command (options, choices, autocomplete, permissions) only
when the definitions changed; each command through INTERACTION_CREATE answered through the
callback, or deferred and followed up; autocomplete; a non-manager refused; announcements as
embeds with no mentions allowed, a nonce and the delivery's mark in the footer, a chart attached
as a file with its alt text; 429 slowing the worker without losing anything; 50001/50013/10003
pausing the subscription with its reason; 5xx and timeouts retried under the same nonce without a
duplicate; reconciliation by the mark among the bot's own messages since the delivery went in
flight (Discord's history has no nonce), after the nonce window; no Read Message History warned
at start and at reconciliation; a dropped gateway resuming (or identifying afresh) and serving
again; sharding.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import discord
import pytest
import yarl

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.commands import (
    SyncRecord,
    can_manage,
    description_localizations,
    invite_url,
)
from adapters.discord.posting import RECONCILE_SCAN, failure, nonce_for, reference_for
from adapters.discord.settings import DiscordSettings
from bot.commands.context import CommandContext
from bot.commands.table import COMMANDS
from bot.commands.types import HELP
from bot.config.version import evbot_version
from bot.delivery.worker import DeliveryWorker
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    RATE_LIMITED,
    REJECTED_PAYLOAD,
    SERVER_ERROR,
    TIMEOUT,
    Channel,
    DeliveryFailure,
)
from bot.domain.i18n import LANGUAGES, t, tp
from bot.domain.messages import Field, Message
from bot.domain.settings import ConfigError, PlatformConfig, default_config
from bot.domain.subscriptions import Subscription, SubscriptionSpec, ladder_objects
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed
from tests.fake_discord import (
    APP_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    HUMAN,
    MANAGE_CHANNELS,
    NO_PERMISSIONS,
    READ_MESSAGE_HISTORY,
    TOKEN,
    FakeDiscord,
)

LADDERS = ladder_objects(default_config().ladders)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HERE = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    return fake_discord


@pytest.fixture
def store(demo_store: SqliteStore) -> SqliteStore:
    """The demo's figures (`ctx`, over this store: conftest)."""
    return demo_store


def adapter(**settings: Any) -> DiscordAdapter:
    return DiscordAdapter(
        token=TOKEN, settings=DiscordSettings(**settings), guild_ready_timeout=0.05
    )


@dataclass
class Running:
    adapter: DiscordAdapter
    stopping: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def serving(
    fake: FakeDiscord, ctx: CommandContext, bot: DiscordAdapter, shards: int = 1
) -> AsyncIterator[Running]:
    stopping = asyncio.Event()
    task = asyncio.create_task(bot.serve(ctx, stopping))
    try:
        await fake.wait_identified(shards)
        await asyncio.wait_for(bot.ready.wait(), 20)
        yield Running(bot, stopping, task)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)
        await bot.close()


async def answer(fake: FakeDiscord, token: str) -> list[tuple[str, dict[str, Any]]]:
    """Every answer to one interaction, up to the last one (a followup ends a deferral)."""
    got: list[tuple[str, dict[str, Any]]] = []
    while True:
        kind, seen, body = await fake.next_callback()
        assert seen == token, (kind, seen)
        got.append((kind, body))
        if kind == "followup" or (kind == "callback" and body["type"] != 5):
            return got


def final(got: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The message of the last answer: a callback's data, or a followup's body."""
    kind, body = got[-1]
    return dict(body["data"]) if kind == "callback" else body


def fits(sent: str, text: str) -> bool:
    """A description as Discord gets it: whole, or cut to 100 characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= 100:
        return sent == text
    return len(sent) == 100 and sent.endswith("…") and text.startswith(sent[:-1])


def embed_of(body: dict[str, Any]) -> dict[str, Any]:
    embeds = body["embeds"]
    assert len(embeds) == 1
    return dict(embeds[0])


# -- sync ---------------------------------------------------------------------------------


async def test_login_and_sync_of_every_command_with_options(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    bot = adapter(guilds=(GUILD_ID,))
    async with serving(fake, ctx, bot):
        pass
    assert [scope for scope, _ in fake.command_puts] == [str(GUILD_ID)]
    sent = {c["name"]: c for c in fake.command_puts[0][1]}
    assert set(sent) == set(COMMANDS)
    for name, command in COMMANDS.items():
        got = sent[name]
        assert fits(got["description"], command.description)
        assert [o["name"] for o in got.get("options", [])] == sorted(
            (o.name for o in command.options), key=lambda n: not command.option(n).required
        )
        for option in got.get("options", []):
            spec = command.option(option["name"])
            assert spec is not None
            assert option["type"] == 3  # string
            assert option["required"] == spec.required
            assert fits(option["description"], spec.description)
            if spec.choices:
                assert [c["value"] for c in option["choices"]] == list(spec.choices)
                assert not option.get("autocomplete")
            else:
                assert option.get("autocomplete", False) == (spec.kind == "subject")
        if command.manages_channel:
            assert str(got["default_member_permissions"]) == MANAGE_CHANNELS
        else:
            assert got.get("default_member_permissions") is None
    as_of = next(o for o in sent["ev-total"]["options"] if o["name"] == "as-of")
    assert as_of["required"] is False
    auth = {r.authorization for r in fake.requests}
    assert auth == {f"Bot {TOKEN}"}


async def test_the_synced_descriptions_are_localized_and_the_names_are_not(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    async with serving(fake, ctx, adapter()):
        pass
    sent = {c["name"]: c for c in fake.command_puts[0][1]}
    total = sent["ev-total"]
    german = tp("de", HELP, COMMANDS["ev-total"].description)
    assert german != COMMANDS["ev-total"].description
    assert fits(total["description_localizations"]["de"], german)
    assert (
        total["description_localizations"]["no"]
        == description_localizations(COMMANDS["ev-total"].description)["no"]
    )  # Discord's Norwegian reads the Bokmål catalog
    assert set(total["description_localizations"]) >= {"de", "fr", "nl", "es-ES", "ja", "no"}
    assert not {"en-US", "en-GB", "sv-SE"} & set(total["description_localizations"])
    for command in sent.values():
        assert not command.get("name_localizations"), command["name"]
        for option in command.get("options", []):
            assert not option.get("name_localizations"), option["name"]
            assert all(not c.get("name_localizations") for c in option.get("choices", []))
            assert len(option["description_localizations"]["ja"]) <= 100
    locale = next(o for o in total["options"] if o["name"] == "locale")
    assert locale["description_localizations"]["fr"] == (
        "la langue de cette réponse : en, nb, de, fr, nl, es ou ja (par défaut : la vôtre)"
    )


async def test_sync_only_when_the_definitions_changed(
    fake: FakeDiscord, ctx: CommandContext, tmp_path: Path
) -> None:
    record = SyncRecord.beside(ctx.store.path)
    assert record.path == Path(ctx.store.path + ".discord-commands.json")
    for _ in range(2):  # a restart with the same commands does not sync again
        async with serving(fake, ctx, adapter()):
            pass
    assert [scope for scope, _ in fake.command_puts] == ["global"]
    stored = json.loads(await asyncio.to_thread(record.path.read_text))
    assert set(stored) == {"global"}

    changed = adapter()
    changed.tree.remove_command("ev-help")  # a new version with other definitions
    async with serving(fake, ctx, changed):
        pass
    assert [scope for scope, _ in fake.command_puts] == ["global", "global"]
    assert "ev-help" not in {c["name"] for c in fake.command_puts[-1][1]}

    forced = adapter()
    assert await forced.sync(record, force=True) == ["global"]
    await forced.close()
    assert len(fake.command_puts) == 3


# -- commands ---------------------------------------------------------------------------------


async def test_each_command_answered_through_the_callback(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    bot = adapter()
    bot.defer_after = 2.0  # ample for a lookup, still inside Discord's 3 s
    async with serving(fake, ctx, bot):
        token = await fake.send_interaction(
            "ev-total", [{"name": "subject", "type": 3, "value": "alliance"}]
        )
        data = final(await answer(fake, token))
        embed = embed_of(data)
        assert "Renault-Nissan Alliance" in embed["title"]
        assert "377,700" in embed["description"]
        assert data["allowed_mentions"] == {"parse": []}
        assert not data.get("flags", 0) & 64  # public

        token = await fake.send_interaction("ev-help")
        ((kind, body),) = await answer(fake, token)
        assert kind == "callback"
        assert body["type"] == 4 and body["data"]["flags"] & 64  # ephemeral
        names = [f["name"] for f in embed_of(body["data"])["fields"]]
        assert all(any(n.startswith(f"/{c}") for n in names) for c in COMMANDS)

        # every command of the table, in its order (subscribe comes before unsubscribe), with
        # its required options (mute comes before unmute): answered at once, or deferred and
        # followed up
        values = {"for": "7d"}
        for name, command in COMMANDS.items():
            opts = [
                {"name": o.name, "type": 3, "value": values.get(o.name, "alliance")}
                for o in command.options
                if o.required
            ]
            token = await fake.send_interaction(name, opts)
            got = await answer(fake, token)
            kinds = [k for k, _ in got]
            deferred = (["callback", "followup"], ["callback", "delete_original", "followup"])
            assert kinds == ["callback"] or kinds in deferred, (name, kinds)
            data = final(got)
            assert embed_of(data)["title"] != "Cannot do that", (name, embed_of(data))
            assert data["allowed_mentions"] == {"parse": []}


async def test_slow_commands_are_deferred_then_followed_up(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    bot = adapter()
    bot.defer_after = 0.0  # every command that waits at all is deferred
    async with serving(fake, ctx, bot):
        token = await fake.send_interaction(
            "ev-subscribe", [{"name": "subject", "type": 3, "value": "alliance"}]
        )
        got = await answer(fake, token)
        # an ephemeral answer (a subscription's is the caller's: the channel hears the "now
        # following" message) after a public deferral: the "thinking" message is removed
        assert [k for k, _ in got] == ["callback", "delete_original", "followup"]
        assert got[0][1]["type"] == 5  # deferred, "thinking"
        follow = got[2][1]
        assert "now follows Renault-Nissan Alliance" in embed_of(follow)["description"]
        assert follow["allowed_mentions"] == {"parse": []}
        assert follow["flags"] & 64

        # an ephemeral answer after a public deferral: the "thinking" message is removed.
        # A one-read command can finish before the adapter looks: hold its read until the
        # deferral is seen, so that it is deferred on any machine.
        gate = asyncio.Event()
        read = ctx.store.subscriptions

        async def held(channel: Channel | None = None) -> list[Subscription]:
            await gate.wait()
            return await read(channel)

        ctx.store.subscriptions = held  # type: ignore[method-assign]
        try:
            await fake.send_interaction("ev-subscriptions")
            first, _, deferral = await fake.next_callback()
            assert (first, deferral["type"]) == ("callback", 5)
            gate.set()
            kinds = [first]
            while True:
                kind, _, body = await fake.next_callback()
                kinds.append(kind)
                if kind == "followup":
                    break
        finally:
            ctx.store.subscriptions = read  # type: ignore[method-assign]
        assert kinds == ["callback", "delete_original", "followup"]
        assert body["flags"] & 64
        assert "Renault-Nissan Alliance" in embed_of(body)["description"]
    subs = await ctx.store.subscriptions(HERE)
    assert [s.spec.subject.name for s in subs] == ["Renault-Nissan Alliance"]
    assert subs[0].spec.created_by == "400000000000000001"


async def test_bad_arguments_are_answered_ephemerally_at_once(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    bot = adapter()
    bot.defer_after = 0.0
    async with serving(fake, ctx, bot):
        token = await fake.send_interaction(
            "ev-total", [{"name": "subject", "type": 3, "value": "x" * 300}]
        )
        ((kind, body),) = await answer(fake, token)
        assert kind == "callback" and body["type"] == 4  # not deferred
        assert body["data"]["flags"] & 64
        assert embed_of(body["data"])["title"] == "Cannot do that"


async def test_answers_in_the_caller_s_language_and_locale_for_one_answer(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    """The member's Discord locale chooses the language; the `locale:` option (registered with
    the bot's languages as choices) overrides it for one answer; a refusal is in theirs."""
    bot = adapter()
    bot.defer_after = 2.0
    async with serving(fake, ctx, bot):
        token = await fake.send_interaction("ev-help", locale="de")
        help_de = embed_of(final(await answer(fake, token)))
        assert (
            help_de["title"] == t("de", "EV Milestone Bot commands") != "EV Milestone Bot commands"
        )
        locale = [{"name": "locale", "type": 3, "value": "ja"}]
        token = await fake.send_interaction("ev-help", locale, locale="de")
        assert embed_of(final(await answer(fake, token)))["title"] == "EV Milestone Bot のコマンド"
        wrong = [{"name": "locale", "type": 3, "value": "xx"}]
        token = await fake.send_interaction("ev-total", wrong, locale="fr")
        refused = embed_of(final(await answer(fake, token)))
        assert refused["title"] == "Impossible"
        assert refused["description"].startswith("locale: 'xx' n’est pas une langue")
    sent = {c["name"]: c for c in fake.command_puts[0][1]}
    option = next(o for o in sent["ev-total"]["options"] if o["name"] == "locale")
    assert [c["value"] for c in option["choices"]] == list(LANGUAGES)


async def test_autocomplete_answers_subject_names(fake: FakeDiscord, ctx: CommandContext) -> None:
    async with serving(fake, ctx, adapter()):
        token = await fake.send_interaction(
            "ev-total",
            [{"name": "subject", "type": 3, "value": "nissan l", "focused": True}],
            itype=4,
        )
        kind, _, body = await fake.next_callback()
        assert kind == "callback" and body["type"] == 8
        choices = body["data"]["choices"]
        assert choices and choices[0] == {"name": "Nissan Leaf", "value": "Nissan Leaf"}
        assert len(choices) <= 25

        token = await fake.send_interaction(
            "ev-subscribe",
            [{"name": "subject", "type": 3, "value": "", "focused": True}],
            itype=4,
        )
        kind, seen, body = await fake.next_callback()
        assert seen == token and body["type"] == 8
        assert "all" in [c["value"] for c in body["data"]["choices"]]


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [(NO_PERMISSIONS, False), (str(1 << 11), False), (MANAGE_CHANNELS, True), ("8", True)],
)
async def test_subscribe_needs_manage_channels(
    fake: FakeDiscord, ctx: CommandContext, permissions: str, allowed: bool
) -> None:
    async with serving(fake, ctx, adapter()):
        token = await fake.send_interaction(
            "ev-subscribe",
            [{"name": "subject", "type": 3, "value": "nissan leaf"}],
            permissions=permissions,
        )
        got = await answer(fake, token)
        body = got[-1][1]
        data = body.get("data", body)
        if allowed:
            assert "now follows Nissan Leaf" in embed_of(data)["description"]
        else:
            assert data["flags"] & 64
            assert "needs permission to manage this channel" in embed_of(data)["description"]
    assert bool(await ctx.store.subscriptions(HERE)) == allowed


def test_can_manage_bits() -> None:
    assert can_manage(1 << 4) and can_manage(1 << 3) and can_manage(int("2251799813685247"))
    assert not can_manage(0) and not can_manage(1 << 11 | 1 << 10)


# -- announcements ----------------------------------------------------------------------------


async def subscribe(store: SqliteStore, channel: Channel = HERE) -> None:
    await store.subscribe(SubscriptionSpec(channel, LEAF))


async def fresh_store(tmp_path: Path, name: str = "out.sqlite3") -> SqliteStore:
    store = SqliteStore(tmp_path / name)
    await store.open()
    await store.sync_groups(default_config().groups)
    return store


async def fan_out(store: SqliteStore, channels: list[Channel], rounds: int = 1) -> Feed:
    from bot.detection.detector import Detector

    for channel in channels:
        await subscribe(store, channel)
    feed = Feed(store, Detector(store, default_config()))
    await feed.history()
    for _ in range(rounds):
        await feed.news()
    return feed


async def test_announcement_posted_as_embed_with_nonce_and_no_mentions(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    store = await fresh_store(tmp_path)
    bot = adapter()
    try:
        await fan_out(store, [HERE])
        worker = DeliveryWorker(store, {"discord": bot}, LADDERS)
        await worker.drain()
        assert worker.stats.posted == 1
        (posted,) = fake.messages(CHANNEL_ID)
        body = posted.body
        (delivery,) = await store.deliveries()
        assert body["nonce"] == nonce_for(delivery.key) == delivery.key
        assert body["enforce_nonce"] is True
        assert body["allowed_mentions"] == {"parse": []}
        embed = embed_of(body)
        assert embed["type"] == "rich" and embed["color"]
        assert "Nissan Leaf" in embed["title"] and "2,500" in embed["title"]
        assert embed["timestamp"].endswith("+00:00")
        # the delivery's mark, for reconciliation: Discord's history shows no nonce
        assert embed["footer"]["text"].endswith(" · " + reference_for(delivery.key))
        assert delivery.status == "posted" and delivery.message_id == posted.payload["id"]
        # discord.py's own agent, then the bot's version, on every request
        agents = {r.user_agent for r in fake.requests}
        assert len(agents) == 1 and agents.pop().startswith("DiscordBot (")
        assert fake.requests[0].user_agent.endswith(f" evbot/{evbot_version()}")
    finally:
        await bot.close()
        await store.close()


async def test_user_text_cannot_ping(fake: FakeDiscord) -> None:
    bot = adapter()
    try:
        message = Message(
            title="@everyone look",
            body="<@&123> and @here [x](http://evil)",
            fields=(Field("<@1>", "@everyone"),),
            footer="@here",
        )
        await bot.post(HERE, message, "evbot-delivery-1")
        body = fake.messages(CHANNEL_ID)[0].body
        assert body["allowed_mentions"] == {"parse": []}
        text = json.dumps(body["embeds"], ensure_ascii=False)
        assert "@everyone" not in text and "@here" not in text and "<@" not in text
    finally:
        await bot.close()


async def test_chart_attached_as_a_file(fake: FakeDiscord, ctx: CommandContext) -> None:
    bot = adapter()
    try:
        chart = Message(title="Leaf", body="chart", image=PNG, image_name="leaf chart.png")
        message_id = await bot.post(HERE, chart, "evbot-delivery-7")
        (posted,) = fake.messages(CHANNEL_ID)
        assert posted.payload["id"] == message_id
        assert [(f["field"], f["filename"], f["data"]) for f in posted.files] == [
            ("files[0]", "leaf_chart.png", PNG)
        ]
        # the attachment's description is Discord's alt text
        assert posted.body["attachments"] == [
            {"id": 0, "filename": "leaf_chart.png", "description": "Leaf"}
        ]
        assert embed_of(posted.body)["image"] == {"url": "attachment://leaf_chart.png"}
        assert posted.body["nonce"] == "evbot-delivery-7"
    finally:
        await bot.close()

    # the same through a command reply: the file goes with the callback
    async def chart_command(ctx, inv, name, args):
        from bot.commands.types import Reply

        return Reply(Message(title="Chart", body="x", image=PNG, image_name="c.png"))

    bot = DiscordAdapter(
        token=TOKEN,
        settings=DiscordSettings(),
        guild_ready_timeout=0.05,
        run_command=chart_command,
    )
    async with serving(fake, ctx, bot):
        token = await fake.send_interaction("ev-help")
        ((_, body),) = await answer(fake, token)
        assert [f["filename"] for f in body["_files"]] == ["c.png"]
        assert body["data"]["embeds"][0]["image"] == {"url": "attachment://c.png"}
        assert body["data"]["attachments"][0]["description"] == "Chart"


async def test_429_slows_the_worker_and_loses_nothing(fake: FakeDiscord, tmp_path: Path) -> None:
    store = await fresh_store(tmp_path)
    channels = [HERE]
    fake.guilds[GUILD_ID] = [CHANNEL_ID, CHANNEL_ID + 1, CHANNEL_ID + 2]
    channels += [Channel("discord", str(GUILD_ID), str(CHANNEL_ID + i)) for i in (1, 2)]
    bot = adapter(channel_rate_per_second=100.0)
    try:
        await fan_out(store, channels, rounds=2)
        fake.fail(429, CHANNEL_ID, times=2, retry_after=0.3)
        worker = DeliveryWorker(store, {"discord": bot}, LADDERS)
        await worker.drain()
        assert await store.delivery_counts() == {**await store.delivery_counts(), "posted": 6}
        assert fake.rate_limited == 2
        creates = fake.requests_to("POST", f"/channels/{CHANNEL_ID}/messages")
        statuses = [r.status for r in creates]
        assert statuses[:2] == [429, 429] and statuses[2:] == [200, 200]
        # discord.py waited the retry_after before trying again: the 429 slowed it down
        assert creates[2].at - creates[1].at >= 0.3 - 0.01
        assert len(fake.messages(CHANNEL_ID)) == 2 and not fake.duplicates
        assert sum(len(fake.messages(c.channel)) for c in channels) == 6
    finally:
        await bot.close()
        await store.close()


async def test_long_429_is_handed_back_to_the_worker(fake: FakeDiscord, tmp_path: Path) -> None:
    store = await fresh_store(tmp_path)
    bot = adapter()
    try:
        await fan_out(store, [HERE])
        fake.fail(429, CHANNEL_ID, times=1, retry_after=120.0)
        with pytest.raises(DeliveryFailure) as caught:
            await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-1")
        assert caught.value.reason == RATE_LIMITED and not caught.value.permanent
        assert caught.value.retry_after == pytest.approx(120.0)
        assert not fake.messages()
    finally:
        await bot.close()
        await store.close()


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (403, 50013, MISSING_PERMISSIONS),
        (403, 50001, MISSING_ACCESS),
        (404, 10003, CHANNEL_GONE),
    ],
)
async def test_permanent_failures_pause_with_their_reason(
    fake: FakeDiscord, tmp_path: Path, status: int, code: int, reason: str
) -> None:
    store = await fresh_store(tmp_path)
    bot = adapter()
    try:
        await fan_out(store, [HERE])
        fake.fail(status, CHANNEL_ID, code=code)
        worker = DeliveryWorker(store, {"discord": bot}, LADDERS)
        await worker.drain()
        (delivery,) = await store.deliveries()
        assert delivery.status == "failed" and delivery.reason == reason
        (sub,) = await store.subscriptions(HERE)
        assert not sub.active and sub.paused_reason == reason
        assert f"Discord code {code}" in (sub.last_error or "")
        assert not fake.messages()
    finally:
        await bot.close()
        await store.close()


async def test_server_errors_and_timeouts_are_retried_under_the_same_nonce(
    fake: FakeDiscord,
) -> None:
    bot = adapter(timeout=0.5)
    try:
        fake.fail(503, CHANNEL_ID, times=1)
        with pytest.raises(DeliveryFailure) as caught:
            await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-9")
        assert caught.value.reason == SERVER_ERROR and not caught.value.permanent

        # created, but the answer comes too late: the retry gets the first message back
        fake.fail("slow", CHANNEL_ID, times=1, delay=2.0)
        with pytest.raises(DeliveryFailure) as caught:
            await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-9")
        assert caught.value.reason == TIMEOUT and not caught.value.permanent
        first = fake.messages(CHANNEL_ID)
        assert len(first) == 1
        again = await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-9")
        assert again == first[0].payload["id"]
        assert fake.messages(CHANNEL_ID) == first and fake.duplicates["evbot-delivery-9"] == 1
    finally:
        await bot.close()


async def test_a_500_is_retried_by_discord_py(fake: FakeDiscord) -> None:
    bot = adapter()
    try:
        fake.fail(500, CHANNEL_ID, times=1)
        message_id = await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-3")
        assert [m.payload["id"] for m in fake.messages(CHANNEL_ID)] == [message_id]
    finally:
        await bot.close()


async def test_find_posted_finds_the_bots_marked_message_since_it_went_in_flight(
    fake: FakeDiscord,
) -> None:
    """Discord's history shows no nonce: the bot's own message carrying the delivery's mark,
    created since the delivery went in flight, is what is found."""
    bot = adapter()
    try:
        since = time.time()
        assert await bot.find_posted(HERE, "evbot-delivery-5", since) is None
        same = Message(title="t", body="b")  # two deliveries of one text: told apart by mark
        five = await bot.post(HERE, same, "evbot-delivery-5")
        six = await bot.post(HERE, same, "evbot-delivery-6")
        assert all("nonce" not in m for m in await history(fake))  # as on Discord
        # a member quoting the mark is not the bot; a busy channel since does not hide it
        footer = {"text": reference_for("evbot-delivery-7")}
        await fake.say(CHANNEL_ID, embeds=[{"title": "t", "footer": footer}])
        for n in range(250):
            await fake.say(CHANNEL_ID, f"chatter {n}")
        assert await bot.find_posted(HERE, "evbot-delivery-5", since) == five
        assert await bot.find_posted(HERE, "evbot-delivery-6", since) == six
        assert await bot.find_posted(HERE, "evbot-delivery-7", since) is None
        # bounded to messages created since it went in flight (less the clock skew allowed)
        assert await bot.find_posted(HERE, "evbot-delivery-5", time.time() + 60) is None
        with pytest.raises(DeliveryFailure) as caught:
            await bot.find_posted(Channel("discord", "1", "999"), "evbot-delivery-5", since)
        assert caught.value.reason == CHANNEL_GONE
    finally:
        await bot.close()


async def test_find_posted_without_since_looks_at_the_newest_messages(fake: FakeDiscord) -> None:
    bot = adapter()
    try:
        posted = await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-5")
        assert await bot.find_posted(HERE, "evbot-delivery-5") == posted
        for n in range(RECONCILE_SCAN):
            await fake.say(CHANNEL_ID, f"chatter {n}")
        assert await bot.find_posted(HERE, "evbot-delivery-5") is None  # the bound: stated
    finally:
        await bot.close()


async def test_the_fakes_nonce_window_ends(fake: FakeDiscord) -> None:
    """As on Discord: a repeated nonce within the window gets the first message back; after
    it, a new message."""
    bot = adapter()
    try:
        first = await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-5")
        assert await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-5") == first
        fake.nonce_window = 0.0
        later = await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-5")
        assert later != first and len(fake.messages(CHANNEL_ID)) == 2
    finally:
        await bot.close()


async def test_reconcile_after_the_nonce_window_marks_inflight_posted_without_posting_again(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    store = await fresh_store(tmp_path)
    bot = adapter()
    try:
        await fan_out(store, [HERE])
        (row,) = await store.claim_due(time.time(), 10, ["discord"])  # in flight, then "crash"
        message = await DeliveryWorker(store, {"discord": bot}, LADDERS).rendered(row)
        assert message is not None
        posted = await bot.post(HERE, message, row.key)
        await fake.say(CHANNEL_ID, "a member says something meanwhile")
        fake.nonce_window = 0.0  # the restart comes after Discord has forgotten the nonce
        worker = DeliveryWorker(store, {"discord": bot}, LADDERS)
        await worker.drain()
        assert worker.stats.reconciled == 1 and worker.stats.posted == 0
        (delivery,) = await store.deliveries()
        assert delivery.status == "posted" and delivery.message_id == posted
        assert [m.payload["author"]["id"] for m in fake.messages(CHANNEL_ID)] == [
            str(BOT_ID),
            str(HUMAN["id"]),
        ]
    finally:
        await bot.close()
        await store.close()


async def test_reconcile_that_cannot_look_says_a_repost_may_duplicate(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = Channel("discord", str(GUILD_ID), "999")
    store = await fresh_store(tmp_path)
    bot = adapter()
    try:
        await fan_out(store, [gone])
        (row,) = await store.claim_due(time.time(), 10, ["discord"])
        worker = DeliveryWorker(store, {"discord": bot}, LADDERS)
        with caplog.at_level(logging.WARNING, logger="evbot.outbox"):
            await worker.reconcile()
        assert f"delivery {row.id} to {gone}: cannot check whether it was posted" in caplog.text
        assert "posting it again may duplicate it" in caplog.text
    finally:
        await bot.close()
        await store.close()


async def test_no_read_message_history_is_warned_at_start_and_when_reconciling(
    fake: FakeDiscord, ctx: CommandContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Without Read Message History Discord answers an empty history, not an error: the
    gateway's cache (the bot's permissions in the channel) is what tells."""
    other = CHANNEL_ID + 1
    fake.guilds = {GUILD_ID: [CHANNEL_ID, other]}
    fake.deny(CHANNEL_ID, READ_MESSAGE_HISTORY)
    there = Channel("discord", str(GUILD_ID), str(other))
    await ctx.store.subscribe(SubscriptionSpec(HERE, LEAF))
    await ctx.store.subscribe(SubscriptionSpec(there, LEAF))
    bot = adapter()
    with caplog.at_level(logging.WARNING, logger="evbot.discord"):
        async with serving(fake, ctx, bot):
            assert (bot.reads_history(HERE), bot.reads_history(there)) == (False, True)
            since = time.time()
            await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-5")
            assert await bot.find_posted(HERE, "evbot-delivery-5", since) is None
            await bot.post(there, Message(title="t", body="b"), "evbot-delivery-6")
            assert await bot.find_posted(there, "evbot-delivery-6", since) is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "no Read Message History" in w] == [
        f"discord: no Read Message History in {HERE}: after a crash the bot cannot check "
        "whether a delivery there was posted, and posting it again may duplicate it (once "
        "Discord's nonce window of a few minutes has passed)"
    ]
    assert [w for w in warnings if "cannot check whether delivery" in w] == [
        f"discord: cannot check whether delivery evbot-delivery-5 was posted in {HERE}: the "
        "bot lacks Read Message History there; posting it again may duplicate it"
    ]
    assert adapter().reads_history(HERE) is None  # no gateway: it cannot tell


def test_the_reference_ends_the_footer_whole() -> None:
    from adapters.discord.render import MAX_FOOTER, render_embed

    mark = reference_for("evbot-delivery-5")
    assert render_embed(Message(title="t", body="b"), reference=mark)["footer"] == {"text": mark}
    footer = render_embed(Message(title="t", body="b", footer="x" * 3000), reference=mark)
    assert len(footer["footer"]["text"]) == MAX_FOOTER
    assert footer["footer"]["text"].endswith("… · " + mark)
    assert reference_for("evbot-delivery-5") == mark != reference_for("evbot-delivery-6")


async def history(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The channel's history as Discord answers it (newest first)."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake.api_base}/channels/{CHANNEL_ID}/messages",
            headers={"Authorization": f"Bot {TOKEN}"},
        ) as answer,
    ):
        found: list[dict[str, Any]] = await answer.json()
    return found


def test_failure_mapping_of_other_answers() -> None:
    class Response:
        status = 400
        reason = "Bad Request"
        headers: ClassVar[dict[str, str]] = {}

    rejected = failure(discord.HTTPException(Response(), {"code": 50035, "message": "x"}))
    assert rejected.reason == REJECTED_PAYLOAD and rejected.permanent
    assert failure(TimeoutError()).reason == TIMEOUT
    assert failure(discord.RateLimited(40.0)).retry_after == 40.0


def test_bad_channel_ids_are_refused() -> None:
    bot = adapter()
    with pytest.raises(DeliveryFailure) as caught:
        bot._messageable(Channel("discord", "g", "general"))
    assert caught.value.reason == CHANNEL_GONE and caught.value.permanent


# -- gateway ------------------------------------------------------------------------------


@pytest.mark.parametrize("resume_ok", [True, False])
async def test_dropped_gateway_reconnects_and_keeps_serving(
    fake: FakeDiscord, ctx: CommandContext, resume_ok: bool
) -> None:
    fake.resume_ok = resume_ok
    async with serving(fake, ctx, adapter()):
        token = await fake.send_interaction("ev-help")
        await answer(fake, token)
        assert await fake.drop_gateway() == 1
        await fake.wait_identified(1)
        token = await fake.send_interaction(
            "ev-total", [{"name": "subject", "type": 3, "value": "nissan leaf"}]
        )
        assert "Nissan Leaf" in embed_of(final(await answer(fake, token)))["title"]
    assert len(fake.resumes) == 1
    assert len(fake.identifies) == (1 if resume_ok else 2)


async def test_sharded_when_a_shard_count_is_configured(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    other = GUILD_ID + (1 << 22)  # maps to shard 1 of 2
    fake.guilds[other] = [CHANNEL_ID + 50]
    bot = adapter(shard_count=2)
    assert isinstance(bot.client, discord.AutoShardedClient)
    async with serving(fake, ctx, bot, shards=2):
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        token = await fake.send_interaction(
            "ev-total",
            [{"name": "subject", "type": 3, "value": "alliance"}],
            guild_id=other,
            channel_id=CHANNEL_ID + 50,
        )
        assert "Renault-Nissan Alliance" in embed_of(final(await answer(fake, token)))["title"]


# -- configuration ------------------------------------------------------------------------


def test_settings_are_checked_with_the_key_named() -> None:
    good = DiscordSettings.from_options(
        {"application_id": "123", "guilds": ["45", 67], "shard_count": 2, "shard_ids": [1]}
    )
    assert good.application_id == 123 and good.guilds == (45, 67) and good.shard_ids == (1,)
    for options, where in [
        ({"application_id": "abc"}, "application_id"),
        ({"guilds": ["x"]}, "guilds[0]"),
        ({"shard_count": 0}, "shard_count"),
        ({"shard_count": 2, "shard_ids": [2]}, "shard_ids"),
        ({"shard_ids": [0]}, "shard_ids"),
        ({"api_base": "ftp://x"}, "api_base"),
        ({"gateway_url": "http://x"}, "gateway_url"),
        ({"rate_per_second": 0}, "rate_per_second"),
    ]:
        with pytest.raises(ConfigError, match=rf"platforms\.discord\.{where.replace('[', '.')}"):
            DiscordSettings.from_options(options)


def test_token_comes_from_the_environment_and_never_shows() -> None:
    config = PlatformConfig("discord", True, {"token": "MY_DISCORD_TOKEN"})
    bot = DiscordAdapter(config, environ={"MY_DISCORD_TOKEN": "aaa.bbb.s3cret"})
    assert "s3cret" not in repr(bot)
    with pytest.raises(ConfigError, match="token"):
        DiscordAdapter(config, environ={})
    with pytest.raises(ConfigError, match="not a Discord bot token") as caught:
        DiscordAdapter(config, environ={"MY_DISCORD_TOKEN": "pasted-s3cret value"})
    assert "s3cret" not in str(caught.value)


def test_invite_url_has_the_scopes_and_permissions() -> None:
    url = yarl.URL(invite_url(APP_ID))
    assert url.query["client_id"] == str(APP_ID)
    assert url.query["scope"] == "bot applications.commands"
    wanted = 1 << 10 | 1 << 11 | 1 << 14 | 1 << 15 | 1 << 16
    assert int(url.query["permissions"]) == wanted


def test_discord_is_not_imported_by_the_core() -> None:
    logging.getLogger("discord").setLevel(logging.WARNING)
    import subprocess
    import sys

    code = (
        "import bot.app.runtime, bot.cli.main, bot.app.bootstrap, sys; "
        "print('discord' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- charts (the core's real charts, through Discord) ------------------------------------------


async def test_milestone_announcement_carries_its_chart_as_a_file(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    charts = pytest.importorskip("bot.charts.service")
    store = await fresh_store(tmp_path)
    bot = adapter()
    try:
        await fan_out(store, [HERE])
        worker = DeliveryWorker(
            store, {"discord": bot}, LADDERS, charts=charts.StoreCharts(store, default_config())
        )
        await worker.drain()
        (posted,) = fake.messages(CHANNEL_ID)
        (upload,) = posted.files
        assert upload["field"] == "files[0]" and upload["data"].startswith(b"\x89PNG")
        embed = embed_of(posted.body)
        assert embed["image"] == {"url": f"attachment://{upload['filename']}"}
        (attachment,) = posted.body["attachments"]
        assert attachment["filename"] == upload["filename"]
        assert attachment["description"] == embed["title"]  # the alt text: what it shows
        assert posted.payload["attachments"][0]["filename"] == upload["filename"]
    finally:
        await bot.close()
        await store.close()


async def test_chart_command_answers_with_the_png(fake: FakeDiscord, ctx: CommandContext) -> None:
    async with serving(fake, ctx, adapter()):
        token = await fake.send_interaction(
            "ev-chart", [{"name": "subject", "type": 3, "value": "alliance"}]
        )
        got = await answer(fake, token)
        _, body = got[-1]
        data = body.get("data", body)  # an immediate callback, or a followup after a deferral
        (upload,) = body["_files"]
        assert upload["data"].startswith(b"\x89PNG")
        assert embed_of(data)["image"] == {"url": f"attachment://{upload['filename']}"}


def test_embed_timestamp_must_be_aware() -> None:
    from datetime import UTC, datetime

    from adapters.discord.render import render_embed

    when = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert render_embed(Message(title="t", body="b"), when)["timestamp"] == when.isoformat()
    assert "timestamp" not in render_embed(Message(title="t", body="b"))
    with pytest.raises(ValueError, match="timezone-aware"):
        render_embed(Message(title="t", body="b"), datetime(2026, 11, 25))


async def test_a_global_429_holds_every_request_then_posts(fake: FakeDiscord) -> None:
    bot = adapter()
    try:
        fake.fail(429, times=1, retry_after=0.3, global_=True)
        message_id = await bot.post(HERE, Message(title="t", body="b"), "evbot-delivery-4")
        creates = fake.requests_to("POST", "/messages")
        assert [r.status for r in creates] == [429, 200]
        assert creates[1].at - creates[0].at >= 0.3 - 0.01
        assert [m.payload["id"] for m in fake.messages()] == [message_id]
    finally:
        await bot.close()


async def test_the_callers_locale_formats_the_answer(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    async with serving(fake, ctx, adapter()):
        token = await fake.send_interaction(
            "ev-total", [{"name": "subject", "type": 3, "value": "alliance"}], locale="fr"
        )
        description = embed_of(final(await answer(fake, token)))["description"]
    assert "377\u202f700" in description or "377\u00a0700" in description, description


async def test_a_subscription_takes_the_guild_s_language_unless_it_names_one(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    """The locale chain: `locale:` given, then Discord's guild_locale, then the configuration;
    the caller's own client language only formats one-off answers."""
    async with serving(fake, ctx, adapter()):
        subject = {"name": "subject", "type": 3, "value": "alliance"}
        token = await fake.send_interaction(
            "ev-subscribe", [subject], locale="fr", guild_locale="de"
        )
        await answer(fake, token)
        [sub] = await ctx.store.subscriptions()
        assert sub.spec.locale == "de"
        named = {"name": "locale", "type": 3, "value": "nb"}
        token = await fake.send_interaction("ev-subscribe", [subject, named], guild_locale="de")
        await answer(fake, token)
        [sub] = await ctx.store.subscriptions()
        assert sub.spec.locale == "nb"


async def test_a_failing_command_is_answered_and_logged(
    fake: FakeDiscord, ctx: CommandContext, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx, inv, name, args):
        raise RuntimeError("a bug in a handler")

    bot = DiscordAdapter(
        token=TOKEN, settings=DiscordSettings(), guild_ready_timeout=0.05, run_command=broken
    )
    async with serving(fake, ctx, bot):
        token = await fake.send_interaction("ev-help")
        kind, seen, body = await fake.next_callback()
    assert (kind, seen, body["type"]) == ("callback", token, 4)
    assert body["data"]["flags"] & 64
    assert "went wrong" in body["data"]["content"]
    assert "a bug in a handler" not in json.dumps(body)
    assert any("command failed" in r.getMessage() for r in caplog.records)
