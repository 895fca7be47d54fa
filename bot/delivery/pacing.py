"""Token buckets: stay under a platform's published rate limits instead of provoking 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up; `acquire` waits for one.

    A server's 429 can `hold` the bucket for its retry-after, so every caller waits, not just the
    one that was refused. `set_rate` changes the rate while it runs (replicas re-dividing a
    platform's limit), keeping the tokens saved and any hold.
    """

    def __init__(
        self,
        rate: float,
        capacity: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        _check(rate, capacity)
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._stamp = clock()
        self._held_until = 0.0
        self._lock = asyncio.Lock()

    def set_rate(self, rate: float, capacity: float | None = None) -> None:
        """From now on `rate` tokens a second (and at most `capacity`, if given); what was
        earned at the old rate is kept (up to the capacity), and a hold still holds."""
        capacity = self.capacity if capacity is None else capacity
        _check(rate, capacity)
        self._refill(max(self._stamp, self._clock()))
        self.rate = rate
        self.capacity = capacity
        self._tokens = min(self._tokens, capacity)

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait until a token is free, and take it; callers are served in arrival order."""
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._held_until:
                    await self._sleep(self._held_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self.rate)

    def delay(self) -> float:
        """Seconds until a token would be free, without taking one."""
        now = self._clock()
        if now < self._held_until:
            return self._held_until - now + max(0.0, 1 - self._tokens) / self.rate
        tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def hold(self, seconds: float) -> None:
        """Let nobody through for `seconds` (a server said to wait)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
        self._tokens = 0.0


def _check(rate: float, capacity: float) -> None:
    if rate <= 0 or capacity < 1:
        raise ValueError("a token bucket needs a rate above 0 and a capacity of at least 1")


def burst(rate: float) -> float:
    """A platform bucket's capacity: a tenth of a second's worth (at least one token), so a late
    wake-up is caught up, not lost for good."""
    return max(1.0, rate / 10)


class Pacer:
    """One bucket per platform and one per channel, created on first use.

    `global_rate` is the platform's limit for the whole deployment; with several replicas each
    paces at its `share` of it.
    """

    def __init__(
        self,
        global_rate: float,
        channel_rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.global_rate = global_rate
        self.platform = TokenBucket(global_rate, burst(global_rate), clock, sleep)
        self.channel_rate = channel_rate
        self._clock = clock
        self._sleep = sleep
        self._channels: dict[object, TokenBucket] = {}

    def share(self, replicas: int) -> None:
        """Pace the platform at its limit divided among `replicas` live replicas (at least 1)."""
        rate = self.global_rate / max(1, replicas)
        self.platform.set_rate(rate, burst(rate))

    def channel(self, key: object) -> TokenBucket:
        bucket = self._channels.get(key)
        if bucket is None:
            bucket = self._channels[key] = TokenBucket(
                self.channel_rate, 1.0, self._clock, self._sleep
            )
        return bucket

    async def acquire(self, key: object) -> None:
        """Wait for the channel's turn, then the platform's."""
        await self.channel(key).acquire()
        await self.platform.acquire()
