"""Token buckets: stay under a platform's published rate limits instead of provoking 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up; `acquire` waits for one.

    A server's 429 can `hold` the bucket for its retry-after, so every caller waits, not just the
    one that was refused.
    """

    def __init__(
        self,
        rate: float,
        capacity: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a rate above 0 and a capacity of at least 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._stamp = clock()
        self._held_until = 0.0
        self._lock = asyncio.Lock()

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


class Pacer:
    """One bucket per platform and one per channel, created on first use."""

    def __init__(
        self,
        global_rate: float,
        channel_rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # a tenth of a second's worth of burst: a late wake-up is caught up, not lost for good
        self.platform = TokenBucket(global_rate, max(1.0, global_rate / 10), clock, sleep)
        self.channel_rate = channel_rate
        self._clock = clock
        self._sleep = sleep
        self._channels: dict[object, TokenBucket] = {}

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
