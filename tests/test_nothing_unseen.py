"""Nothing stuck unseen: subscriptions to a platform that cannot deliver are refused or warned
about, `evbot run` says at start what it serves and what waits, /healthz and /metrics show what
waits and for how long, and a delivery retried for too long is logged once."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.webhook import WebhookAdapter
from bot.app.bootstrap import build_app
from bot.app.ops import Ops
from bot.cli.main import main
from bot.config.load import load_config
from bot.delivery.retry_warnings import RetryWarnings
from bot.delivery.worker import DeliveryWorker
from bot.domain.channels import Channel
from bot.domain.settings import ConfigError, default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import PlannedDelivery, SubscriptionSpec, ladder_objects
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore
from tests.fake_webhook import FakeWebhook

KNOWN = "known: console, discord, discord_webhook, matrix, slack, slack_webhook, teams, webhook"
HELLO = json.dumps({"title": "Now following", "body": "hello", "fields": []})


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in [v for v in os.environ if v.startswith(("EVBOT_", "DISCORD_", "SLACK_"))]:
        if not var.startswith("EVBOT_TEST_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("USER", "tester")
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)  # main() sets the process's level: give the next test its own


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "unseen.sqlite3")
    assert main(["import", "--demo", "--db", path]) == 0
    capsys.readouterr()
    return path


def webhook_config(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "config.toml"
    path.write_text(f"[platforms.webhook]\nenabled = true\n{extra}", encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def stored(db: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        async with SqliteStore(db) as store:
            subs = [(s.channel.platform, s.spec.subject.name) for s in await store.subscriptions()]
            return subs + [(d.channel.platform, d.kind) for d in await store.deliveries()]

    return asyncio.run(read())


# -- subscribing --------------------------------------------------------------------------------


def test_an_unknown_platform_is_refused_with_the_known_ones(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "subscribe", "leaf", "--platform", "irc", "--channel", "x", "--db", db
    )
    assert (status, out) == (1, "")
    assert err == (
        f"evbot subscribe: platform: 'irc' is not a platform evbot can deliver to ({KNOWN})\n"
    )
    assert stored(db) == []  # no subscription, no "now following" delivery
    # and refused before the store: no database is made for it
    fresh = tmp_path / "never.sqlite3"
    assert main(["subscribe", "leaf", "--platform", "irc", "--db", str(fresh)]) == 1
    assert not fresh.exists()


def test_a_known_platform_that_is_not_enabled_is_accepted_with_a_warning(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = webhook_config(tmp_path)
    status, out, err = run(
        capsys,
        *("subscribe", "leaf", "--config", config, "--db", db),
        *("--platform", "discord", "--workspace", "1", "--channel", "2"),
    )
    assert status == 0 and out.startswith("discord:1/2 now follows Nissan Leaf")
    assert err == (
        "evbot subscribe: warning: discord is not enabled in the configuration "
        "([platforms.discord] enabled); its deliveries wait until `evbot run` serves it\n"
    )
    # with a platform enabled, `evbot run` has no console either
    status, _, err = run(capsys, "subscribe", "zoe", "--config", config, "--db", db)
    assert status == 0
    assert "warning: console runs only when no platform is enabled" in err
    # an enabled platform: no warning
    status, _, err = run(
        capsys,
        *("subscribe", "leaf", "--config", config, "--db", db),
        *("--platform", "webhook", "--channel", "http://127.0.0.1:9/hook/a"),
    )
    assert (status, err) == (0, "")
    assert sorted(stored(db)) == sorted(
        [
            ("discord", "Nissan Leaf"),
            ("console", "Renault Zoe"),
            ("webhook", "Nissan Leaf"),
            ("discord", "following"),
            ("console", "following"),
            ("webhook", "following"),
        ]
    )


def test_with_nothing_enabled_the_console_serves_and_the_others_wait(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "subscribe", "leaf", "--db", db) == (
        0,
        "console:local/terminal now follows Nissan Leaf (World) [#1]\n",
        "",
    )
    status, _, err = run(capsys, "subscribe", "leaf", "--db", db, "--platform", "slack")
    assert status == 0 and "warning: slack is not enabled in the configuration" in err


def test_subscribing_again_with_the_same_settings_changes_and_posts_nothing(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "subscribe", "leaf", "--db", db)[0] == 0
    status, out, _ = run(capsys, "subscribe", "leaf", "--db", db)
    assert status == 0
    assert out == (
        "console:local/terminal already follows, with these settings, Nissan Leaf (World) [#1]\n"
    )
    assert stored(db) == [("console", "Nissan Leaf"), ("console", "following")]


# -- logging: configured once, level from --log-level or the configuration ---------------------


def test_the_log_level_comes_from_the_flag_or_the_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    config = tmp_path / "quiet.toml"
    config.write_text('[logging]\nlevel = "error"\n', encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 0
    assert root.level == logging.ERROR
    assert main(["--log-level", "debug", "check-config", "--config", str(config)]) == 0
    assert root.level == logging.DEBUG  # the flag wins
    assert main(["check-config", "--config", str(config), "--log-level", "WARNING"]) == 0
    assert root.level == logging.WARNING  # also after the command, in any case
    assert main(["check-config"]) == 0
    assert root.level == logging.INFO  # the default
    assert logging.getLogger("apscheduler").level == logging.WARNING  # its INFO is chatter
    ours = [h for h in root.handlers if type(h).__name__ == "StderrLog"]
    assert len(ours) == 1  # configured once, however many commands ran
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--log-level", "bogus", "check-config"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_log_lines_are_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.common import configure_logging

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-token")
    configure_logging("info")
    capsys.readouterr()
    logging.getLogger("evbot.test").warning("posting with xoxb-very-secret-token failed")
    logging.getLogger("evbot.test").debug("below the level")
    err = capsys.readouterr().err
    assert "xoxb-very-secret-token" not in err
    assert err.endswith(" WARNING evbot.test: posting with *** failed\n")
    assert "below the level" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[logging]\nlevel = "loud"\n',
            "logging.level: 'loud' is not one of debug, info, warning, error",
        ),
        (
            "[logging]\ncolour = 1\n",
            "logging.colour: unknown key (expected one of: format, level)",
        ),
        (
            "[delivery]\nretry_warning_seconds = 0\n",
            "delivery.retry_warning_seconds: must be a number above 0 and at most 604,800, not 0",
        ),
        (
            "[delivery]\nretry_warning_seconds = 'soon'\n",
            "delivery.retry_warning_seconds: must be a number, not a string",
        ),
    ],
)
def test_logging_and_delivery_settings_are_checked(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_the_settings_and_their_defaults(tmp_path: Path) -> None:
    assert (default_config().log_level, default_config().retry_warning_seconds) == ("info", 900)
    config = load_config(
        webhook_config(
            tmp_path, '[logging]\nlevel = "debug"\n[delivery]\nretry_warning_seconds = 60\n'
        )
    )
    assert (config.log_level, config.retry_warning_seconds) == ("debug", 60)
    assert config.served_platforms == ("webhook",)
    assert default_config().served_platforms == ("console",)
    app = build_app(config, SqliteStore(":memory:"), {"webhook": WebhookAdapter()})
    assert app.worker.retry_warnings is not None and app.worker.retry_warnings.after == 60


async def test_the_start_line_names_each_platform_and_how_it_is_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The adapters `evbot run` builds, as the start-up line describes them."""
    from bot.app.bootstrap import build_adapters

    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.NDU2.Nzg5")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing")
    path = tmp_path / "platforms.toml"
    path.write_text(
        "[platforms.discord]\nenabled = true\nshard_count = 2\n"
        '[platforms.slack]\nenabled = true\nmode = "http"\nhost = "0.0.0.0"\nport = 3456\n'
        "[platforms.webhook]\nenabled = true\n",
        encoding="utf-8",
    )
    config = load_config(path)
    adapters = build_adapters(config, sys.stdout)
    app = build_app(config, SqliteStore(tmp_path / "start.sqlite3"), adapters)
    caplog.set_level(logging.INFO, logger="evbot.app")
    await app.store.open()
    try:
        await app.log_start()  # nothing connects: the line is said before anything does
    finally:
        await app.store.close()
    assert [r.getMessage() for r in caplog.records if r.name == "evbot.app"] == [
        "starting: discord (gateway, 2 shards), slack (HTTP on 0.0.0.0, port 3456), "
        "webhook (HTTP posts to each subscribed URL); polling every 300 s"
    ]


# -- /healthz and /metrics ----------------------------------------------------------------------


async def get(ops: Ops, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{ops.port}{path}") as response,
    ):
        return response.status, await response.text()


def samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


async def ops_over(store: SqliteStore | PgStore) -> AsyncIterator[Ops]:
    """The endpoints of an app serving the webhook alone; its worker does not run, so what
    the outbox holds stays as the test puts it."""
    ops = Ops(build_app(default_config(), store, {"webhook": WebhookAdapter()}), "127.0.0.1:0")
    async with store:
        await ops.start()
        try:
            yield ops
        finally:
            await ops.stop()


async def test_health_and_metrics_show_what_waits_and_for_how_long(tmp_path: Path) -> None:
    async for ops in ops_over(SqliteStore(tmp_path / "ops.sqlite3")):
        await check_what_waits(ops)


async def test_health_and_metrics_on_postgresql(pg_dsn: str) -> None:
    async for ops in ops_over(PgStore(pg_dsn)):
        await check_what_waits(ops)


async def check_what_waits(ops: Ops) -> None:
    store = ops.app.store
    now = time.time()

    def queued(platform: str, n: int) -> list[PlannedDelivery]:
        channel = Channel(platform, "w", f"http://127.0.0.1:9/hook/{platform}")
        return [PlannedDelivery(channel, "following", (), (1,), "en", "{}")] * n

    await store.enqueue(queued("discord", 2), now - 7200)
    await store.enqueue(queued("irc", 1), now - 60)  # made before subscribing refused it
    await store.enqueue(queued("webhook", 2), now - 300)
    await store.enqueue(queued("webhook", 1), now - 30)
    status, body = await get(ops, "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    waiting = health["waiting"]
    assert set(waiting) == {"discord", "irc"}  # the webhook is served here
    assert waiting["discord"]["deliveries"] == 2
    assert "discord is not enabled in the configuration" in waiting["discord"]["reason"]
    assert 7200 <= waiting["discord"]["oldest_seconds"] < 7200 + 600
    assert waiting["irc"]["deliveries"] == 1
    assert waiting["irc"]["reason"].startswith("irc is not a platform evbot knows")
    # the oldest pending delivery among those this replica can send
    assert 300 <= health["oldest_pending_seconds"] < 300 + 600

    found = samples((await get(ops, "/metrics"))[1])
    assert found['evbot_deliveries_waiting{platform="discord",reason="disabled"}'] == 2
    assert found['evbot_deliveries_waiting{platform="irc",reason="unknown"}'] == 1
    assert not [k for k in found if k.startswith('evbot_deliveries_waiting{platform="webhook"')]
    oldest = {k.split('"')[1]: v for k, v in found.items() if k.startswith("evbot_delivery_oldest")}
    assert set(oldest) == {"discord", "irc", "webhook"}
    assert 7200 <= oldest["discord"] < 7200 + 600 and 300 <= oldest["webhook"] < 300 + 600
    assert found['evbot_deliveries{platform="discord",status="pending"}'] == 2

    # posted or in flight: a delivery in flight is not out yet; a posted one no longer waits
    claimed = await store.claim_due(time.time(), 10, ["webhook"])
    await store.mark_posted(claimed[0].id, "m1", time.time())
    health = json.loads((await get(ops, "/healthz"))[1])
    assert health["waiting"]["discord"]["deliveries"] == 2
    assert health["oldest_pending_seconds"] is not None


async def test_nothing_pending_is_no_age(tmp_path: Path) -> None:
    async for ops in ops_over(SqliteStore(tmp_path / "empty.sqlite3")):
        health = json.loads((await get(ops, "/healthz"))[1])
        assert (health["waiting"], health["oldest_pending_seconds"]) == ({}, None)
        text = (await get(ops, "/metrics"))[1]
        assert "# TYPE evbot_deliveries_waiting gauge" in text
        assert "# TYPE evbot_delivery_oldest_pending_seconds gauge" in text
        assert not [k for k in samples(text) if k.startswith("evbot_delivery_oldest")]


# -- a delivery retried for too long ------------------------------------------------------------


async def test_a_delivery_retried_too_long_is_logged_once_without_its_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="evbot.outbox")
    clock = [1_000_000.0]
    async with FakeWebhook() as fake, SqliteStore(tmp_path / "retry.sqlite3") as store:
        fake.fail(500)  # a dead webhook: every post fails
        hook = Channel("webhook", "default", fake.url("secret-token-in-path"))
        [first] = await store.enqueue(
            [PlannedDelivery(hook, "following", (), (1,), "en", HELLO)],
            clock[0],
        )
        sub, _ = await store.subscribe(SubscriptionSpec(hook, ALL))
        assert sub.id == 1  # the delivery's subscription
        # the pacer keeps real time: a fast channel rate lets the test's clock jump alone
        webhook = WebhookAdapter(rate_per_second=1000, channel_rate_per_second=1000)
        worker = DeliveryWorker(
            store,
            {"webhook": webhook},
            ladder_objects(default_config().ladders),
            clock=lambda: clock[0],
        )
        worker.retry_warnings = RetryWarnings(after=900)

        def warnings() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "evbot.outbox"]

        try:
            for at in (0, 400, 899):  # retried, but not for 15 minutes yet
                clock[0] = 1_000_000.0 + at
                await worker.drain()
                assert warnings() == [], at
            clock[0] = 1_000_000.0 + 1000
            await worker.drain()
            [warned] = warnings()
            for at in (2000, 3000):  # still failing: said once is enough
                clock[0] = 1_000_000.0 + at
                await worker.drain()
        finally:
            await webhook.close()
        row = await store.delivery(first)
    assert row is not None and (row.status, row.attempts) == ("pending", 6)
    assert len(fake.received("secret-token-in-path")) == 6
    assert warnings() == [warned]
    port = fake.port
    assert re.fullmatch(
        rf"delivery {first} to webhook:http://127\.0\.0\.1:{port}/… not delivered after "
        r"17 min \(4 attempts\); last error: server_error: .*; next try in \d+ s",
        warned,
    ), warned
    assert "secret-token" not in warned


# -- evbot run, as a user runs it ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Output:
    """A process's stdout and stderr, read as they come."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.fds = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err"}
        self.text = {"out": b"", "err": b""}

    def until(self, stream: str, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text[stream].decode("utf-8", "replace"))
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in {stream} within {timeout} s: {self.text}")
            ready, _, _ = select.select(list(self.fds), [], [], 0.1)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    self.text[self.fds[fd]] += chunk


@pytest.mark.slow
def test_evbot_run_says_what_it_serves_what_waits_and_what_keeps_failing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = webhook_config(tmp_path, "[delivery]\nretry_warning_seconds = 1\n")
    dead = f"http://127.0.0.1:{_free_port()}/hook/secret-token-in-path"  # nothing listens
    for args in (
        ("--platform", "webhook", "--channel", dead),
        ("--platform", "discord", "--workspace", "1", "--channel", "2"),
        ("--platform", "discord", "--workspace", "1", "--channel", "3"),
        (),  # the console: not run while a platform is enabled
    ):
        assert main(["subscribe", "alliance", "--config", config, "--db", db, *args]) == 0

    async def legacy() -> None:  # made before subscribing to an unknown platform was refused
        async with SqliteStore(db) as store:
            irc = Channel("irc", "t", "x")
            sub, _ = await store.subscribe(SubscriptionSpec(irc, ALL))
            await store.enqueue(
                [PlannedDelivery(irc, "following", (), (sub.id,), "en", "{}")], time.time()
            )

    asyncio.run(legacy())
    capsys.readouterr()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", config, "--db", db],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env | {"EVBOT_OPS_ADDRESS": "127.0.0.1:0"},
    )
    try:
        output = Output(proc)
        output.until(
            "err", r"INFO evbot\.app: starting: webhook \(HTTP posts to each subscribed URL\)"
        )
        output.until(
            "err",
            r"WARNING evbot\.app: 2 deliveries to discord cannot go out \(oldest \d+ s\): discord "
            r"is not enabled in the configuration \(\[platforms\.discord\] enabled\)",
        )
        output.until(
            "err",
            r"WARNING evbot\.app: 1 delivery to console cannot go out \(oldest \d+ s\): console "
            "runs only when no platform is enabled",
        )
        output.until("err", r"WARNING evbot\.app: 1 delivery to irc cannot go out .*: irc is")
        output.until("err", r"INFO evbot\.app: 1 delivery to webhook pending")
        port = int(output.until("err", r"health and metrics on 127\.0\.0\.1 port (\d+)")[1])
        # the dead webhook: retried, and after a second of it (configured), one warning
        output.until(
            "err",
            r"WARNING evbot\.outbox: delivery \d+ to webhook:http://127\.0\.0\.1:\d+/… not "
            r"delivered after \d+ s \(2 attempts\); last error: network: ",
        )

        async def figures() -> tuple[dict[str, Any], dict[str, float]]:
            async with aiohttp.ClientSession() as session:
                base = f"http://127.0.0.1:{port}"
                async with session.get(f"{base}/healthz") as response:
                    health = await response.json()
                async with session.get(f"{base}/metrics") as response:
                    metrics = samples(await response.text())
            return health, metrics

        health, metrics = asyncio.run(figures())
        assert {k: v["deliveries"] for k, v in health["waiting"].items()} == {
            "console": 1,
            "discord": 2,
            "irc": 1,
        }
        assert metrics['evbot_deliveries_waiting{platform="discord",reason="disabled"}'] == 2
        assert metrics['evbot_deliveries_waiting{platform="irc",reason="unknown"}'] == 1
        assert metrics['evbot_delivery_oldest_pending_seconds{platform="webhook"}'] >= 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        for fd in list(output.fds):
            while chunk := os.read(fd, 65536):
                output.text[output.fds[fd]] += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
    everything = b"".join(output.text.values()).decode()
    assert "secret-token-in-path" not in everything  # a webhook's URL is never logged
    assert everything.count("not delivered after") == 1  # once, however many retries


@pytest.mark.slow
def test_the_log_level_quiets_evbot_run(db: str, tmp_path: Path) -> None:
    config = webhook_config(
        tmp_path, '[logging]\nlevel = "warning"\n[delivery]\nretry_warning_seconds = 1\n'
    )
    assert main(["subscribe", "alliance", "--config", config, "--db", db]) == 0  # console
    dead = f"http://127.0.0.1:{_free_port()}/hook/x"
    subscribe = ["subscribe", "alliance", "--config", config, "--db", db]
    assert main([*subscribe, "--platform", "webhook", "--channel", dead]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", config, "--db", db],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=dict(os.environ) | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        output = Output(proc)
        output.until("err", r"WARNING evbot\.app: 1 delivery to console cannot go out")
        output.until("out", r"evbot running: webhook")
        output.until("err", r"WARNING evbot\.outbox: delivery \d+ to webhook:")  # a warning
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "INFO" not in output.text["err"].decode()  # the configured level holds
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
