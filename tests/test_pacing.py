"""Pacing and retry timing: token buckets on a fake clock, and the outbox's backoff."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from bot.outbox import BACKOFF_BASE, BACKOFF_CAP, backoff
from bot.pacing import Pacer, TokenBucket


class FakeTime:
    """A clock that only moves when someone sleeps on it.

    Rates in these tests are powers of two, so every gap is exact in binary floating point:
    with 0.1 s gaps at a clock near 1000, a refill can come out at 0.9999999999 tokens, the
    bucket asks to sleep 1e-14 s, and a fake clock that adds that to 1000.1 never moves.
    """

    def __init__(self, start: float = 1024.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


async def times_of(bucket: TokenBucket, clock: FakeTime, count: int) -> list[float]:
    """When each of `count` acquires in a row got its token, relative to the start."""
    start = clock()
    out = []
    for _ in range(count):
        await bucket.acquire()
        out.append(round(clock() - start, 9))
    return out


# -- TokenBucket ------------------------------------------------------------------------------


async def test_rate_is_respected_over_many_acquires() -> None:
    clock = FakeTime()
    bucket = TokenBucket(4.0, 1.0, clock, clock.sleep)
    times = await times_of(bucket, clock, 101)
    assert times[0] == 0.0  # a full bucket serves the first at once
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap == pytest.approx(0.25) for gap in gaps)
    assert times[-1] == pytest.approx(25.0)  # 100 more tokens at 4 a second


async def test_capacity_allows_a_burst_then_the_rate() -> None:
    clock = FakeTime()
    bucket = TokenBucket(2.0, 4.0, clock, clock.sleep)
    times = await times_of(bucket, clock, 8)
    assert times[:4] == [0.0, 0.0, 0.0, 0.0]  # the saved-up burst
    assert times[4:] == pytest.approx([0.5, 1.0, 1.5, 2.0])


async def test_an_idle_bucket_refills_only_up_to_its_capacity() -> None:
    clock = FakeTime()
    bucket = TokenBucket(8.0, 3.0, clock, clock.sleep)
    await times_of(bucket, clock, 3)  # empty now
    clock.now += 3600.0  # idle for an hour: 28,800 tokens' worth, but capacity is 3
    times = await times_of(bucket, clock, 5)
    assert times == pytest.approx([0.0, 0.0, 0.0, 0.125, 0.25])


async def test_hold_delays_every_caller_until_it_ends() -> None:
    clock = FakeTime()
    bucket = TokenBucket(8.0, 1.0, clock, clock.sleep)
    start = clock()
    bucket.hold(3.0)
    got: list[tuple[str, float]] = []

    async def caller(name: str) -> None:
        await bucket.acquire()
        got.append((name, clock() - start))

    await asyncio.gather(caller("a"), caller("b"), caller("c"))
    assert [name for name, _ in got] == ["a", "b", "c"]  # served in arrival order
    assert [t for _, t in got] == pytest.approx([3.0, 3.125, 3.25])


async def test_a_shorter_hold_does_not_cut_a_longer_one() -> None:
    clock = FakeTime()
    bucket = TokenBucket(8.0, 1.0, clock, clock.sleep)
    start = clock()
    bucket.hold(5.0)
    bucket.hold(1.0)
    await bucket.acquire()
    assert clock() - start == pytest.approx(5.0)


async def test_hold_takes_the_saved_tokens() -> None:
    clock = FakeTime()
    bucket = TokenBucket(1.0, 1.0, clock, clock.sleep)
    start = clock()
    bucket.hold(0.0)  # "wait 0 s" still means the token we had is gone
    await bucket.acquire()
    assert clock() - start == pytest.approx(1.0)


async def test_delay_tells_the_wait_without_taking_a_token() -> None:
    clock = FakeTime()
    bucket = TokenBucket(4.0, 1.0, clock, clock.sleep)
    assert bucket.delay() == 0.0
    assert bucket.delay() == 0.0  # asking takes nothing
    await bucket.acquire()
    assert bucket.delay() == 0.25
    clock.now += 0.125
    assert bucket.delay() == 0.125
    bucket.hold(2.0)
    assert bucket.delay() >= 2.0


def test_a_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate above 0"):
        TokenBucket(0.0)
    with pytest.raises(ValueError, match="capacity of at least 1"):
        TokenBucket(1.0, 0.5)


# -- Pacer ------------------------------------------------------------------------------------


async def test_pacer_paces_each_channel_and_the_platform() -> None:
    clock = FakeTime()
    pacer = Pacer(global_rate=8.0, channel_rate=1.0, clock=clock, sleep=clock.sleep)
    start = clock()
    seen = []
    for channel in ("a", "b", "a", "b", "c"):
        await pacer.acquire(channel)
        seen.append((channel, clock() - start))
    # a and b each get their first at once (within the platform's 8/s); their second waits
    # for the channel's 1/s; c was never used, so only the platform bucket paces it
    assert seen == [("a", 0.0), ("b", 0.125), ("a", 1.0), ("b", 1.125), ("c", 1.25)]


async def test_pacer_keeps_one_bucket_per_channel() -> None:
    pacer = Pacer(10.0, 1.0)
    assert pacer.channel("x") is pacer.channel("x")
    assert pacer.channel("x") is not pacer.channel("y")


async def test_a_channel_hold_leaves_other_channels_alone() -> None:
    clock = FakeTime()
    pacer = Pacer(global_rate=8.0, channel_rate=8.0, clock=clock, sleep=clock.sleep)
    start = clock()
    pacer.channel("slow").hold(30.0)
    await pacer.acquire("fast")
    assert clock() - start == 0.0
    await pacer.acquire("slow")
    assert clock() - start == pytest.approx(30.0)


async def test_a_platform_hold_delays_every_channel() -> None:
    clock = FakeTime()
    pacer = Pacer(global_rate=8.0, channel_rate=8.0, clock=clock, sleep=clock.sleep)
    start = clock()
    pacer.platform.hold(2.0)
    await pacer.acquire("a")
    assert clock() - start == 2.0
    await pacer.acquire("b")
    assert clock() - start == 2.125


# -- backoff ----------------------------------------------------------------------------------


class FixedDraw(random.Random):
    """A random source that always draws the same number."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_grows_exponentially_then_is_capped() -> None:
    top = [backoff(n, FixedDraw(1.0)) for n in range(1, 15)]
    expected = [min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (n - 1)) for n in range(1, 15)]
    assert top == pytest.approx(expected)
    assert top[:4] == pytest.approx([2.0, 4.0, 8.0, 16.0])
    assert max(top) == BACKOFF_CAP
    assert backoff(100, FixedDraw(1.0)) == BACKOFF_CAP  # far past MAX_ATTEMPTS: still capped
    assert backoff(0, FixedDraw(1.0)) == BACKOFF_BASE  # "no attempts yet" is the first rung


def test_backoff_jitter_stays_within_half_to_all_of_the_ceiling() -> None:
    rng = random.Random(42)
    for attempts in (1, 3, 6, 12):
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
        draws = [backoff(attempts, rng) for _ in range(500)]
        assert all(0.5 * ceiling <= d <= ceiling for d in draws)
        assert len(set(draws)) > 450  # spread out, not one value
        assert min(draws) < 0.55 * ceiling and max(draws) > 0.95 * ceiling
    assert backoff(4, FixedDraw(0.0)) == pytest.approx(8.0)  # the floor: half of 16


def test_backoff_without_a_random_source_still_jitters_in_range() -> None:
    draws = {backoff(2) for _ in range(50)}
    assert all(2.0 <= d <= 4.0 for d in draws)
    assert len(draws) > 1
