"""URL sources in the running bot: a fetch that imports runs the poll at once (the new month is
announced with no command), a withdrawn month is corrected with allow_shrink, and a failing
source is told once to the ops channel and once when it recovers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.app.bootstrap import build_app
from bot.app.fetching import refresh_trigger
from bot.domain.fetching import UrlSettings
from bot.ingest.remote import FAILED, IMPORTED
from bot.store.sqlite.sales import SqliteStore
from tests.fake_publisher import HEADER, Sleeps, configure, serving, status
from tests.test_app import CollectingAdapter, follow_alliance, until

HISTORY = [
    "2020-01,World,Nissan,Leaf,95000\n",
    "2020-01,World,Renault,Zoe,60000\n",
]
LEAF_100K = "2020-02,World,Nissan,Leaf,6000\n"  # Leaf 101,000: crosses 100,000


async def test_a_new_month_is_announced_after_the_fetch_and_corrected_when_withdrawn(
    tmp_path: Path,
) -> None:
    async with serving() as site:
        site.csv("/ev.csv", HEADER + "".join(HISTORY))
        config = configure(tmp_path, site.url("/ev.csv"), allow_shrink=True)
        adapter = CollectingAdapter()
        app = build_app(config, SqliteStore(tmp_path / "app.sqlite3"), {"test": adapter})
        await app.start()
        try:
            assert app.scheduler.get_job("fetch-news") is not None
            # the job fetches at start; this fetch finds the same body or imports it first
            await app.url_sources.fetch("news")
            assert await app.store.count_records() == 2
            await follow_alliance(app)
            await until(adapter, 1, within=30)  # "now following"

            site.csv("/ev.csv", HEADER + "".join(HISTORY) + LEAF_100K)
            assert (await app.url_sources.fetch("news")).status == IMPORTED
            await until(adapter, 2, within=30)  # no poll was asked for: the fetch ran it
            assert adapter.posts[1].title == "Nissan Leaf passes 100,000 sales"

            site.csv("/ev.csv", HEADER + "".join(HISTORY))  # the publisher withdraws February
            withdrawn = await app.url_sources.fetch("news")
            assert withdrawn.detail.endswith("1 removed (allow_shrink)")
            await until(adapter, 3, within=30)
            assert adapter.posts[2].corrects  # the milestone no longer holds: corrected
        finally:
            await app.stop(grace=2)


async def test_failures_are_told_to_ops_once_and_the_recovery_once(tmp_path: Path) -> None:
    async with serving() as site:
        site.routes["/ev.csv"] = status(503)
        config = configure(tmp_path, site.url("/ev.csv"))
        (tmp_path / "evbot.toml").write_text(
            (tmp_path / "evbot.toml").read_text() + '[ops]\nchannel = "console:ops"\n'
            "alert_after = 2\n",
            encoding="utf-8",
        )
        from bot.config.load import load_config

        config = load_config(tmp_path / "evbot.toml")
        ops = CollectingAdapter()
        app = build_app(config, SqliteStore(tmp_path / "app.sqlite3"), {"console": ops})
        app.url_sources.sleep = Sleeps()
        await app.store.open()
        try:
            for _ in range(4):
                assert (await app.url_sources.fetch("news")).status == FAILED
            assert [m.title for m in ops.posts] == ["Source news is failing"]
            assert "2 fetches in a row failed. The last: http://127.0.0.1:" in ops.posts[0].body
            assert "HTTP 503 Service Unavailable" in ops.posts[0].body

            site.csv("/ev.csv", HEADER + "".join(HISTORY))
            assert (await app.url_sources.fetch("news")).status == IMPORTED
            assert (await app.url_sources.fetch("news")).status != FAILED
            assert [m.title for m in ops.posts] == [
                "Source news is failing",
                "Source news has recovered",
            ]
            state = (await app.store.fetch_states())["news"]
            assert (state.failures, state.alerted) == (0, False)
        finally:
            await app.store.close()


def test_refresh_is_an_interval_or_a_cron_expression_in_its_zone() -> None:
    every = refresh_trigger(UrlSettings("https://x.test/a.csv", refresh="90m"))
    assert every.interval.total_seconds() == 5400
    cron = refresh_trigger(
        UrlSettings("https://x.test/a.csv", refresh="0 6 * * 1-5", timezone="Europe/Paris")
    )
    assert str(cron.timezone) == "Europe/Paris"
    assert "hour='6'" in str(cron) and "day_of_week='1-5'" in str(cron)


async def test_on_replicas_only_the_leader_fetches(tmp_path: Path, pg_dsn: str) -> None:
    from bot.store.postgres.leader import Leadership
    from bot.store.postgres.sales import PgStore

    async with serving() as site:
        site.csv("/ev.csv", HEADER + "".join(HISTORY))
        config = configure(tmp_path, site.url("/ev.csv"), refresh="1s")
        apps = [
            build_app(
                config,
                PgStore(pg_dsn),
                {"test": CollectingAdapter()},
                leadership=Leadership(pg_dsn, retry_seconds=0.1),
            )
            for _ in range(2)
        ]
        for app in apps:
            await app.start()
        try:
            async with asyncio.timeout(20):
                while max(app.url_sources.fetches for app in apps) < 3:
                    waits = [asyncio.ensure_future(a.url_sources.fetched.wait()) for a in apps]
                    for app in apps:
                        app.url_sources.fetched.clear()
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    for wait in waits:
                        wait.cancel()
            leaders = [app for app in apps if app.leadership and app.leadership.is_leader]
            assert len(leaders) == 1
            follower = next(app for app in apps if app is not leaders[0])
            assert follower.url_sources.fetches == 0
            assert (await follower.store.fetch_states())["news"].status in ("imported", "unchanged")
        finally:
            for app in apps:
                await app.stop(grace=2)


async def test_healthz_and_metrics_show_each_url_source(tmp_path: Path) -> None:
    from bot.app.ops import Ops
    from bot.domain.fetching import FetchState
    from tests.test_ops import get, samples

    config = configure(tmp_path, "http://127.0.0.1:9/ev.csv")
    store = SqliteStore(tmp_path / "ops.sqlite3")
    ops = Ops(build_app(config, store, {}), "127.0.0.1:0")
    async with store:
        await store.save_fetch_state(
            FetchState("news", 10.0, 5.0, "failed", rows=7, error="HTTP 503", failures=2)
        )
        await ops.start()
        try:
            status_, _, body = await get(ops, "/healthz")
            _, _, text = await get(ops, "/metrics")
        finally:
            await ops.stop()
    assert status_ == 200  # a failing source is reported, not the bot's health
    news = json.loads(body)["sources"]["news"]
    assert (news["status"], news["healthy"], news["failures"]) == ("failed", False, 2)
    assert news["error"] == "HTTP 503" and news["last_success_at"] == 5.0
    found = samples(text)
    assert found['evbot_source_up{source="news"}'] == 0
    assert found['evbot_source_consecutive_failures{source="news"}'] == 2
    assert found['evbot_source_rows{source="news"}'] == 7
    assert found['evbot_source_last_success_timestamp_seconds{source="news"}'] == 5.0
