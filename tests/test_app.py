"""The running bot: App start and stop, the worker as a long-running task, the source watch,
the scheduler's job settings, and `evbot run` as a real process."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.app.bootstrap import build_app
from bot.app.runtime import JOB_DEFAULTS, App
from bot.cli.main import main
from bot.config.load import load_config
from bot.delivery.following import subscribe
from bot.domain.channels import Channel, Limits
from bot.domain.messages import Message
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import Config, default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import SubscriptionSpec
from bot.reading.queries import load_catalog
from bot.store.sqlite.sales import SqliteStore

CHANNEL = Channel("test", "guild", "news")
HEADER = "period,region,make,model,units,powertrain\n"
HISTORY_ROWS = [
    "2020-01,World,Nissan,Leaf,95000,BEV",
    "2020-01,World,Nissan,e-NV200,30000,BEV",
    "2020-01,World,Renault,Zoe,60000,BEV",
]
LEAF_100K_ROW = "2020-02,World,Nissan,Leaf,6000,BEV"  # Leaf 101,000: crosses 100,000


class CollectingAdapter:
    """A chat platform that keeps what it is sent; `delay` makes each post take that long."""

    platform = "test"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.posts: list[Message] = []
        self.started = asyncio.Event()  # a post is under way
        self.release = asyncio.Event()  # for a post that hangs until told
        self.changed = asyncio.Event()  # set at each post, for `until` to await
        self.hang = False
        self.by_key: dict[str, str] = {}
        self.closed = False

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        self.started.set()
        if self.hang:
            await self.release.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.posts.append(message)
        self.changed.set()
        self.by_key[key] = f"msg-{len(self.posts)}"
        return self.by_key[key]

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return self.by_key.get(key)

    async def close(self) -> None:
        self.closed = True


async def until(adapter: CollectingAdapter, posts: int, within: float = 5.0) -> None:
    """Wait, bounded, until the app has posted `posts` messages in the background (woken by
    each post, not polling)."""
    try:
        async with asyncio.timeout(within):
            while len(adapter.posts) != posts:
                adapter.changed.clear()
                await adapter.changed.wait()
    except TimeoutError:
        raise AssertionError(
            f"{len(adapter.posts)} posts, not {posts}, within {within} s"
        ) from None


def rows(*lines: str) -> list[SalesRecord]:
    out = []
    for line in lines:
        period, region, make, model, units, powertrain = line.split(",")
        out.append(SalesRecord(period, region, make, model, int(units), powertrain))
    return out


async def follow_alliance(app: App, channel: Channel = CHANNEL) -> None:
    catalog = await load_catalog(app.store, app.config)
    spec = SubscriptionSpec(channel, catalog.resolve("alliance").subject, created_by="test")
    await subscribe(app.store, app.config, spec, time.time())
    app.worker.wake()


async def started_app(
    tmp_path: Path, adapter: CollectingAdapter, config: Config | None = None
) -> App:
    """An app with the made-up history imported and the test channel following the Alliance."""
    app = build_app(
        config or default_config(), SqliteStore(tmp_path / "app.sqlite3"), {"test": adapter}
    )
    await app.start()
    await app.store.import_records([(SourceSpec("feed"), rows(*HISTORY_ROWS))], file="history")
    assert await app.poll() == 0  # a source's first import is history
    await follow_alliance(app)
    await until(adapter, 1)  # the baseline, with no drain call
    return app


async def test_the_worker_delivers_while_the_app_runs_and_stop_is_prompt(tmp_path: Path) -> None:
    adapter = CollectingAdapter()
    app = await started_app(tmp_path, adapter)
    assert adapter.posts[0].title == "Now following Renault-Nissan Alliance"
    await app.store.import_records([(SourceSpec("feed"), rows(LEAF_100K_ROW))], file="news")
    assert await app.poll() >= 1
    await until(adapter, 2)
    assert adapter.posts[1].title == "Nissan Leaf passes 100,000 sales"
    started = time.monotonic()
    await app.stop(grace=3)
    assert time.monotonic() - started < 2.0  # nothing under way: no need for the grace
    assert adapter.closed
    await asyncio.sleep(0)  # APScheduler 3.11 finishes its shutdown on the next loop tick
    assert not app.scheduler.running
    async with SqliteStore(tmp_path / "app.sqlite3") as store:
        assert (await store.delivery_counts())["posted"] == 2


async def test_stop_lets_a_post_under_way_finish(tmp_path: Path) -> None:
    adapter = CollectingAdapter()
    app = await started_app(tmp_path, adapter)
    adapter.delay = 0.4
    adapter.started.clear()
    await app.store.import_records([(SourceSpec("feed"), rows(LEAF_100K_ROW))], file="news")
    await app.poll()
    await asyncio.wait_for(adapter.started.wait(), 5)
    started = time.monotonic()
    await app.stop(grace=5)
    assert 0.2 < time.monotonic() - started < 3
    assert [m.title for m in adapter.posts][-1] == "Nissan Leaf passes 100,000 sales"
    async with SqliteStore(tmp_path / "app.sqlite3") as store:
        counts = await store.delivery_counts()
    assert (counts["posted"], counts["inflight"], counts["pending"]) == (2, 0, 0)


async def test_stop_is_bounded_and_the_next_start_sends_what_was_cut_off(tmp_path: Path) -> None:
    adapter = CollectingAdapter()
    app = await started_app(tmp_path, adapter)
    adapter.hang = True
    adapter.started.clear()
    await app.store.import_records([(SourceSpec("feed"), rows(LEAF_100K_ROW))], file="news")
    await app.poll()
    await asyncio.wait_for(adapter.started.wait(), 5)
    started = time.monotonic()
    await app.stop(grace=0.3)
    assert time.monotonic() - started < 2
    adapter.release.set()  # the abandoned post ends; it cannot record anything any more
    await asyncio.sleep(0.05)
    # the next run reconciles the delivery left in flight and sends it
    again = CollectingAdapter()
    app = build_app(default_config(), SqliteStore(tmp_path / "app.sqlite3"), {"test": again})
    await app.start(poll=False)
    try:
        await until(again, 1)
        assert again.posts[0].title == "Nissan Leaf passes 100,000 sales"
    finally:
        await app.stop(grace=2)


async def test_check_sources_reimports_a_changed_file_and_delivers_the_news(
    tmp_path: Path,
) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(HEADER + "\n".join(HISTORY_ROWS) + "\n", encoding="utf-8")
    toml = tmp_path / "evbot.toml"
    toml.write_text('[sources.feed]\nfile = "feed.csv"\nformat = "canonical"\n', encoding="utf-8")
    config = load_config(toml)
    adapter = CollectingAdapter()
    app = build_app(config, SqliteStore(tmp_path / "app.sqlite3"), {"test": adapter})
    await app.start()
    try:
        assert await app.check_sources() == []  # unchanged since start
        from bot.ingest.importer import import_file

        await import_file(app.store, config, None, source="feed")  # first import: history
        assert await app.poll() == 0
        await follow_alliance(app)
        await until(adapter, 1)
        # the publisher updates the file
        feed.write_text(HEADER + "\n".join([*HISTORY_ROWS, LEAF_100K_ROW]) + "\n", encoding="utf-8")
        later = feed.stat().st_mtime + 5
        os.utime(feed, (later, later))
        assert await app.check_sources() == ["feed"]
        await until(adapter, 2)
        assert adapter.posts[1].title == "Nissan Leaf passes 100,000 sales"
        assert await app.check_sources() == []  # read once per change
        # a broken file is logged and skipped, and changes nothing
        feed.write_text(HEADER + "2020-03,World,Nissan,Leaf,lots,BEV\n", encoding="utf-8")
        os.utime(feed, (later + 5, later + 5))
        assert await app.check_sources() == []
        assert await app.store.count_records() == 4
    finally:
        await app.stop(grace=2)


async def test_the_scheduler_jobs_use_the_bot_defaults(tmp_path: Path) -> None:
    assert JOB_DEFAULTS == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    store = SqliteStore(tmp_path / "app.sqlite3")
    await store.open()
    config = default_config()
    spec = SubscriptionSpec(CHANNEL, ALL, mode="daily", timezone="Europe/Paris")
    sub = (await subscribe(store, config, spec, time.time())).subscription
    app = build_app(config, store, {"test": CollectingAdapter()})
    await app.start()
    try:
        jobs = {job.id: job for job in app.scheduler.get_jobs()}
        assert set(jobs) == {"poll", "sources", f"digest-{sub.id}"}
        for job in jobs.values():
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 300)
        assert jobs["poll"].trigger.interval.total_seconds() == config.poll_seconds
        assert str(jobs[f"digest-{sub.id}"].trigger.timezone) == "Europe/Paris"
        assert str(app.scheduler.timezone) == "UTC"
    finally:
        await app.stop(grace=2)


async def test_a_subscription_made_while_running_gets_its_digest_job(tmp_path: Path) -> None:
    adapter = CollectingAdapter()
    app = await started_app(tmp_path, adapter)  # subscribes after start, as a command would
    try:
        await app.poll()  # the periodic jobs have run since
        await app.check_sources()
        assert any(job.id.startswith("digest-") for job in app.scheduler.get_jobs())
    finally:
        await app.stop(grace=2)


# -- evbot run ------------------------------------------------------------------------------------


def _environment() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("EVBOT_", "DISCORD_", "SLACK_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _read_until(proc: subprocess.Popen[bytes], needles: list[str], timeout: float) -> str:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
        text = buffer.decode("utf-8", errors="replace")
        if all(n in text for n in needles):
            return text
    raise AssertionError(f"{needles} not all printed within {timeout} s: {buffer!r}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_evbot_run_uses_the_console_and_exits_cleanly_on_a_signal(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stop_signal: signal.Signals,
) -> None:
    for var in ("EVBOT_DB", "EVBOT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    db = str(tmp_path / "run.sqlite3")
    assert main(["import", "--demo", "--db", db]) == 0
    assert main(["subscribe", "alliance", "--db", db, "--by", "test"]) == 0  # console terminal
    capsys.readouterr()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--db", db],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_environment(),
    )
    try:
        out = _read_until(
            proc,
            ["evbot running: console;", "Now following Renault-Nissan Alliance"],
            timeout=20,
        )
        assert "polling every 300 s" in out
        time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(stop_signal)
        status = proc.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read().decode("utf-8", errors="replace")
    for pipe in (proc.stdout, proc.stderr):
        pipe.close()
    assert status == 0, err
    assert "Traceback" not in err
    assert main(["deliveries", "--db", db]) == 0
    assert "following posted after 1 tries" in capsys.readouterr().out


def test_evbot_run_refuses_a_platform_it_cannot_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    # Discord enabled without its token: refused before anything connects anywhere
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "fake-token-not-a-secret")  # never shown either
    toml = tmp_path / "evbot.toml"
    toml.write_text("[platforms.discord]\nenabled = true\n", encoding="utf-8")
    db = str(tmp_path / "run.sqlite3")
    status = main(["run", "--config", str(toml), "--db", db])
    out, err = capsys.readouterr()
    assert status == 1
    assert err.startswith("evbot run: ")
    assert "platforms.discord" in err and str(toml) in err and "DISCORD_TOKEN" in err
    assert "fake-token-not-a-secret" not in err + out
    assert "evbot running" not in out
