"""Hostile command text through the real parser and the real command table over a real store:
every input ends in an answer or a polite error, nothing an unprivileged user types changes what
a channel receives, and no answer can ping or carry markup."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.app.bootstrap import open_commands
from bot.commands.arguments import MAX_LENGTH, ArgumentError, CommandCall, parse_command
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.ingest.importer import import_demo
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.inert import check_all
from tests.hostile.support import ATTACKS, FUZZ

HERE = Channel("discord", "guild", "general")
OTHER = Channel("discord", "guild", "elsewhere")
MANAGER = Invocation(HERE, "alice", can_manage=True)
MEMBER = Invocation(HERE, "mallory", can_manage=False)


class Bot:
    """A command context over the demo data, and the file behind it."""

    def __init__(self, runner: asyncio.Runner, ctx: CommandContext, db: Path) -> None:
        self.runner = runner
        self.ctx = ctx
        self.db = db

    def ask(self, text: str, who: Invocation = MANAGER) -> Reply:
        reply = self.runner.run(asyncio.wait_for(run_text(self.ctx, who, text), 30))
        assert isinstance(reply, Reply)
        if not reply.ok:
            assert reply.ephemeral, "an error is shown to the caller only"
            assert reply.message.body.strip(), "an error says what went wrong"
        check_all(reply.message)
        return reply

    def subscriptions(self) -> list[tuple[str, str, str, str]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT platform, workspace, channel, subject_key FROM subscriptions ORDER BY 1, "
                "2, 3, 4"
            ).fetchall()
        return [tuple(r) for r in rows]


@pytest.fixture
def bot(tmp_path: Path, runner: asyncio.Runner) -> Iterator[Bot]:
    config = default_config()
    db = tmp_path / "demo.sqlite3"
    store = SqliteStore(db)

    async def setup() -> CommandContext:
        await store.open()
        await store.sync_groups(config.groups)
        await import_demo(store, config)
        return await open_commands(store, config)

    ctx = runner.run(setup())
    yield Bot(runner, ctx, db)
    runner.run(store.close())


# -- the parser alone ---------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=MAX_LENGTH + 50))
@example(text='/ev-total "')
@example(text="/ev-total region:'")
@example(text="/ev-total a:b a:c")
@example(text="/ev-total region:")
@example(text="/\u0000")
@example(text="/EV-TOTAL\u00a0x")
def test_parse_command_gives_a_call_or_an_argument_error(text: str) -> None:
    try:
        call = parse_command(text)
    except ArgumentError as exc:
        assert str(exc).strip()
        return
    assert isinstance(call, CommandCall)
    assert call.name and all(call.words)


def test_a_10000_character_argument_is_refused_politely(bot: Bot) -> None:
    before = bot.subscriptions()
    for text in (
        "/ev-total " + "x" * 10_000,
        "/ev-subscribe " + "leaf " * 2_000,
        '/ev-total region:"' + "U" * 10_000 + '"',
        "/ev-total " + "@everyone " * 1_000,
    ):
        reply = bot.ask(text)
        assert not reply.ok
        assert "characters long; please keep it under 500" in reply.message.body
        assert len(reply.message.body) < 200, "the refusal does not echo the argument back"
    assert bot.subscriptions() == before


# -- commands end to end --------------------------------------------------------------------------

_names = st.sampled_from([f"/{n}" for n in COMMANDS] + ["/ev-nope", "ev-total", "/", "/EV-HELP"])
_option_names = st.sampled_from(
    ["region", "as-of", "as_of", "period", "subject", "kinds", "ladder", "mode", "locale", "x"]
)
_values = st.one_of(
    st.sampled_from(ATTACKS),
    st.sampled_from(
        [
            "US",
            "World",
            "2015",
            "2015-06",
            "june 2015",
            "ytd",
            "all",
            "0000-00",
            "99999",
            "fr",
            "xx_YY",
            "instant",
            "daily",
            "milestone,share",
            "every:0",
        ]
    ),
    st.text(max_size=20),
)
_word = st.one_of(
    st.sampled_from(["nissan", "leaf", "alliance", "renault", "zoe", "all", "'", '"', ":"]),
    st.sampled_from(ATTACKS),
    st.text(max_size=12),
)


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    parts = [draw(_names)]
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            value = draw(_values)
            quote = draw(st.sampled_from(["", '"', "'"]))
            parts.append(f"{draw(_option_names)}:{quote}{value}{quote}")
        else:
            parts.append(draw(_word))
    return " ".join(parts)


@FUZZ
@given(text=st.one_of(command_texts(), st.text(max_size=200)))
@example(text="/ev-total <@123> region:@everyone")
@example(text="/ev-share alliance period:<!channel>")
@example(text="/ev-milestones **nissan** region:[x](https://evil.example)")
@example(text="/ev-preview @here")
def test_every_command_text_ends_in_an_answer_or_a_polite_error(bot: Bot, text: str) -> None:
    before = bot.subscriptions()
    bot.ask(text, MEMBER)
    assert bot.subscriptions() == before, "a user without permission changed subscriptions"
    bot.ask(text, MANAGER)


# -- permission: every subscription path ---------------------------------------------------


def test_a_user_without_permission_cannot_change_any_subscription(bot: Bot) -> None:
    """Set up subscriptions as a manager (here and in another channel), then try every path that
    changes what a channel receives as a plain member: all refused, nothing changed."""
    other_manager = Invocation(OTHER, "olivia", can_manage=True)
    for text, who in (
        ("/ev-subscribe alliance", MANAGER),
        ("/ev-subscribe nissan leaf kinds:milestone", MANAGER),
        ("/ev-subscribe renault zoe", MANAGER),
        ("/ev-subscribe alliance", other_manager),
    ):
        assert bot.ask(text, who).ok, text
    before = bot.subscriptions()
    assert len(before) == 4
    attempts = [
        "/ev-subscribe alliance",
        "/ev-subscribe nissan",
        "/ev-subscribe alliance mode:daily locale:fr",  # an update of an existing one
        "/ev-subscribe nissan leaf kinds:milestone,share,growth,record ladder:default",
        "/ev-subscribe subject:renault zoe",
        "/ev-subscribe renault zoe mode:daily",
        "/ev-subscribe all",
        "/ev-unsubscribe alliance",
        "/ev-unsubscribe nissan leaf",
        "/ev-unsubscribe all",
        "/ev-unsubscribe subject:all",
        "/ev-unsubscribe ALL",
        "/EV-UNSUBSCRIBE all",
        "ev-unsubscribe all",
        "/unsubscribe all",
        "/subscribe alliance",
        "/ev-unsubscribe",
        "/ev-subscribe",
    ]
    for text in attempts:
        reply = bot.ask(text, MEMBER)
        assert not reply.ok, f"{text} was allowed for a user without permission"
        assert bot.subscriptions() == before, text
    refusal = bot.ask("/ev-unsubscribe all", MEMBER).message.body
    assert "needs permission to manage this channel" in refusal
    # reading is allowed
    assert bot.ask("/ev-subscriptions", MEMBER).ok
    assert bot.ask("/ev-preview alliance", MEMBER).ok
    # and a manager here cannot reach another channel's subscriptions by any argument
    for text in ("/ev-unsubscribe all channel:elsewhere", "/ev-unsubscribe alliance"):
        bot.ask(text, MANAGER)
    assert ("discord", "guild", "elsewhere", "group:renault-nissan-alliance") in [
        tuple(s) for s in bot.subscriptions()
    ]


def test_a_repeated_subscribe_posts_no_second_status_message(bot: Bot) -> None:
    for _ in range(3):
        assert bot.ask("/ev-subscribe alliance").ok
    with sqlite3.connect(f"file:{bot.db}?mode=ro", uri=True) as conn:
        queued = conn.execute("SELECT COUNT(*) FROM deliveries WHERE kind = 'following'")
        assert queued.fetchone()[0] == 1
