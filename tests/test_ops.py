"""/healthz and /metrics, served by a running app over a real socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

import aiohttp
import pytest

from adapters.webhook import WebhookAdapter
from bot.app.bootstrap import build_app
from bot.app.ops import Histogram, Ops, parse_address
from bot.config.version import evbot_version
from bot.domain.channels import Channel
from bot.domain.settings import ConfigError, default_config
from bot.domain.subscriptions import PlannedDelivery
from bot.ports.store import BotStore
from bot.store.postgres.leader import Leadership
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore


async def get(ops: Ops, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{ops.port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


def samples(text: str) -> dict[str, float]:
    """Prometheus text -> {series: value}, checking every series has HELP and TYPE lines."""
    out: dict[str, float] = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            name = series.split("{", 1)[0]
            base = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
            assert name in typed or base in typed, f"{name} has no TYPE line"
            out[series] = float(value)
    return out


async def serve(store: BotStore, leadership: Leadership | None = None) -> AsyncIterator[Ops]:
    app = build_app(default_config(), store, {"webhook": WebhookAdapter()}, leadership=leadership)
    await app.start(poll=leadership is not None)  # a replica polls once it leads
    ops = Ops(app, "127.0.0.1:0")
    await ops.start()
    try:
        yield ops
    finally:
        await ops.stop()
        await app.stop(grace=1)


@pytest.fixture
async def sqlite_ops(tmp_path: Path) -> AsyncIterator[Ops]:
    """The endpoints of an app whose store is open but whose worker is not running, so that
    what the outbox holds stays as the test puts it."""
    store = SqliteStore(tmp_path / "ops.sqlite3")
    ops = Ops(build_app(default_config(), store, {"webhook": WebhookAdapter()}), "127.0.0.1:0")
    async with store:
        await ops.start()
        try:
            yield ops
        finally:
            await ops.stop()


async def test_healthz_says_store_adapters_and_role(sqlite_ops: Ops) -> None:
    status, kind, body = await get(sqlite_ops, "/healthz")
    assert status == 200 and kind.startswith("application/json")
    assert '"store": "ok"' in body and '"scheduler": "single"' in body
    assert '"webhook": "n/a"' in body  # a webhook keeps no connection to report
    assert json.loads(body)["version"] == evbot_version() == version("evbot")


async def test_healthz_is_503_when_the_store_does_not_answer(tmp_path: Path) -> None:
    never_opened = SqliteStore(tmp_path / "closed.sqlite3")
    ops = Ops(build_app(default_config(), never_opened, {}), "127.0.0.1:0")
    await ops.start()
    try:
        status, _, body = await get(ops, "/healthz")
    finally:
        await ops.stop()
    assert status == 503 and '"status": "unhealthy"' in body and "unreachable" in body


async def test_metrics_in_prometheus_text(sqlite_ops: Ops) -> None:
    store = sqlite_ops.app.store
    hook = Channel("webhook", "default", "http://127.0.0.1:9/hook/a")
    await store.enqueue([PlannedDelivery(hook, "following", (), (1,), "en", "{}")] * 3, 0.0)
    await store.claim_due(1.0, 1)
    sqlite_ops.command_latency.observe(0.03)
    sqlite_ops.command_latency.observe(3.0)
    status, kind, text = await get(sqlite_ops, "/metrics")
    assert status == 200 and kind.startswith("text/plain; version=0.0.4")
    found = samples(text)
    assert found['evbot_deliveries{platform="webhook",status="pending"}'] == 2
    assert found['evbot_deliveries{platform="webhook",status="inflight"}'] == 1
    assert found["evbot_polls_total"] == 0 and found["evbot_poll_lag_seconds"] == -1
    assert found["evbot_leader"] == 1  # a single bot runs its own jobs
    assert found['evbot_command_latency_seconds_bucket{le="0.05"}'] == 1
    assert found['evbot_command_latency_seconds_bucket{le="+Inf"}'] == 2
    assert found["evbot_command_latency_seconds_count"] == 2
    assert found["evbot_worker_posted_total"] == 0
    assert found[f'evbot_build_info{{version="{version("evbot")}"}}'] == 1


async def test_a_replica_reports_leadership_and_deliveries_by_platform(pg_dsn: str) -> None:
    leadership = Leadership(pg_dsn, retry_seconds=0.2)
    async for ops in serve(PgStore(pg_dsn), leadership):
        store = ops.app.store
        hook = Channel("webhook", "default", "http://127.0.0.1:9/hook/a")
        await store.enqueue([PlannedDelivery(hook, "following", (), (1,), "en", "{}")], 0.0)
        for _ in range(200):
            if leadership.is_leader and ops.app.last_poll_at is not None:
                break
            await asyncio.sleep(0.05)
        status, _, body = await get(ops, "/healthz")
        assert status == 200 and '"scheduler": "leader"' in body
        found = samples((await get(ops, "/metrics"))[2])
        webhook = [v for k, v in found.items() if k.startswith('evbot_deliveries{platform="web')]
        assert sum(webhook) == 1 and len(webhook) == 1  # by platform, in whatever status
        assert found["evbot_leader"] == 1 and found["evbot_polls_total"] >= 1


def test_addresses_and_histograms() -> None:
    assert parse_address("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("9108", "host:", ":80", "host:http", "host:70000"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            parse_address(bad)
    h = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 2.0):
        h.observe(value)
    assert h.lines("x") == [
        'x_bucket{le="0.1"} 2',
        'x_bucket{le="1"} 3',
        'x_bucket{le="+Inf"} 4',
        "x_sum 2.650000",
        "x_count 4",
    ]


async def test_commands_served_by_an_adapter_feed_the_latency_histogram(tmp_path: Path) -> None:
    """A command host's commands are timed into /metrics: the histogram counts each one."""
    from bot.commands.context import CommandContext
    from bot.commands.dispatch import run_text
    from bot.commands.types import Invocation

    answered: list[str] = []
    both = asyncio.Event()  # both commands answered

    class Host:  # a minimal CommandHost: answers two commands, then waits to stop
        platform = "host"
        limits = WebhookAdapter().limits

        async def post(self, channel: Channel, message: object, key: str) -> str:
            raise AssertionError("nothing is posted here")

        async def find_posted(
            self, channel: Channel, key: str, since: float | None = None
        ) -> str | None:
            return None

        async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None:
            who = Invocation(Channel("host", "w", "c"), "alice")
            for text in ("/ev-help", "/ev-total nothing-like-this"):
                answered.append((await run_text(commands, who, text)).message.title)
            both.set()
            await stopping.wait()

    store = SqliteStore(tmp_path / "latency.sqlite3")
    app = build_app(default_config(), store, {"host": Host()})  # type: ignore[dict-item]
    ops = Ops(app, "127.0.0.1:0")
    await app.start(poll=False)
    await ops.start()
    try:
        await asyncio.wait_for(both.wait(), 5)
        _, _, text = await get(ops, "/metrics")
    finally:
        await ops.stop()
        await app.stop(grace=1)
    assert len(answered) == 2
    assert samples(text)["evbot_command_latency_seconds_count"] == 2
