"""/ev-test and `evbot test-message`: a sample announcement as the channel's subscription renders
it, marked as a test, for managers only, once a minute, never recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import discord
import pytest

from adapters.discord.commands import build_tree, definitions
from adapters.slack.manifest import manifest
from bot.cli.main import main
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.sample import COOLDOWN_SECONDS
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.events import MilestoneEvent
from bot.domain.periods import Month
from bot.domain.records import DetectionWrite
from bot.domain.rungs import listed_range
from bot.domain.series import WORLD
from bot.store.sqlite.sales import SqliteStore

HERE = Channel("discord", "guild", "general")
MANAGER = Invocation(HERE, "alice", can_manage=True)
MEMBER = Invocation(HERE, "bob", can_manage=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ctx(demo_ctx: CommandContext) -> CommandContext:
    demo_ctx.clock = Clock()
    return demo_ctx


async def ask(ctx: CommandContext, text: str, who: Invocation = MANAGER) -> Reply:
    return await run_text(ctx, who, text)


async def recorded(ctx: CommandContext) -> tuple[int, int, int]:
    """Deliveries, events and recorded milestones in the store."""
    return (
        len(await ctx.store.deliveries(limit=10_000)),
        len(await ctx.store.events(limit=10_000)),
        len(await ctx.store.milestone_log(limit=10_000)),
    )


async def test_the_reply_is_the_marked_sample_in_the_subscription_format(
    ctx: CommandContext,
) -> None:
    sub = await ask(ctx, "/ev-subscribe nissan leaf locale:fr charts:off")
    assert sub.ok, sub.message.body
    before = await recorded(ctx)
    reply = await ask(ctx, "/ev-test")
    assert reply.ok, reply.message.body
    assert not reply.ephemeral  # posted in the channel
    message = reply.message
    assert message.title.startswith("Test: ")
    assert "Nissan Leaf" in message.title
    assert message.locale == "fr"
    assert message.image is None  # charts:off
    assert "not recorded" in message.body and "ladder default" in message.body
    assert reply.data is not None and reply.data["real_figures"] is True
    # French numbers: a narrow no-break space or a space groups thousands, never a comma
    assert "," not in message.title.split("Leaf", 1)[1]
    assert await recorded(ctx) == before  # no outbox row, no event, no milestone


async def test_the_sample_is_the_latest_stored_milestone_when_there_is_one(
    ctx: CommandContext,
) -> None:
    leaf = ctx.model.catalog.resolve("nissan leaf").subject
    event = MilestoneEvent(leaf, WORLD, "sales", listed_range([100_000]), Month(2014, 1), 100_123)
    store = ctx.store
    await store.save_detection(
        "sample-test", await store.watermark("sample-test"), 1, DetectionWrite(events=[event])
    )
    await ask(ctx, "/ev-subscribe nissan leaf charts:off")
    before = await recorded(ctx)
    reply = await ask(ctx, "/ev-test")
    assert reply.ok, reply.message.body
    assert reply.message.title.startswith("Test: ") and "100,000" in reply.message.title
    assert "100,123" in reply.message.body and "January 2014" in reply.message.body
    assert await recorded(ctx) == before


async def test_the_sample_carries_a_chart_when_the_subscription_does(ctx: CommandContext) -> None:
    await ask(ctx, "/ev-subscribe alliance")
    reply = await ask(ctx, "/ev-test")
    assert reply.ok, reply.message.body
    assert reply.message.title.startswith("Test: ")
    assert reply.message.image is not None and reply.message.image[:4] == b"\x89PNG"
    assert reply.message.image_alt


async def test_a_channel_following_nothing_is_told_how_to_subscribe(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-test")
    assert not reply.ok and reply.ephemeral
    assert "follows nothing" in reply.message.body
    assert "/ev-subscribe" in reply.message.body


async def test_a_member_who_cannot_manage_the_channel_is_refused(ctx: CommandContext) -> None:
    await ask(ctx, "/ev-subscribe alliance")
    reply = await ask(ctx, "/ev-test", MEMBER)
    assert not reply.ok and reply.ephemeral
    assert "manage this channel" in reply.message.body
    # the refusal does not start the cooldown: the manager can test at once
    assert (await ask(ctx, "/ev-test")).ok


async def test_the_cooldown_holds_per_channel(ctx: CommandContext) -> None:
    await ask(ctx, "/ev-subscribe alliance charts:off")
    other = Invocation(Channel("discord", "guild", "news"), "alice", can_manage=True)
    await ask(ctx, "/ev-subscribe alliance charts:off", other)
    assert (await ask(ctx, "/ev-test")).ok
    clock = ctx.clock
    assert isinstance(clock, Clock)
    clock.now += 10
    again = await ask(ctx, "/ev-test")
    assert not again.ok and again.ephemeral
    assert "60 seconds" in again.message.body and "try again in 50 s" in again.message.body
    assert (await ask(ctx, "/ev-test", other)).ok  # another channel has its own
    clock.now += COOLDOWN_SECONDS
    assert (await ask(ctx, "/ev-test")).ok


async def test_a_digest_subscription_sees_its_digest(ctx: CommandContext) -> None:
    await ask(ctx, "/ev-subscribe alliance mode:daily")
    reply = await ask(ctx, "/ev-test")
    assert reply.ok, reply.message.body
    assert reply.message.title.startswith("Test: EV digest")
    assert reply.message.image is None  # a digest carries no chart
    assert "daily digest" in reply.message.body


async def test_a_refusal_starts_no_cooldown_and_two_at_once_post_one(
    ctx: CommandContext,
) -> None:
    assert not (await ask(ctx, "/ev-test")).ok  # follows nothing
    await ask(ctx, "/ev-subscribe alliance charts:off")
    first, second = await asyncio.gather(ask(ctx, "/ev-test"), ask(ctx, "/ev-test"))
    assert [first.ok, second.ok].count(True) == 1
    refused = second if first.ok else first
    assert "try again in 60 s" in refused.message.body


async def test_it_takes_no_options(ctx: CommandContext) -> None:
    await ask(ctx, "/ev-subscribe alliance")
    reply = await ask(ctx, "/ev-test alliance")
    assert not reply.ok and "takes no subject" in reply.message.body


def test_discord_and_slack_define_it_for_managers() -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not called")

    command = COMMANDS["ev-test"]
    assert command.manages_channel and command.example == "/ev-test"
    tree = build_tree(discord.Client(intents=discord.Intents.none()), never, lambda _: [], never)
    sent = {c["name"]: c for c in definitions(tree)}
    assert "sample announcement" in sent["ev-test"]["description"]
    assert not sent["ev-test"].get("options")
    # Discord hides it from members who cannot manage channels (the core checks it anyway)
    assert sent["ev-test"]["default_member_permissions"] is not None
    slack = {c["command"] for c in manifest()["features"]["slash_commands"]}
    assert "/ev-test" in slack


# -- evbot test-message ---------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "cli.sqlite3")
    assert main(["import", "--demo", "--db", path]) == 0
    capsys.readouterr()
    return path


def counts(db: str) -> tuple[int, int, int]:
    async def read() -> tuple[int, int, int]:
        async with SqliteStore(db) as store:
            return (
                len(await store.deliveries(limit=10_000)),
                len(await store.events(limit=10_000)),
                len(await store.milestone_log(limit=10_000)),
            )

    return asyncio.run(read())


def test_cli_posts_the_sample_through_the_console(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribe", "nissan leaf", "--no-charts", "--db", db]) == 0
    capsys.readouterr()
    before = counts(db)
    assert main(["test-message", "--db", db]) == 0
    out, err = capsys.readouterr()
    assert "Test: " in out and "Nissan Leaf" in out, (out, err)
    assert "not recorded" in out
    assert counts(db) == before


def test_cli_refuses_a_channel_that_follows_nothing(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test-message", "--channel", "elsewhere", "--db", db]) == 1
    out, err = capsys.readouterr()
    assert "follows nothing" in err and "evbot subscribe" in err
    assert "Test:" not in out


def test_cli_refuses_a_platform_that_is_not_enabled(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribe", "alliance", "--db", db]) == 0
    capsys.readouterr()
    before = counts(db)
    assert main(["test-message", "--platform", "discord", "--db", db]) == 1
    out, err = capsys.readouterr()
    assert "discord platform is not enabled" in err and "Test:" not in out
    assert counts(db) == before
