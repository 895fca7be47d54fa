"""Questions people ask (issue 18): `metric:` on the reading commands and `period:` on /ev-total,
end to end through `run_text` over a real SQLite store, and in the Discord and Slack definitions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.commands import build_tree, definitions
from bot.app.bootstrap import open_commands
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore

WHO = Invocation(Channel("discord", "guild", "general"), "alice", can_manage=False)
STOCK = [100_000 + 2_000 * i for i in range(6)]  # WA's registered EVs, Jan to June 2023


def wa_stock() -> list[SalesRecord]:
    """Registered stock in WA: a level each month (Tesla Model Y 60 %, Nissan Leaf 40 %)."""
    out = []
    for i, level in enumerate(STOCK):
        month = f"2023-{i + 1:02d}"
        tesla, nissan = level * 6 // 10, level * 4 // 10
        out.append(SalesRecord(month, "WA", "Tesla", "Model Y", tesla, cumulative=True))
        out.append(SalesRecord(month, "WA", "Nissan", "Leaf", nissan, cumulative=True))
    return out


def world_sales() -> list[SalesRecord]:
    """Monthly Leaf sales worldwide, 2021-01 to 2023-06: 1,000 a month in 2021, 2,000 in 2022,
    3,000 in 2023."""
    out = []
    for year, units in ((2021, 1_000), (2022, 2_000), (2023, 3_000)):
        for month in range(1, 13 if year < 2023 else 7):
            out.append(SalesRecord(f"{year}-{month:02d}", WORLD, "Nissan", "Leaf", units))
    return out


def norway_yearly() -> list[SalesRecord]:
    """Yearly Leaf sales in Norway, 2019 to 2022."""
    return [
        SalesRecord(str(year), "Norway", "Nissan", "Leaf", units)
        for year, units in ((2019, 10_000), (2020, 12_000), (2021, 15_000), (2022, 18_000))
    ]


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[CommandContext]:
    config = default_config()
    async with SqliteStore(tmp_path / "q.sqlite3") as store:
        await store.sync_groups(config.groups)
        await store.import_records(
            [
                (SourceSpec("wa-registrations", "stock", 1), wa_stock()),
                (SourceSpec("monthly", "sales", 1), world_sales()),
                (SourceSpec("yearly", "sales", 2), norway_yearly()),
            ]
        )
        yield await open_commands(store, config)


async def ask(ctx: CommandContext, text: str) -> Reply:
    return await run_text(ctx, WHO, text)


def data(reply: Reply) -> dict[str, Any]:
    assert reply.ok, reply.message.body
    assert reply.data is not None
    return dict(reply.data)


def refused(reply: Reply) -> str:
    assert not reply.ok, reply.message.body
    assert reply.ephemeral
    return reply.message.body


# -- metric: --------------------------------------------------------------------------------


async def test_stock_is_reachable_from_chat_and_named(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total WA metric:stock")
    got = data(reply)
    assert got["metric"] == "stock" and got["total"] == STOCK[-1]
    assert "110,000 electric vehicles registered as of June 2023" in reply.message.body
    assert "registered" in reply.message.title
    assert "Tesla Model Y" not in reply.message.body  # all EVs: no model breakdown
    # the default stays sales, unchanged: WA has no sales figures
    default = await ask(ctx, "/ev-total WA")
    assert data(default)["metric"] == "sales"
    assert default.message.body == "No figures for all EVs in WA yet."
    assert (await ask(ctx, "/ev-total WA metric:sales")).message.body == default.message.body


async def test_stock_of_a_make_with_as_of_and_explain(ctx: CommandContext) -> None:
    got = data(await ask(ctx, "/ev-total tesla region:WA metric:stock as-of:2023-03"))
    assert got["total"] == STOCK[2] * 6 // 10 and got["as_of"] == "2023-03"
    reply = await ask(ctx, "/ev-total WA metric:STOCK explain:yes")
    assert "Metric: stock only (registered vehicles, a level)" in reply.message.body


async def test_stock_milestones_and_chart(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-milestones WA metric:stock")
    got = data(reply)
    assert got["metric"] == "stock" and got["total"] == STOCK[-1]
    assert got["milestones"] and got["milestones"][0]["threshold"] == 100_000
    assert "registered" in reply.message.title
    assert data(await ask(ctx, "/ev-milestones WA"))["total"] == 0
    chart = await ask(ctx, "/ev-chart WA metric:stock")
    assert data(chart)["metric"] == "stock" and data(chart)["image"]
    assert "registered" in chart.message.title
    assert "monthly" in refused(await ask(ctx, "/ev-chart WA kind:monthly metric:stock"))


async def test_a_bad_metric_is_refused_naming_the_choices(ctx: CommandContext) -> None:
    assert "is not one of sales, stock" in refused(await ask(ctx, "/ev-total WA metric:fleet"))


def test_metric_is_an_option_of_discord_and_slack() -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not called")

    client = discord.Client(intents=discord.Intents.none())
    tree = build_tree(client, never, lambda _: [], never)
    sent = {c["name"]: c for c in definitions(tree)}
    for name in ("ev-total", "ev-milestones", "ev-chart"):
        option = next(o for o in sent[name]["options"] if o["name"] == "metric")
        assert [c["value"] for c in option["choices"]] == ["sales", "stock"]
        # Slack reads name:value from the text against the same table
        assert "metric" in {o.name for o in COMMANDS[name].options}
