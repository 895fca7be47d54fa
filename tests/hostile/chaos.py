"""Platform faults together, against the fake webhook platform: 429 storms (global and per
channel), 5xx bursts, answers slower than the client's timeout and a receiver that goes down and
comes back, during fan-outs, while commands arrive through `bot.commands.dispatch.run_text`.

The real detector fans milestones out (`tests/crash_runner.prepare`), the real `DeliveryWorker`
posts them through the real `WebhookAdapter` over sockets to `tests/fake_webhook.FakeWebhook`,
and commands run against the same SQLite store. Used by `tests/hostile/test_platform_faults.py`
(scaled down) and `bench/soak.py` (10,000 deliveries, 1,000 commands).
"""

from __future__ import annotations

import asyncio
import resource
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.webhook import WebhookAdapter
from bot.app.bootstrap import open_commands
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.delivery.worker import DeliveryWorker
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import ladder_objects
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import TOTALS, prepare
from tests.fake_webhook import FakeWebhook

COMMANDS = (
    "/ev-total nissan leaf",
    "/ev-milestones nissan leaf",
    "/ev-total",
    "/ev-subscriptions",
    "/ev-preview nissan leaf",
    "/ev-help",
    "/ev-share nissan",
    "/ev-subscribe nissan",  # members only run these: refused, politely
    "/ev-total " + "x" * 10_000,  # refused, politely
)
MAX_ROUNDS = len(TOTALS) - 1  # the feed has this many rungs to cross after its history


@dataclass
class Plan:
    """How big and how hostile a run is."""

    channels: int = 40
    rounds: int = 3  # fan-outs: each round is one delivery per channel
    commands: int = 60  # at least this many commands, spread over the run
    deadline: float = 3.0  # a command's answer is due within this (Discord and Slack: 3 s)
    client_timeout: float = 0.3  # the adapter's request timeout; "slow" answers come later
    rate: float = 300.0  # the adapter's pace, requests a second
    storm: int = 20  # faulty answers in each phase
    cycles: int = 1  # how many times the fault phases repeat
    min_seconds: float = 0.0  # keep cycling faults at least this long (the soak)
    give_up_seconds: float = 300.0  # the run is a failure if the outbox is not empty by then
    faults: bool = True  # False: the same run on a well-behaved platform (a baseline)


@dataclass
class Result:
    """What a run did; `lost` and `extra` must be 0."""

    deliveries: int = 0
    posted: int = 0
    failed: int = 0
    lost: int = 0  # deliveries whose message the platform never got
    extra: int = 0  # messages the platform got that match no delivery, or a channel too many
    wire_duplicates: int = 0  # the same key sent again (after a timeout): deduplicated
    commands: int = 0
    answered: int = 0
    within_deadline: int = 0
    command_errors: list[str] = field(default_factory=list)  # commands that raised or hung
    slowest_command: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def deadline_fraction(self) -> float:
        return self.within_deadline / self.commands if self.commands else 1.0

    def latency(self, fraction: float) -> float:
        """The command latency below which `fraction` of the commands answered."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _used_up(fake: FakeWebhook, where: str | None, seconds: float) -> None:
    """Wait until a fault's answers are all given (or there was nothing left to fail)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        fault = fake.faults.get(where)
        if fault is None or (fault.times is not None and fault.times <= 0):
            return
        await asyncio.sleep(0.02)


async def _chaos(
    fake: FakeWebhook,
    plan: Plan,
    result: Result,
    news: Callable[[], Awaitable[int]],
) -> None:
    """The fault phases, with a fan-out started during some of them."""
    rounds_left = plan.rounds - 1  # the first round is queued before the run starts
    started = time.monotonic()
    cycle = 0
    while cycle < plan.cycles or time.monotonic() - started < plan.min_seconds:
        cycle += 1
        if rounds_left > 0:
            await news()
            rounds_left -= 1
        if not plan.faults:
            await asyncio.sleep(0.5)
            continue
        fake.fail(429, retry_after="1", global_=True, times=plan.storm)
        result.faults["429 global"] += plan.storm
        await _used_up(fake, None, 20)
        fake.fail(503, times=plan.storm)
        result.faults["503"] += plan.storm
        await _used_up(fake, None, 20)
        fake.fail("slow", delay=plan.client_timeout * 3, times=plan.storm // 2)
        result.faults["slow"] += plan.storm // 2
        await _used_up(fake, None, 20)
        if rounds_left > 0:
            await news()
            rounds_left -= 1
        for i, (kind, retry) in enumerate(((429, "1"), (500, None), (502, None))):
            fake.fail(kind, f"c{i:05d}", retry_after=retry, times=3)
            result.faults[f"{kind} one channel"] += 3
        # the receiver goes away (connections refused) and comes back on the same port
        await fake.stop()
        result.faults["down"] += 1
        await asyncio.sleep(0.3)
        await fake.start()
        await asyncio.sleep(0.2)
    while rounds_left > 0:
        await news()
        rounds_left -= 1


async def run(folder: Path, plan: Plan) -> Result:
    """One run; returns what happened (the caller decides what is good enough)."""
    if not 1 <= plan.rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be 1 to {MAX_ROUNDS}, not {plan.rounds}")
    result = Result()
    began = time.monotonic()
    async with FakeWebhook() as fake:
        store = SqliteStore(folder / "soak.sqlite3")
        await store.open()
        adapter = WebhookAdapter(
            rate_per_second=plan.rate,
            channel_rate_per_second=max(plan.rate / 4, 1.0),
            timeout=plan.client_timeout,
        )
        try:
            urls = [fake.url(f"c{i:05d}") for i in range(plan.channels)]
            feed = await prepare(store, urls, rounds=1)
            config = default_config()
            ctx = await open_commands(store, config)
            worker = DeliveryWorker(
                store, {"webhook": adapter}, ladder_objects(config.ladders), concurrency=8
            )

            async def news() -> int:
                found = await feed.news()
                worker.wake()
                return found

            stop = asyncio.Event()
            delivering = asyncio.create_task(worker.run(stop))
            chaos_done = asyncio.Event()
            commanding = asyncio.create_task(_commands(ctx, plan, result, chaos_done))
            await _chaos(fake, plan, result, news)
            chaos_done.set()
            await commanding
            end = time.monotonic() + plan.give_up_seconds
            while time.monotonic() < end:
                counts = await store.delivery_counts()
                if counts["pending"] == 0 and counts["inflight"] == 0:
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await delivering
            counts = await store.delivery_counts()
        finally:
            await adapter.close()
            await store.close()
        _account(folder / "soak.sqlite3", fake, result, counts)
    result.seconds = time.monotonic() - began
    result.peak_rss_mb = peak_rss_mb()
    return result


async def _commands(
    ctx: CommandContext, plan: Plan, result: Result, chaos_done: asyncio.Event
) -> None:
    """Commands arrive one after another while the faults run (and at least `plan.commands`)."""
    here = Channel("webhook", "default", "commands")
    people = (Invocation(here, "manager", can_manage=True), Invocation(here, "member"))
    i = 0
    while not chaos_done.is_set() or i < plan.commands:
        text = COMMANDS[i % len(COMMANDS)]
        # a manager's subscribe would add a channel to the fan-out; the refusal is the point
        who = people[1] if "subscribe" in text else people[(i // len(COMMANDS)) % 2]
        i += 1
        result.commands += 1
        started = time.monotonic()
        try:
            # a generous bound that only catches a hang; the deadline is counted, not asserted
            reply = await asyncio.wait_for(run_text(ctx, who, text), 60)
        except Exception as exc:  # counted: a command must never raise
            result.command_errors.append(f"{text[:40]}: {type(exc).__name__}: {exc}")
            continue
        took = time.monotonic() - started
        result.slowest_command = max(result.slowest_command, took)
        result.latencies.append(took)
        if reply.message.body.strip():
            result.answered += 1
            if took <= plan.deadline:
                result.within_deadline += 1
        await asyncio.sleep(0.01)


def _account(db: Path, fake: FakeWebhook, result: Result, counts: dict[str, int]) -> None:
    """Compare the outbox with what the platform shows."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id, channel, status FROM deliveries").fetchall()
    result.deliveries = len(rows)
    result.posted = counts.get("posted", 0)
    result.failed = counts.get("failed", 0)
    expected = {f"evbot-delivery-{r[0]}": r[1] for r in rows}
    got = {key: f"http://{fake.host}:{fake.port}{m.path}" for key, m in fake.messages.items()}
    result.lost = sum(1 for key in expected if key not in got)
    result.extra = sum(1 for key in got if key not in expected)
    per_channel = Counter(got.values())
    wanted = Counter(expected.values())
    result.extra += sum(max(0, n - wanted[c]) for c, n in per_channel.items())
    result.wire_duplicates = fake.duplicates
    result.statuses = dict(fake.statuses)


def main_result_lines(result: Result, plan: Plan) -> list[str]:
    """The figures, one per line, for the bench and for a failing test's message."""
    return [
        f"seconds:                 {result.seconds:.1f}",
        f"deliveries:              {result.deliveries:,} ({result.posted:,} posted, "
        f"{result.failed} failed)",
        f"deliveries lost:         {result.lost}",
        f"extra messages:          {result.extra}",
        f"duplicates on the wire:  {result.wire_duplicates} (same key again, deduplicated)",
        f"commands:                {result.commands:,} ({result.answered:,} answered, "
        f"{len(result.command_errors)} raised or hung)",
        f"within {plan.deadline:g} s deadline:    {result.deadline_fraction:.3f} "
        f"(median {result.latency(0.5) * 1000:.0f} ms, p95 {result.latency(0.95) * 1000:.0f} ms, "
        f"slowest {result.slowest_command:.2f} s)",
        f"faults injected:         {dict(result.faults)}",
        f"platform answers:        {dict(sorted(result.statuses.items()))}",
        f"peak memory:             {result.peak_rss_mb:.0f} MB",
    ]
