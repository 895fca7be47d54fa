"""`metric:sales|stock` on /ev-subscribe (issue 18), end to end on both backends (PostgreSQL where
EVBOT_TEST_POSTGRES_DSN is set: `any_store`, conftest): the metric is part of what makes a
subscription unique, it is listed, and the fan-out sends a subscription only its metric's news.
The CLI's `evbot subscribe --metric` and `evbot subscriptions` agree with chat."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import asyncpg
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
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.ports.store import BotStore
from bot.store.postgres import base as pg_base
from bot.store.postgres.migrations import PG_MIGRATIONS, V_SUBSCRIPTION_METRIC
from bot.store.postgres.sales import PgStore
from bot.store.sqlite import base as sqlite_base
from bot.store.sqlite.migrations import MIGRATIONS
from bot.store.sqlite.migrations_late import subscription_metric
from bot.store.sqlite.sales import SqliteStore

STOCK_ONLY = Channel("discord", "guild", "stock-only")
SALES_ONLY = Channel("discord", "guild", "sales-only")
BOTH = Channel("discord", "guild", "both")
STOCK = SourceSpec("wa-registrations", "stock", 1)
SALES = SourceSpec("wa-sales", "sales", 1)


def month(i: int) -> str:
    return f"2023-{i:02d}"


def stock(i: int, level: int) -> list[SalesRecord]:
    return [SalesRecord(month(i), "WA", "Tesla", "Model Y", level, cumulative=True)]


def sales(i: int, units: int) -> list[SalesRecord]:
    return [SalesRecord(month(i), "WA", "Tesla", "Model Y", units)]


async def ask(ctx: CommandContext, channel: Channel, text: str) -> Reply:
    return await run_text(ctx, Invocation(channel, "alice", can_manage=True), text)


async def post_everything(store: BotStore) -> None:
    while rows := await store.claim_due(time.time() + 864_000, 100):
        for row in rows:
            await store.mark_posted(row.id, f"m{row.id}", time.time())


async def news_metrics(store: BotStore, channel: Channel) -> list[str]:
    """The metric of each event in the instant deliveries waiting for a channel."""
    rows = [d for d in await store.deliveries("pending", limit=1000) if d.channel == channel]
    events = await store.events_by_id([e for d in rows if d.kind == "instant" for e in d.event_ids])
    return sorted(f"{e.metric} {e.kind}" for e in events.values())


@pytest.fixture
async def ctx(any_store: BotStore) -> CommandContext:
    """WA's registered stock at 94,000 to 99,000 and its sales at 1,500 a month (9,000 by June),
    both history; three channels subscribed, none told anything yet."""
    store = any_store
    config = default_config()
    await store.sync_groups(config.groups)
    await store.import_records(
        [
            (STOCK, [r for i in range(1, 7) for r in stock(i, 93_000 + 1_000 * i)]),
            (SALES, [r for i in range(1, 7) for r in sales(i, 1_500)]),
        ]
    )
    await Detector(store, config).poll()
    return await open_commands(store, config)


async def test_a_subscription_hears_only_its_metric(ctx: CommandContext) -> None:
    store = ctx.store
    stock_sub = await ask(ctx, STOCK_ONLY, "/ev-subscribe WA metric:stock charts:off")
    assert stock_sub.ok, stock_sub.message.body
    assert stock_sub.data is not None and stock_sub.data["metric"] == "stock"
    assert "WA (registered stock)" in stock_sub.message.body
    assert (await ask(ctx, SALES_ONLY, "/ev-subscribe WA charts:off")).ok
    first = await ask(ctx, BOTH, "/ev-subscribe WA metric:sales")
    second = await ask(ctx, BOTH, "/ev-subscribe WA metric:STOCK")
    assert first.data is not None and second.data is not None
    # the metric makes it another subscription, not an update of the first
    assert second.data["created"] and second.data["id"] != first.data["id"]
    again = await ask(ctx, BOTH, "/ev-subscribe WA metric:stock")
    assert again.data is not None and again.data["unchanged"]
    assert again.data["id"] == second.data["id"]
    # the "now following" notice of a stock subscription counts vehicles registered
    following = [d for d in await store.deliveries("pending", 1000) if d.kind == "following"]
    notices = {d.channel: json.loads(d.payload or "{}")["body"] for d in following}
    assert "99,000 registered (as of June 2023)" in notices[STOCK_ONLY]
    assert "9,000 so far" in notices[SALES_ONLY]
    await post_everything(store)

    # July: the stock passes 100,000 registered, the sales pass 10,000 sold
    await store.import_records([(STOCK, stock(7, 100_500)), (SALES, sales(7, 1_500))])
    await Detector(store, ctx.config).poll()
    assert await news_metrics(store, STOCK_ONLY) == ["stock milestone"]
    assert await news_metrics(store, SALES_ONLY) == ["sales milestone"]
    assert await news_metrics(store, BOTH) == ["sales milestone", "stock milestone"]
    # /ev-test renders the subscription's own metric: registered stock, not the sales' milestone
    await post_everything(store)
    sample = await ask(ctx, STOCK_ONLY, "/ev-test")
    assert sample.ok and "100,000" in sample.message.body, sample.message.body
    assert "registered" in sample.message.body
    sales_sample = await ask(ctx, SALES_ONLY, "/ev-test")
    assert sales_sample.ok and "10,000" in sales_sample.message.body
    assert "registered" not in sales_sample.message.body


async def test_subscriptions_list_the_metric_and_bad_ones_are_refused(
    ctx: CommandContext,
) -> None:
    assert (await ask(ctx, BOTH, "/ev-subscribe WA")).ok
    assert (await ask(ctx, BOTH, "/ev-subscribe WA metric:stock")).ok
    listing = await ask(ctx, BOTH, "/ev-subscriptions")
    lines = listing.message.body.splitlines()
    assert lines[0].startswith("• all EVs in WA: ") and "registered" not in lines[0]
    assert lines[1].startswith("• all EVs in WA (registered stock): ")
    assert listing.data is not None
    assert [s["metric"] for s in listing.data["subscriptions"]] == ["sales", "stock"]
    refused = await ask(ctx, BOTH, "/ev-subscribe WA metric:fleet")
    assert not refused.ok and "is not one of sales, stock" in refused.message.body
    assert len(await ctx.store.subscriptions(BOTH)) == 2  # a refusal changes nothing


async def test_unsubscribing_one_metric_keeps_the_other(ctx: CommandContext) -> None:
    assert (await ask(ctx, BOTH, "/ev-subscribe WA")).ok
    assert (await ask(ctx, BOTH, "/ev-subscribe WA metric:stock")).ok
    gone = await ask(ctx, BOTH, "/ev-unsubscribe WA metric:stock")
    assert gone.ok and gone.data == {"removed": 1}
    assert [s.spec.metric for s in await ctx.store.subscriptions(BOTH)] == ["sales"]
    again = await ask(ctx, BOTH, "/ev-unsubscribe WA metric:stock")
    assert not again.ok and "does not follow all EVs (registered stock)" in again.message.body
    assert (await ask(ctx, BOTH, "/ev-unsubscribe WA")).data == {"removed": 1}  # both metrics
    assert await ctx.store.subscriptions(BOTH) == []


def test_metric_is_an_option_of_ev_subscribe_on_discord_and_slack() -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not called")

    client = discord.Client(intents=discord.Intents.none())
    tree = build_tree(client, never, lambda _: [], never)
    sent = {c["name"]: c for c in definitions(tree)}
    option = next(o for o in sent["ev-subscribe"]["options"] if o["name"] == "metric")
    assert [c["value"] for c in option["choices"]] == ["sales", "stock"]
    # Slack reads name:value from the text against the same table
    assert "metric" in {o.name for o in COMMANDS["ev-subscribe"].options}


def test_cli_subscribe_metric_agrees_with_chat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cli.sqlite3")
    wa = tmp_path / "wa.csv"
    wa.write_text(
        "period,region,make,model,units\n"
        + "".join(f"2023-{i:02d},WA,Tesla,Model Y,{93_000 + 1_000 * i}\n" for i in range(1, 7)),
        encoding="utf-8",
    )
    config = tmp_path / "evbot.toml"
    config.write_text(
        f'[sources.wa]\nfile = "{wa}"\nformat = "canonical"\nmetric = "stock"\n'
        'figures = "running"\n',
        encoding="utf-8",
    )
    common = ["--db", db, "--config", str(config)]
    assert main(["import", "--source", "wa", *common]) == 0
    capsys.readouterr()
    assert main(["subscribe", "WA", "--metric", "stock", *common]) == 0
    assert main(["subscribe", "WA", *common]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("now follows all EVs (WA) (registered stock) [#1]"), out
    assert out[1].endswith("now follows all EVs (WA) [#2]"), out
    assert main(["subscriptions", *common]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "(WA) (registered stock) milestone" in listing[0]
    assert "(WA) milestone" in listing[1]
    assert main(["subscriptions", "--json", *common]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["stock", "sales"]
    with pytest.raises(SystemExit):
        main(["subscribe", "WA", "--metric", "fleet", *common])
    # one metric's subscription goes, the other stays
    assert main(["unsubscribe", "WA", "--metric", "stock", *common]) == 0
    out = capsys.readouterr().out
    assert out.startswith("removed 1 subscription\n") and "(registered stock)" in out
    assert main(["subscriptions", "--json", *common]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["sales"]
    assert main(["unsubscribe", "WA", "--metric", "stock", *common]) == 1
    assert "does not follow 'WA' (registered stock)" in capsys.readouterr().err


# -- the migration --------------------------------------------------------------------------

SQLITE_STEP = MIGRATIONS.index(subscription_metric)  # the versions before the metric
PG_STEP = PG_MIGRATIONS.index(V_SUBSCRIPTION_METRIC)
OLD_SUBSCRIPTION = (
    "INSERT INTO subscriptions (id, platform, workspace, channel, subject_key, subject_kind, "
    "subject_name, region, kinds, instant_kinds, ladder, locale, mode, digest_at, timezone, "
    "created_by) VALUES (7, 'discord', 'guild', 'both', 'all', 'all', 'all EVs', 'WA', "
    "'milestone', 'milestone', 'default', 'en', 'daily', '09:00', 'UTC', 'alice')"
)
OLD_EVENT = (
    "INSERT INTO events (id, dedupe_key, kind, subject_key, region, period, payload) "
    "VALUES (3, 'k', 'milestone', 'all', 'WA', '2023-07', '{}')"
)
OLD_ITEM = "INSERT INTO digest_items (subscription_id, event_id) VALUES (7, 3)"


async def _after_migration(store: BotStore) -> None:
    """The subscription kept its id and digest, became a sales one, and a stock one beside it
    is another subscription."""
    [kept] = await store.subscriptions(BOTH)
    assert (kept.id, kept.spec.metric, kept.spec.mode) == (7, "sales", "daily")
    assert await store.digest_size(7) == 1
    stock_spec = replace(kept.spec, metric="stock")
    made, created = await store.subscribe(stock_spec)
    assert created and made.id != 7 and made.spec.metric == "stock"
    again, created = await store.subscribe(replace(kept.spec, locale="fr"))
    assert not created and again.id == 7


async def test_sqlite_migration_keeps_subscriptions_and_their_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    monkeypatch.setattr(sqlite_base, "MIGRATIONS", MIGRATIONS[:SQLITE_STEP])
    async with SqliteStore(path):
        pass  # the schema before the metric
    with closing(sqlite3.connect(path)) as db, db:
        for statement in (OLD_SUBSCRIPTION, OLD_EVENT, OLD_ITEM):
            db.execute(statement)
    monkeypatch.setattr(sqlite_base, "MIGRATIONS", MIGRATIONS)
    async with SqliteStore(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        await _after_migration(store)
    # re-runnable, as every step after the key merge: a replay changes nothing
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SQLITE_STEP}")
    async with SqliteStore(path) as store:
        assert len(await store.subscriptions(BOTH)) == 2
        assert await store.digest_size(7) == 1


async def test_postgres_migration_keeps_subscriptions_and_their_digests(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_base, "PG_MIGRATIONS", PG_MIGRATIONS[:PG_STEP])
    async with PgStore(pg_dsn):
        pass
    con = await asyncpg.connect(pg_dsn)
    try:
        for statement in (OLD_SUBSCRIPTION, OLD_EVENT, OLD_ITEM):
            await con.execute(statement)
    finally:
        await con.close()
    monkeypatch.setattr(pg_base, "PG_MIGRATIONS", PG_MIGRATIONS)
    async with PgStore(pg_dsn) as store:
        assert await store.schema_version() == len(PG_MIGRATIONS)
        await _after_migration(store)
    con = await asyncpg.connect(pg_dsn)
    try:  # re-runnable: the step again is a no-op
        await con.execute(V_SUBSCRIPTION_METRIC)
    finally:
        await con.close()
    async with PgStore(pg_dsn) as store:
        assert len(await store.subscriptions(BOTH)) == 2
