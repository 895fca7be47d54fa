"""The powertrain split (issue 18): `powertrain:electric|bev|phev|fcev` on the reading commands
and `--powertrain` on the CLI; fuel-cell cars never count in the default ("electric cars", the
IEA's BEV + PHEV), a figure without a powertrain counts as electric; the aggregates kept on
write hold the split on both backends; a store written before is re-recorded silently."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.commands import build_tree, definitions
from bot.app.bootstrap import open_commands
from bot.cli.main import main
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import StoreFactory

WHO = Invocation(Channel("discord", "guild", "general"), "alice", can_manage=False)
MONTHS = [f"2023-{m:02d}" for m in range(1, 7)]


def world() -> list[SalesRecord]:
    """Six months worldwide: a Leaf (BEV) 1,000 a month, a Prius (PHEV) 500, a Mirai (FCEV) 100,
    Hyundai's Kona (BEV) 300 and Nexo (FCEV) 50; and Norway's total, no powertrain, 2,000."""
    out = []
    for month in MONTHS:
        out += [
            SalesRecord(month, WORLD, "Nissan", "Leaf", 1_000, "BEV"),
            SalesRecord(month, WORLD, "Toyota", "Prius", 500, "PHEV"),
            SalesRecord(month, WORLD, "Toyota", "Mirai", 100, "FCEV"),
            SalesRecord(month, WORLD, "Hyundai", "Kona", 300, "BEV"),
            SalesRecord(month, WORLD, "Hyundai", "Nexo", 50, "FCEV"),
            SalesRecord(month, "Norway", "", "", 2_000),
        ]
    return out


ELECTRIC = 6 * (1_000 + 500 + 300)  # 10,800
FUEL_CELL = 6 * (100 + 50)  # 900


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[CommandContext]:
    config = default_config()
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        await store.sync_groups(config.groups)
        await store.import_records([(SourceSpec("press", "sales", 1), world())])
        yield await open_commands(store, config)


async def ask(ctx: CommandContext, text: str) -> Reply:
    return await run_text(ctx, WHO, text)


def data(reply: Reply) -> dict[str, Any]:
    assert reply.ok, reply.message.body
    assert reply.data is not None
    return dict(reply.data)


# -- chat -------------------------------------------------------------------------------------


async def test_the_default_counts_electric_cars_never_fuel_cell_ones(ctx: CommandContext) -> None:
    default = await ask(ctx, "/ev-total")
    assert data(default)["total"] == ELECTRIC and data(default)["powertrain"] == "electric"
    assert "10,800 electric vehicles sold through June 2023" in default.message.body
    assert data(await ask(ctx, "/ev-total powertrain:electric"))["total"] == ELECTRIC
    toyota = data(await ask(ctx, "/ev-total toyota"))
    assert toyota["total"] == 3_000
    assert [b["model"] for b in toyota["breakdown"]] == ["Toyota Prius"]  # no Mirai


@pytest.mark.parametrize(
    ("powertrain", "total", "said"),
    [
        ("bev", 6 * 1_300, "7,800 battery-electric cars sold"),
        ("phev", 6 * 500, "3,000 plug-in hybrids sold"),
        ("fcev", FUEL_CELL, "900 fuel-cell cars sold"),
        ("FCEV", FUEL_CELL, "900 fuel-cell cars sold"),
    ],
)
async def test_each_powertrain_is_told_by_name(
    ctx: CommandContext, powertrain: str, total: int, said: str
) -> None:
    reply = await ask(ctx, f"/ev-total powertrain:{powertrain}")
    got = data(reply)
    assert got["total"] == total and got["powertrain"] == powertrain.upper()
    assert said in reply.message.body
    assert said.split(" ", 1)[1].split(" sold")[0] in reply.message.title


async def test_a_make_a_model_a_period_and_a_region(ctx: CommandContext) -> None:
    hyundai = data(await ask(ctx, "/ev-total hyundai powertrain:fcev"))
    assert hyundai["total"] == 300
    assert [b["model"] for b in hyundai["breakdown"]] == ["Hyundai Nexo"]
    assert data(await ask(ctx, "/ev-total mirai"))["total"] == 0  # a fuel-cell car
    assert data(await ask(ctx, "/ev-total mirai powertrain:fcev"))["total"] == 600
    period = await ask(ctx, "/ev-total toyota period:2023-Q1 powertrain:fcev")
    assert data(period)["total"] == 300 and data(period)["powertrain"] == "FCEV"
    assert "300 fuel-cell cars sold in Q1 2023" in period.message.body
    # a figure without a powertrain counts as electric, and in no powertrain of its own
    assert data(await ask(ctx, "/ev-total norway"))["total"] == 12_000
    none = await ask(ctx, "/ev-total norway powertrain:bev")
    assert none.message.body == "No figures of battery-electric cars for all EVs in Norway yet."


async def test_shares_milestones_and_charts_of_a_powertrain(ctx: CommandContext) -> None:
    shares = data(await ask(ctx, "/ev-share toyota"))
    assert [s["model"] for s in shares["shares"]] == ["Toyota Prius"]
    fuel = await ask(ctx, "/ev-share toyota powertrain:fcev")
    assert [(s["model"], s["share"]) for s in data(fuel)["shares"]] == [("Toyota Mirai", 1.0)]
    assert "(fuel-cell cars)" in fuel.message.title
    milestones = data(await ask(ctx, "/ev-milestones hyundai"))
    assert milestones["total"] == 1_800
    assert [m["threshold"] for m in milestones["milestones"]] == [1_000]  # not 2,500 with Nexo
    assert data(await ask(ctx, "/ev-milestones hyundai powertrain:fcev"))["total"] == 300
    chart = await ask(ctx, "/ev-chart toyota powertrain:fcev")
    assert data(chart)["image"] and data(chart)["powertrain"] == "FCEV"
    assert chart.message.title == "Toyota: cumulative chart (fuel-cell cars)"
    assert "Toyota (fuel-cell cars): 600" in chart.message.body


async def test_a_bad_powertrain_is_refused_naming_the_choices(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total powertrain:diesel")
    assert not reply.ok
    assert "electric, bev, phev, fcev" in reply.message.body


async def test_a_revision_moves_both_the_electric_totals_and_the_split(
    ctx: CommandContext,
) -> None:
    store = ctx.model.store
    assert isinstance(store, SqliteStore)
    # held before the revision: the refresh re-reads what it touched
    assert data(await ask(ctx, "/ev-total toyota powertrain:fcev"))["total"] == 600
    await store.import_records(
        [
            (
                SourceSpec("press", "sales", 1),
                [
                    SalesRecord("2023-06", WORLD, "Toyota", "Mirai", 400, "FCEV"),
                    SalesRecord("2023-06", WORLD, "Toyota", "Prius", 800, "PHEV"),
                ],
            )
        ]
    )
    await ctx.model.refresh()
    assert data(await ask(ctx, "/ev-total toyota"))["total"] == 3_300
    assert data(await ask(ctx, "/ev-total toyota powertrain:fcev"))["total"] == 900
    assert data(await ask(ctx, "/ev-total powertrain:phev"))["total"] == 3_300


def test_powertrain_is_an_option_of_discord_and_slack() -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not called")

    client = discord.Client(intents=discord.Intents.none())
    tree = build_tree(client, never, lambda _: [], never)
    sent = {c["name"]: c for c in definitions(tree)}
    for name in ("ev-total", "ev-share", "ev-milestones", "ev-chart"):
        option = next(o for o in sent[name]["options"] if o["name"] == "powertrain")
        assert [c["value"] for c in option["choices"]] == ["electric", "bev", "phev", "fcev"]
        assert not option.get("required")
        # Slack reads name:value from the text against the same table
        assert "powertrain" in {o.name for o in COMMANDS[name].options}


# -- the CLI ------------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(args), out=out)
    return status, out.getvalue()


async def _imported(db: str) -> None:
    async with SqliteStore(db) as store:
        await store.import_records([(SourceSpec("press", "sales", 1), world())])


def test_cli_total_and_chart_take_powertrain(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.sqlite3")
    asyncio.run(_imported(db))
    status, out = _cli("total", "toyota", "--powertrain", "fcev", "--json", "--db", db)
    assert status == 0
    got = json.loads(out)
    assert (got["total"], got["powertrain"]) == (600, "FCEV")
    status, out = _cli("total", "all", "--db", db)
    assert status == 0 and "10,800 electric vehicles sold through June 2023" in out
    status, out = _cli("total", "all", "--powertrain", "PHEV", "--period", "2023", "--db", db)
    assert status == 0 and "3,000 plug-in hybrids sold in 2023" in out
    png = tmp_path / "mirai.png"
    status, out = _cli("chart", "mirai", "--powertrain", "fcev", "--out", str(png), "--db", db)
    assert status == 0 and png.read_bytes().startswith(b"\x89PNG")
    assert "600" in out
    with pytest.raises(SystemExit):
        _cli("total", "all", "--powertrain", "diesel", "--db", db)


# -- the store, both backends ---------------------------------------------------------------------


async def test_the_aggregates_keep_the_split_on_write(make_store: StoreFactory) -> None:
    """`cells`, `make_cells` and `all_cells` count electric cars; `powertrain_cells` each
    powertrain, running totals included; a revision moves both."""
    running = [
        SalesRecord("2023-01", "WA", "Tesla", "Model Y", 1_000, "BEV", cumulative=True),
        SalesRecord("2023-02", "WA", "Tesla", "Model Y", 1_500, "BEV", cumulative=True),
        SalesRecord("2023-01", "WA", "Toyota", "Mirai", 70, "FCEV", cumulative=True),
        SalesRecord("2023-02", "WA", "Toyota", "Mirai", 90, "FCEV", cumulative=True),
    ]
    store = make_store()
    async with store:
        await store.import_records(
            [(SourceSpec("press", "sales", 1), world()), (SourceSpec("wa", "sales", 1), running)]
        )

        def summed(rows: Any) -> dict[str, int]:
            out: dict[str, int] = {}
            for row in rows:
                out[row.region] = out.get(row.region, 0) + row.inc
            return out

        assert summed(await store.all_increments()) == {
            WORLD: ELECTRIC,
            "Norway": 12_000,
            "WA": 1_500,
        }
        assert summed(await store.make_increments(["toyota"])) == {WORLD: 3_000}
        assert summed(await store.powertrain_increments("FCEV")) == {WORLD: FUEL_CELL, "WA": 90}
        assert summed(await store.powertrain_increments("BEV", "tesla")) == {"WA": 1_500}
        assert summed(await store.powertrain_increments("PHEV", "toyota", "prius")) == {
            WORLD: 3_000
        }
        await store.import_records(
            [
                (
                    SourceSpec("wa", "sales", 1),
                    [
                        SalesRecord("2023-03", "WA", "Toyota", "Mirai", 95, "FCEV", True),
                        SalesRecord("2023-02", "WA", "Tesla", "Model Y", 1_600, "BEV", True),
                    ],
                )
            ]
        )
        assert summed(await store.all_increments())["WA"] == 1_600
        assert summed(await store.powertrain_increments("FCEV", "toyota", "mirai")) == {
            WORLD: 600,
            "WA": 95,
        }
        assert summed(await store.powertrain_increments("BEV", "tesla"))["WA"] == 1_600


async def test_a_refresh_touching_many_models_reads_the_held_powertrains_whole(
    ctx: CommandContext,
) -> None:
    assert data(await ask(ctx, "/ev-total powertrain:bev"))["total"] == 6 * 1_300
    many = [SalesRecord("2023-07", WORLD, "Make", f"Model {i}", 10, "BEV") for i in range(60)]
    many.append(SalesRecord("2023-06", WORLD, "Toyota", "Mirai", 0, "FCEV"))
    store = ctx.model.store
    assert isinstance(store, SqliteStore)
    await store.import_records([(SourceSpec("press", "sales", 1), many)])
    await ctx.model.refresh()
    assert data(await ask(ctx, "/ev-total powertrain:bev"))["total"] == 6 * 1_300 + 600
    assert data(await ask(ctx, "/ev-total powertrain:fcev"))["total"] == FUEL_CELL - 100
    assert data(await ask(ctx, "/ev-total"))["total"] == ELECTRIC + 600


async def test_an_empty_electric_answer_points_to_the_fuel_cell_figures(
    ctx: CommandContext,
) -> None:
    """/ev-total mirai has no electric figures; it says so and how to ask for its fuel-cell ones
    (an electric car with no figures gets no such line)."""
    reply = await ask(ctx, "/ev-total mirai")
    assert data(reply)["total"] == 0
    assert reply.message.body.endswith(
        "Fuel-cell cars are counted apart from electric cars (BEV + PHEV): "
        "/ev-total Toyota Mirai powertrain:fcev"
    )
    leaf = await ask(ctx, "/ev-total leaf as-of:2000-01")
    assert "Fuel-cell" not in leaf.message.body
    fuel = await ask(ctx, "/ev-total mirai powertrain:fcev")
    assert (
        data(fuel)["total"] == 600 and "Fuel-cell cars are counted apart" not in fuel.message.body
    )
