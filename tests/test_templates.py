"""Message templates: checked on save (listed names only), filled per locale, kept per workspace
on both backends, saved and listed by `evbot template set` / `evbot templates`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.render import render_embed
from adapters.slack.render import render_blocks
from bot.cli.main import main
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.delivery.following import subscribe
from bot.domain.announcer import announce
from bot.domain.channels import Channel
from bot.domain.events import CorrectionEvent, Leader, MilestoneEvent, Subject
from bot.domain.periods import Month
from bot.domain.rungs import listed_range
from bot.domain.subscriptions import SubscriptionError, SubscriptionSpec
from bot.domain.templates import (
    Template,
    TemplateError,
    apply_template,
    check_name,
    check_template,
)
from bot.ports.store import BotStore
from tests.test_subscriptions import C1, LEAF_100K, Bot, start_bot

LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
EVENT = MilestoneEvent(
    LEAF,
    "Norway",
    "sales",
    listed_range([100_000]),
    Month(2015, 6),
    101_000,
    leader=Leader("Nissan Leaf", 101_000, 1.0),
    next_threshold=150_000,
)


def template(body: str, kind: str = "milestone") -> Template:
    return Template("discord", "g1", "newsroom", kind, body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{subject.name} passes", "only a name"),
        ("{subject[0]}", "only a name"),
        ("{0} passes", "only a name"),
        ("{} passes", "only a name"),
        ("{total!r}", "no conversion or format spec"),
        ("{total:>10}", "no conversion or format spec"),
        ("{owner} passes", "unknown placeholder {owner}"),
        ("{subject passes", "not valid"),
        ("   ", "empty"),
        ("x" * 2001, "at most 2,000"),
    ],
)
def test_a_template_is_refused_saying_why(body: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why.replace("{", r"\{").replace("}", r"\}")):
        check_template(body)


def test_names_and_kinds_are_checked() -> None:
    check_name("newsroom-2", "milestone")
    with pytest.raises(TemplateError, match="template name"):
        check_name("News Room", "milestone")
    with pytest.raises(TemplateError, match="a correction keeps its own words"):
        check_name("newsroom", "correction")


def test_a_template_writes_the_body_in_the_message_s_locale() -> None:
    body = "{subject}: {threshold} {coverage}, {total} by {period}; next {next} ({leader} {share})"
    check_template(body)
    message = apply_template(announce(EVENT, "fr"), EVENT, template(body))
    assert message.body == (
        "Nissan Leaf: 100\u202f000 en Norvège, 101\u202f000 by juin 2015;"
        " next 150\u202f000 (Nissan Leaf 100\xa0%)"
    )
    assert message.title == announce(EVENT, "fr").title  # the headline stays the bot's


def test_a_template_s_text_is_escaped_by_each_platform_after_substitution() -> None:
    hostile = MilestoneEvent(
        Subject("model", "model:x/y", "@everyone <@123> *bold*"),
        "World",
        "sales",
        listed_range([1_000]),
        Month(2015, 6),
        1_001,
    )
    message = apply_template(announce(hostile), hostile, template("**{subject}** passes"))
    description = render_embed(message)["description"]
    assert "@everyone" not in description and "<@123>" not in description
    assert "\\*\\*" in description  # the template's own markup is text too
    _, fallback = render_blocks(message)
    assert "<@123>" not in fallback


def test_a_template_for_another_kind_or_a_correction_does_not_apply() -> None:
    with pytest.raises(TemplateError, match="is for share, not milestone"):
        apply_template(announce(EVENT), EVENT, template("{subject}", kind="share"))
    correction = CorrectionEvent(
        LEAF, "World", "sales", 100_000, "fell_below", Month(2015, 7), 99_000, Month(2015, 6), 1
    )
    with pytest.raises(TemplateError):
        apply_template(announce(correction), correction, template("{subject}", "correction"))


async def test_templates_are_kept_per_workspace_name_and_kind(any_store: BotStore) -> None:
    assert await any_store.set_template(template("{subject} passes {threshold}"))
    assert await any_store.set_template(template("{subject} grows", kind="growth"))
    assert not await any_store.set_template(template("{subject} passes {threshold}!"))
    await any_store.set_template(Template("discord", "g2", "newsroom", "milestone", "other"))
    found = await any_store.templates("discord", "g1")
    assert [(t.name, t.kind, t.body) for t in found] == [
        ("newsroom", "growth", "{subject} grows"),
        ("newsroom", "milestone", "{subject} passes {threshold}!"),
    ]
    assert await any_store.templates("slack", "g1") == []


def test_template_set_checks_then_saves_and_templates_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "t.sqlite3")
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("{subject} passes {threshold}{coverage}\n", encoding="utf-8")
    bad.write_text("{subject.__class__}", encoding="utf-8")
    assert main(["template", "set", "newsroom", "milestone", str(good), "--db", db]) == 0
    assert "saved template 'newsroom' for milestone in console/local" in capsys.readouterr().out
    assert main(["template", "set", "other", "milestone", str(bad), "--db", db]) == 1
    err = capsys.readouterr().err
    assert "bad.txt: placeholder {subject.__class__}" in err and "nothing was saved" in err
    assert main(["templates", "--db", db]) == 0
    out = capsys.readouterr().out
    assert out == "newsroom (milestone): '{subject} passes {threshold}{coverage}'\n"


# -- a subscription's template, end to end ----------------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    b = await start_bot(tmp_path)
    try:
        yield b
    finally:
        await b.store.close()


async def follow(b: Bot, subject: str, template: str, **settings: Any) -> None:
    spec = SubscriptionSpec(C1, b.catalog.resolve(subject).subject, **settings)
    await subscribe(b.store, b.config, spec, time.time(), template)


async def test_a_subscription_s_announcements_use_its_template(bot: Bot) -> None:
    with pytest.raises(SubscriptionError, match="no template 'newsroom' here"):
        await follow(bot, "nissan leaf", "newsroom")
    await bot.store.set_template(
        Template(C1.platform, C1.workspace, "newsroom", "milestone", "{subject}: {threshold}!")
    )
    await follow(bot, "nissan leaf", "newsroom", locale="de")
    await bot.drain()  # the baseline
    await bot.feed(LEAF_100K)
    [(_, message)] = await bot.drain()
    assert message.body == "Nissan Leaf: 100.000!"
    assert message.title == "Nissan Leaf überschreitet 100.000 Verkäufe"


async def test_a_template_that_fails_at_send_time_sends_the_built_in_text(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # saved before the rules it breaks (an older bot, a hand-edited row): never a lost message
    await bot.store.set_template(
        Template(C1.platform, C1.workspace, "old", "milestone", "{subject.__class__}")
    )
    await follow(bot, "nissan leaf", "old")
    await bot.drain()
    await bot.feed(LEAF_100K)
    [(_, message)] = await bot.drain()
    assert message.body.startswith("The Nissan Leaf has passed 100,000 sales")
    assert "template 'old' (milestone) failed; the built-in text is sent" in caplog.text


async def test_subscribing_again_without_a_template_drops_it(bot: Bot) -> None:
    await bot.store.set_template(
        Template(C1.platform, C1.workspace, "newsroom", "milestone", "{subject}!")
    )
    await follow(bot, "nissan leaf", "newsroom")
    [sub] = await bot.store.subscriptions(C1)
    assert [t.name for t in (await bot.store.subscription_templates([sub.id]))[sub.id]] == [
        "newsroom"
    ]
    await follow(bot, "nissan leaf", "", ladder="headline")
    assert await bot.store.subscription_templates([sub.id]) == {}


async def test_ev_subscribe_names_a_template_and_ev_test_previews_it(
    demo_ctx: CommandContext,
) -> None:
    here = Channel("discord", "guild", "general")
    manager = Invocation(here, "alice", can_manage=True)
    refused = await run_text(demo_ctx, manager, "/ev-subscribe alliance template:newsroom")
    assert not refused.ok and "no template 'newsroom' here" in refused.message.body
    await demo_ctx.store.set_template(
        Template("discord", "guild", "newsroom", "milestone", "{subject} — {threshold} ({period})")
    )
    reply = await run_text(demo_ctx, manager, "/ev-subscribe alliance template:newsroom")
    assert reply.ok, reply.message.body
    preview = await run_text(demo_ctx, manager, "/ev-test")
    assert preview.message.body.startswith("Renault-Nissan Alliance — "), preview.message.body
