"""/ev-preview states the share figure the next share news needs, and never one above 100 %."""

from __future__ import annotations

from pathlib import Path

from bot.app.bootstrap import open_commands
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore

HERE = Invocation(Channel("discord", "guild", "general"), "alice", can_manage=True)


def months(make: str, model: str, units: int) -> list[SalesRecord]:
    return [
        SalesRecord(f"{2014 + i // 12}-{i % 12 + 1:02d}", WORLD, make, model, units)
        for i in range(24)
    ]


async def test_preview_names_the_share_figures_the_next_news_needs(tmp_path: Path) -> None:
    config = default_config()
    async with SqliteStore(tmp_path / "s.sqlite3") as store:
        await store.sync_groups(config.groups)
        rows = months("Tesla", "Model S", 3_000)  # Tesla's only model: 100 % of Tesla
        rows += months("Renault", "Zoe", 3_000) + months("Renault", "Twizy", 1_000)  # Zoe 75 %
        await store.import_records([(SourceSpec("monthly"), rows)])
        await Detector(store, config).poll()
        more = [
            SalesRecord("2016-01", WORLD, "Tesla", "Model S", 3_000),
            SalesRecord("2016-01", WORLD, "Renault", "Zoe", 3_000),
            SalesRecord("2016-01", WORLD, "Renault", "Twizy", 1_000),
        ]
        await store.import_records([(SourceSpec("monthly"), more)])
        await Detector(store, config).poll()
        ctx = await open_commands(store, config)
        for name in ("tesla model s", "renault zoe"):
            assert (await run_text(ctx, HERE, f"/ev-subscribe {name} kinds:share")).ok
        only = (await run_text(ctx, HERE, "/ev-preview tesla model s")).message.body
        assert (
            "Share of Tesla: 100%. No share news unless it falls below 98% (at 100% there is "
            "no higher share to reach)."
        ) in only
        assert "101%" not in only and "105%" not in only
        zoe = (await run_text(ctx, HERE, "/ev-preview renault zoe")).message.body
        assert "Share of Renault: 75%. No share news until it reaches 80% or falls below 73%." in (
            zoe
        )
