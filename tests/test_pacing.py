"""Pacing and retry timing: token buckets on a fake clock, and the outbox's backoff."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from bot.delivery.pacing import Pacer, TokenBucket
from bot.delivery.worker import BACKOFF_BASE, BACKOFF_CAP, backoff


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


async def test_set_rate_paces_at_the_new_rate_from_then_on() -> None:
    clock = FakeTime()
    bucket = TokenBucket(4.0, 1.0, clock, clock.sleep)
    first = await times_of(bucket, clock, 3)
    assert first == pytest.approx([0.0, 0.25, 0.5])
    bucket.set_rate(2.0)  # a replica joined: half as fast
    assert await times_of(bucket, clock, 3) == pytest.approx([0.5, 1.0, 1.5])
    bucket.set_rate(8.0)  # two replicas died: four times as fast as that
    assert await times_of(bucket, clock, 3) == pytest.approx([0.125, 0.25, 0.375])


async def test_set_rate_keeps_what_was_earned_at_the_old_rate() -> None:
    clock = FakeTime()
    bucket = TokenBucket(2.0, 4.0, clock, clock.sleep)
    await times_of(bucket, clock, 4)  # empty
    clock.now += 1.0  # two tokens earned at 2/s
    bucket.set_rate(0.5)
    # the two saved tokens are spent at once; the next comes at the new rate, 2 s later
    assert await times_of(bucket, clock, 3) == pytest.approx([0.0, 0.0, 2.0])


async def test_set_rate_clamps_the_saved_tokens_to_a_smaller_capacity() -> None:
    clock = FakeTime()
    bucket = TokenBucket(8.0, 8.0, clock, clock.sleep)  # full: 8 saved
    bucket.set_rate(4.0, 2.0)
    assert bucket.capacity == 2.0
    assert await times_of(bucket, clock, 4) == pytest.approx([0.0, 0.0, 0.25, 0.5])


async def test_set_rate_does_not_lift_a_hold() -> None:
    clock = FakeTime()
    bucket = TokenBucket(8.0, 1.0, clock, clock.sleep)
    bucket.hold(3.0)
    bucket.set_rate(16.0, 2.0)
    times = await times_of(bucket, clock, 3)
    # nobody before the hold ends; then the new capacity's two and the new rate's 1/16 s
    assert times == pytest.approx([3.0, 3.0, 3.0625])


async def test_set_rate_applies_to_a_caller_already_waiting() -> None:
    now = [1024.0]
    naps: list[tuple[float, asyncio.Future[None]]] = []

    async def nap(seconds: float) -> None:
        """A sleep the test ends by moving the clock."""
        done = asyncio.get_running_loop().create_future()
        naps.append((seconds, done))
        await done

    bucket = TokenBucket(1.0, 1.0, lambda: now[0], nap)
    await bucket.acquire()  # empty now: the next waits 1 s at 1/s
    waiting = asyncio.ensure_future(bucket.acquire())
    await asyncio.sleep(0)
    assert [s for s, _ in naps] == [1.0]
    now[0] += 0.5  # half a token earned at 1/s, then the rate halves
    bucket.set_rate(0.5)
    now[0] += 0.5  # the nap ends, as asked: a quarter more at the new rate
    naps[0][1].set_result(None)
    await asyncio.sleep(0)
    assert not waiting.done()
    assert naps[1][0] == pytest.approx(0.5)  # the remaining quarter at 0.5/s
    now[0] += 0.5
    naps[1][1].set_result(None)
    await waiting


def test_a_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate above 0"):
        TokenBucket(0.0)
    with pytest.raises(ValueError, match="capacity of at least 1"):
        TokenBucket(1.0, 0.5)
    bucket = TokenBucket(1.0)
    with pytest.raises(ValueError, match="rate above 0"):
        bucket.set_rate(0.0)
    assert bucket.rate == 1.0  # refused: unchanged


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


async def test_pacer_share_divides_the_platform_limit_among_replicas() -> None:
    clock = FakeTime()
    pacer = Pacer(global_rate=32.0, channel_rate=64.0, clock=clock, sleep=clock.sleep)
    assert (pacer.platform.rate, pacer.platform.capacity) == (32.0, 3.2)
    pacer.share(4)
    assert (pacer.platform.rate, pacer.platform.capacity) == (8.0, 1.0)
    await pacer.acquire("a")
    start = clock()
    for name in "bcd":
        await pacer.acquire(name)
    assert clock() - start == pytest.approx(3 / 8)  # 8 a second: this replica's quarter
    pacer.share(0)  # nonsense counts as alone, never a division by zero
    assert pacer.platform.rate == 32.0
    assert pacer.channel("a").rate == 64.0  # channels are not divided: one replica posts to each


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
