"""`evbot migrate-store`: a SQLite store copied into PostgreSQL, whole, verified, or not at all."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from bot.domain.channels import Channel
from bot.domain.market_shares import MarketShare
from bot.domain.mutes import Mute
from bot.domain.settings import default_config
from bot.domain.subscriptions import PlannedDelivery
from bot.domain.templates import Template
from bot.ingest.importer import DEMO_SOURCE, import_demo
from bot.ports.store import BotStore
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import prepare
from tests.store_contract import snapshot


async def everything(store: BotStore) -> tuple[Any, ...]:
    """All the port can tell: figures, journal, groups, detection, subscriptions, outbox."""
    return (
        await snapshot(store),
        await store.groups(),
        sorted(map(repr, await store.milestone_log(limit=10_000))),  # ties: in any order
        await store.correction_log(limit=10_000),
        await store.watermark("detector"),
        await store.events(limit=10_000),
        await store.subscriptions(),
        await store.deliveries(limit=10_000),
        await store.delivery_counts(),
        await store.market_shares(),
        await store.mutes(None, 0.0),
        await templates_of(store),
    )


async def templates_of(store: BotStore) -> tuple[Any, ...]:
    """Every workspace's templates and what each subscription uses."""
    subscriptions = await store.subscriptions()
    workspaces = sorted({(s.channel.platform, s.channel.workspace) for s in subscriptions})
    return (
        [await store.templates(*workspace) for workspace in workspaces],
        await store.subscription_templates([s.id for s in subscriptions]),
    )


async def build(db: Path) -> tuple[Any, ...]:
    """A store with the demo figures, webhook subscriptions, detected news and an outbox, one
    delivery of which is posted and one left in flight (as a crash would leave it)."""
    async with SqliteStore(db) as store:
        urls = [f"http://127.0.0.1:9/hook/c{i}" for i in range(40)]
        await prepare(store, urls, rounds=2)
        await import_demo(store, default_config())  # a first import: history, not news
        share = MarketShare(DEMO_SOURCE, "sales_share", "Norway", 2023, 93.0)
        assert await store.replace_market_shares(DEMO_SOURCE, "sales_share", [share]) == 1
        await store.mute(
            Mute(Channel("discord", "1", "2"), "all", "everything", 9e9, "drop", "amy", 1.0)
        )
        # a workspace's template, used by one subscription
        [subscription, *_] = await store.subscriptions()
        channel = subscription.channel
        body = "{subject} passed {threshold}"
        template = Template(channel.platform, channel.workspace, "short", "milestone", body)
        assert await store.set_template(template)
        await store.use_template(subscription.id, "short")
        [first, _, *_] = await store.claim_due(1e12, 2)
        await store.mark_posted(first.id, "m-1", 5.0)
        return await everything(store)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_migrate_store_copies_everything_and_verifies_counts(
    tmp_path: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.sqlite3"
    before = asyncio.run(build(db))
    status, out = run("migrate-store", "--from", f"sqlite:{db}", "--to", pg_dsn)
    assert status == 0, capsys.readouterr().err
    assert "every table's count verified" in out
    assert any(line.startswith("records") for line in out.splitlines())

    async def check() -> None:
        async with PgStore(pg_dsn) as store:
            assert await everything(store) == before
            # ids go on after the copied ones: a new delivery never reuses a key
            [new] = await store.enqueue(
                [PlannedDelivery(before[6][0].channel, "following", (), (1,), "en", "{}")], 9.0
            )
            assert new > max(d.id for d in before[7])
            # what SQLite left in flight belongs to no replica: the first one settles it
            assert [d.status for d in await store.inflight()] == ["inflight"]
            assert await store.journal_head() == before[0][0]

    asyncio.run(check())

    # a second copy into a database that holds data is refused, and changes nothing
    status, _ = run("migrate-store", "--from", f"sqlite:{db}", "--to", pg_dsn)
    assert status == 1
    assert "already holds data" in capsys.readouterr().err

    async def unchanged() -> int:
        async with PgStore(pg_dsn) as store:
            return len(await store.deliveries(limit=10_000))

    assert asyncio.run(unchanged()) == len(before[7]) + 1


def test_migrate_store_refuses_bad_arguments(tmp_path: Path, pg_dsn: str, capsys) -> None:
    status, _ = run(
        "migrate-store", "--from", f"sqlite:{tmp_path / 'none.sqlite3'}", "--to", pg_dsn
    )
    assert status == 1
    assert "no SQLite database at" in capsys.readouterr().err
    db = tmp_path / "bot.sqlite3"
    asyncio.run(build(db))
    status, _ = run("migrate-store", "--from", f"sqlite:{db}", "--to", "mysql://x@y/z")
    assert status == 1
    assert "not a postgresql:// URL" in capsys.readouterr().err
