"""Market shares (issue 18): the IEA's "EV sales share" kept as a metric of its own, on both
backends (PostgreSQL where EVBOT_TEST_POSTGRES_DSN is set: `any_store`, conftest), and
`/ev-share REGION` answering it end to end through `run_text`, the CLI's `evbot share` agreeing;
then the real IEA file (skipped when ../shared/data is absent)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
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
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.records import ImportFailed
from bot.domain.settings import Config, SourceConfig, default_config
from bot.ingest.importer import import_file
from bot.ports.store import BotStore
from bot.store.sqlite.sales import SqliteStore

WHO = Invocation(Channel("discord", "guild", "general"), "alice", can_manage=False)
CITED = "IEA (2024), Global EV Data Explorer, CC BY 4.0"
HEADER = "region,category,parameter,mode,powertrain,year,unit,value\n"
# Norway's car sales and sales share, the World's share only, Iceland's sales and no share; the
# rows a share must never be mixed with: buses' share, a projection, the stock share
ROWS = """\
Norway,Historical,EV sales,Cars,BEV,2021,Vehicles,110000
Norway,Historical,EV sales,Cars,BEV,2022,Vehicles,140000
Norway,Historical,EV sales,Cars,BEV,2023,Vehicles,110000
Norway,Historical,EV sales share,Cars,EV,2021,percent,86
Norway,Historical,EV sales share,Cars,EV,2022,percent,89
Norway,Historical,EV sales share,Cars,EV,2023,percent,93
Norway,Historical,EV sales share,Buses,EV,2023,percent,60
Norway,Projection-STEPS,EV sales share,Cars,EV,2025,percent,99
Norway,Historical,EV stock share,Cars,EV,2023,percent,24
World,Historical,EV sales share,Cars,EV,2022,percent,14
World,Historical,EV sales share,Cars,EV,2023,percent,18
Iceland,Historical,EV sales,Cars,BEV,2023,Vehicles,9000
"""


def iea_config() -> Config:
    source = SourceConfig("iea", format="iea", attribution=CITED)
    return replace(default_config(), sources={"iea": source})


def write(path: Path, rows: str) -> Path:
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


async def ask(ctx: CommandContext, text: str) -> Reply:
    return await run_text(ctx, WHO, text)


def data(reply: Reply) -> dict[str, Any]:
    assert reply.ok, reply.message.body
    assert reply.data is not None
    return dict(reply.data)


def refused(reply: Reply) -> str:
    assert not reply.ok, reply.message.body
    return reply.message.body


@pytest.fixture
async def ctx(any_store: BotStore, tmp_path: Path) -> CommandContext:
    config = iea_config()
    await any_store.sync_groups(config.groups)
    report = await import_file(any_store, config, write(tmp_path / "iea.csv", ROWS), source="iea")
    assert any("kept 5 market-share figures" in n for n in report.notices), report.notices
    return await open_commands(any_store, config)


async def test_a_regions_share_of_new_cars_for_its_latest_year(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-share norway")
    got = data(reply)
    assert (got["region"], got["year"], got["percent"]) == ("Norway", 2023, 93.0)
    assert got["metric"] == "sales_share" and got["attribution"] == CITED
    assert "93% of new cars sold in Norway in 2023 were electric" in reply.message.body
    assert reply.message.title == "EV share of new cars in Norway, 2023: 93%"
    assert reply.message.footer.startswith(f"Source: {CITED}")
    fields = {f.name: f.value for f in reply.message.fields}
    assert fields["Earlier"] == "2021: 86%, 2022: 89%"
    assert "percentage of all new cars" in fields["Covers"]
    world = await ask(ctx, "/ev-share all")
    assert data(world)["percent"] == 18.0 and "worldwide" in world.message.body


async def test_period_and_as_of_name_a_year_and_nothing_finer(ctx: CommandContext) -> None:
    assert data(await ask(ctx, "/ev-share Norway period:2021"))["percent"] == 86.0
    june = await ask(ctx, "/ev-share norway as-of:june 2023")
    assert data(june)["year"] == 2022 and "2022 is the latest whole year" in june.message.body
    assert data(await ask(ctx, "/ev-share norway as-of:2023"))["year"] == 2023
    quarter = refused(await ask(ctx, "/ev-share norway period:2023-Q2"))
    assert "yearly figures" in quarter and "period:2023" in quarter
    assert "never split or added up" in refused(
        await ask(ctx, "/ev-share norway period:2021..2023")
    )
    assert "years held are 2021 to 2023" in refused(await ask(ctx, "/ev-share norway period:2015"))
    both = refused(await ask(ctx, "/ev-share norway period:2022 as-of:2023"))
    assert "not both" in both


async def test_a_region_without_shares_says_which_regions_have_them(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-share iceland")
    got = data(reply)
    assert got["percent"] is None and got["regions"] == ["Norway", "World"]
    assert "No figures of the EV share of new cars for Iceland" in reply.message.body
    assert "Held for 2 regions: Norway, World" in reply.message.body
    # the stock share was not asked of the import (its parameter is EV sales): none is held
    stock = await ask(ctx, "/ev-share norway metric:stock")
    assert data(stock)["percent"] is None and "cars on the road" in stock.message.body


async def test_a_share_is_never_units(ctx: CommandContext) -> None:
    """Only the vehicle rows count: no percentage is summed into totals or milestones."""
    total = data(await ask(ctx, "/ev-total norway"))
    assert total["total"] == 360_000
    assert data(await ask(ctx, "/ev-total norway period:2023"))["total"] == 110_000
    await Detector(ctx.store, ctx.config).poll()
    assert {e.event.metric for e in await ctx.store.events()} <= {"sales"}
    shares = await ctx.store.market_shares()
    assert len(shares) == 5 and {s.metric for s in shares} == {"sales_share"}


async def test_reimport_replaces_the_shares_and_bad_ones_change_nothing(
    ctx: CommandContext, tmp_path: Path
) -> None:
    store, config = ctx.store, ctx.config
    revised = ROWS.replace("Cars,EV,2023,percent,93", "Cars,EV,2023,percent,92")
    await import_file(store, config, write(tmp_path / "v2.csv", revised), source="iea")
    shares = await store.market_shares("sales_share")
    assert len(shares) == 5  # replaced, not added
    assert next(s.percent for s in shares if (s.region, s.year) == ("Norway", 2023)) == 92.0
    bad = write(tmp_path / "bad.csv", ROWS.replace("2022,percent,89", "2022,percent,189"))
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, config, bad, source="iea")
    assert f"{bad}:6: bad share year or value" in str(caught.value)
    assert "between 0 and 100" in str(caught.value)
    twice = write(
        tmp_path / "twice.csv", ROWS + "Norway,Historical,EV sales share,Cars,EV,2023,percent,90\n"
    )
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, config, twice, source="iea")
    assert (
        f"{twice}:14: a second EV sales share for Norway in 2023 (90.0 against 93.0 on line 7)"
        in str(caught.value)
    )
    assert await store.market_shares("sales_share") == shares  # nothing changed
    dry = await import_file(
        store, config, write(tmp_path / "v3.csv", ROWS), source="iea", dry_run=True
    )
    assert any("would keep 5 market-share figures" in n for n in dry.notices)
    assert await store.market_shares("sales_share") == shares


def test_share_options_are_in_discord_and_slack_definitions() -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not called")

    client = discord.Client(intents=discord.Intents.none())
    tree = build_tree(client, never, lambda _: [], never)
    sent = {c["name"]: c for c in definitions(tree)}
    options = {o["name"]: o for o in sent["ev-share"]["options"]}
    wanted = {"subject", "period", "region", "as-of", "metric", "powertrain", "locale"}
    assert wanted == set(options)
    assert [c["value"] for c in options["metric"]["choices"]] == ["sales", "stock"]
    # Slack reads name:value from the text against the same table
    assert {"as-of", "metric"} <= {o.name for o in COMMANDS["ev-share"].options}


def test_cli_share_agrees_with_chat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite3")
    config = tmp_path / "evbot.toml"
    file = write(tmp_path / "iea.csv", ROWS)
    config.write_text(
        f'[sources.iea]\nfile = "{file}"\nformat = "iea"\nattribution = "{CITED}"\n',
        encoding="utf-8",
    )
    common = ["--db", db, "--config", str(config)]
    assert main(["import", "--source", "iea", *common]) == 0
    capsys.readouterr()
    assert main(["share", "norway", "--json", *common]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["year"], got["percent"], got["attribution"]) == (2023, 93.0, CITED)
    assert main(["share", "norway", "--as-of", "2022", *common]) == 0
    assert "89% of new cars sold in Norway in 2022" in capsys.readouterr().out
    assert main(["ask", "/ev-share norway period:2023-Q2", *common]) == 1
    chat = capsys.readouterr().out
    assert main(["share", "norway", "--period", "2023-Q2", *common]) == 1
    err = capsys.readouterr().err
    assert "yearly figures" in chat and "--period: Q2 2023: the shares of Norway" in err


# -- the real IEA file -----------------------------------------------------------------------

IEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "iea_global_ev_data_2024.csv"


@pytest.mark.skipif(not IEA.is_file(), reason=f"the shared data file {IEA} is not there")
async def test_the_iea_file_answers_norway_and_keeps_shares_out_of_totals(tmp_path: Path) -> None:
    config = iea_config()
    async with SqliteStore(tmp_path / "iea.sqlite3") as store:
        report = await import_file(store, config, IEA, source="iea")
        assert any("kept 603 market-share figures" in n for n in report.notices), report.notices
        ctx = await open_commands(store, config)
        norway = await ask(ctx, "/ev-share norway")
        assert "93% of new cars sold in Norway in 2023" in norway.message.body
        assert data(await ask(ctx, "/ev-share World"))["percent"] == 18.0
        assert data(await ask(ctx, "/ev-share china period:2020"))["year"] == 2020
        norway_total = data(await ask(ctx, "/ev-total norway"))["total"]
    # the same rows without any share row give the same totals: no percentage is counted
    with IEA.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f)]
    units_only = tmp_path / "units.csv"
    with units_only.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(r for r in rows if not r[2].endswith("share"))
    async with SqliteStore(tmp_path / "units.sqlite3") as store:
        await import_file(store, config, units_only, source="iea")
        ctx = await open_commands(store, config)
        assert data(await ask(ctx, "/ev-total norway"))["total"] == norway_total
        assert await store.market_shares() == []


async def test_a_file_parsed_in_a_process_keeps_its_shares(tmp_path: Path) -> None:
    """Large files are parsed in a process of their own: the shares come back with the parse."""
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        file = write(tmp_path / "iea.csv", ROWS)
        await import_file(store, iea_config(), file, source="iea", processes=True)
        assert len(await store.market_shares("sales_share")) == 5
