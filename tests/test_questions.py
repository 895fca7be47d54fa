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


# -- period: --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "units", "said"),
    [
        ("2022", 24_000, "24,000 electric vehicles sold in 2022. Up 100% on 2021 (12,000)."),
        ("2023-Q2", 9_000, "9,000 electric vehicles sold in Q2 2023. Up 50% on Q2 2022 (6,000)."),
        ('"Q2 2023"', 9_000, "sold in Q2 2023. Up 50% on Q2 2022"),
        ("2023-05", 3_000, "3,000 electric vehicles sold in May 2023. Up 50% on May 2022"),
        ("may 2023", 3_000, "sold in May 2023. Up 50% on May 2022 (2,000)."),
        ("ytd", 18_000, "sold in January to June 2023. Up 50% on January to June 2022 (12,000)."),
        ("2023", 18_000, "sold in 2023 so far (through June 2023). Up 50% on January to June 2022"),
    ],
)
async def test_sold_in_a_period_against_a_year_earlier(
    ctx: CommandContext, period: str, units: int, said: str
) -> None:
    reply = await ask(ctx, f"/ev-total nissan leaf period:{period}")
    got = data(reply)
    assert got["total"] == units, reply.message.body
    assert said in reply.message.body
    assert got["change"] is not None


async def test_a_range_is_the_sum_with_no_comparison(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total leaf period:2021..2022")
    got = data(reply)
    assert got["total"] == 36_000 and got["previous"] is None
    assert "36,000 electric vehicles sold in 2021 to 2022." in reply.message.body
    assert "Up" not in reply.message.body


async def test_like_with_like_and_coverage_named(ctx: CommandContext) -> None:
    # the world's 2019-2020 are Norway's yearly figures (the world has none of its own then)
    reply = await ask(ctx, "/ev-total leaf period:2020")
    got = data(reply)
    assert got["total"] == 12_000 and got["covers"] == ["Norway"]
    assert "Nissan Leaf in Norway: 12,000 electric vehicles sold in 2020." in reply.message.body
    assert "Up 20% on 2019 (10,000)" in reply.message.body
    # 2021 is the world's own monthly figure: not compared with Norway's 2020
    reply = await ask(ctx, "/ev-total leaf period:2021")
    assert data(reply)["change"] is None
    assert "No comparison with 2020: 2021 is taken from World" in reply.message.body
    assert "not like for like" in reply.message.body
    reply = await ask(ctx, "/ev-total leaf period:2019..2021")
    assert data(reply)["total"] == 34_000
    assert "Note: 2019 counts Norway only. Note: 2020 counts Norway only." in reply.message.body
    reply = await ask(ctx, "/ev-total leaf period:2015..2019")
    assert data(reply)["total"] == 10_000
    assert "Note: the figures begin in 2019." in reply.message.body


async def test_a_period_finer_than_the_figures_is_refused(ctx: CommandContext) -> None:
    for period in ("2021-Q2", "2021-06", "2020-06..2021-12"):
        text = refused(await ask(ctx, f"/ev-total leaf region:Norway period:{period}"))
        assert "held only as whole years" in text and "yearly figures from yearly" in text
        assert "period:20" in text  # names what can be asked
    got = data(await ask(ctx, "/ev-total leaf region:Norway period:2020..2021"))
    assert got["total"] == 27_000
    # /ev-share takes the same periods, and refuses the same way
    text = refused(await ask(ctx, "/ev-share nissan region:Norway period:2021-Q4"))
    assert "held only as whole years in 2021" in text
    assert data(await ask(ctx, "/ev-share nissan region:Norway period:2021"))["total"] == 15_000
    assert data(await ask(ctx, "/ev-share nissan period:2023-Q2"))["total"] == 9_000


async def test_period_of_a_make_names_its_leading_model(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total nissan period:2022")
    assert data(reply)["total"] == 24_000
    assert "The Nissan Leaf leads with 24,000, 100%." in reply.message.body


async def test_period_refusals_and_empty_periods(ctx: CommandContext) -> None:
    assert "not both" in refused(await ask(ctx, "/ev-total leaf period:2022 as-of:2022"))
    assert "a level" in refused(await ask(ctx, "/ev-total WA metric:stock period:2023"))
    assert "a quarter is Q1 to Q4" in refused(await ask(ctx, "/ev-total leaf period:2023-Q7"))
    reply = await ask(ctx, "/ev-total leaf period:2030")
    assert reply.ok and "No figures for Nissan Leaf in 2030 yet." in reply.message.body
    # period:all is the running total, as without period:
    plain, every = await ask(ctx, "/ev-total leaf"), await ask(ctx, "/ev-total leaf period:all")
    assert plain.message.body == every.message.body and data(plain)["total"] == 76_000


def test_period_is_an_option_of_discord_and_slack() -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not called")

    tree = build_tree(discord.Client(intents=discord.Intents.none()), never, lambda _: [], never)
    sent = {c["name"]: c for c in definitions(tree)}
    option = next(o for o in sent["ev-total"]["options"] if o["name"] == "period")
    assert option["required"] is False and "2019..2021" in option["description"]
    assert "period" in {o.name for o in COMMANDS["ev-total"].options}


def test_a_period_is_unconfirmed_only_when_it_sums_a_held_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the command line (`evbot import`, `evbot ask`) with a real SQLite file: a held
    figure in 2019 makes 2019 unconfirmed, never 2020 (though a running total through 2020 sums
    it)."""
    from bot.cli.main import main

    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "bot.sqlite3")

    def csv(name: str, rows: list[tuple[str, int]]) -> str:
        path = tmp_path / name
        lines = "".join(f"{p},World,Nissan,Leaf,{u},BEV\n" for p, u in rows)
        path.write_text("period,region,make,model,units,powertrain\n" + lines, encoding="utf-8")
        return str(path)

    def ask_cli(text: str) -> str:
        status = main(["ask", text, "--db", db])
        out = capsys.readouterr().out
        assert status == 0, out
        return out

    history = csv("history.csv", [(f"2019-{m:02d}", 1_000) for m in range(1, 11)])
    assert main(["import", history, "--source", "feed", "--db", db]) == 0
    later = [("2019-11", 1_000_000), ("2019-12", 1_000), ("2020-01", 1_000), ("2020-02", 1_000)]
    assert main(["import", csv("typo.csv", later), "--source", "feed", "--db", db]) == 0
    capsys.readouterr()
    assert "Unconfirmed" in ask_cli("/ev-total nissan leaf")
    out = ask_cli("/ev-total nissan leaf period:2020")
    assert "2,000 electric vehicles sold in 2020 so far" in out and "nconfirmed" not in out
    out = ask_cli("/ev-total nissan leaf period:2019")
    assert "1,011,000" in out and "Unconfirmed: it counts 1 figure held" in out
