"""Replicas share each platform's rate limit: each paces at the configured rate divided by the
number of live replicas, counted by the store (`ReplicaRegistry`), and is woken when any replica
queues deliveries (PostgreSQL NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import asyncpg

from bot.delivery.pacing import Pacer
from bot.ports.store import StoreError

log = logging.getLogger("evbot.leader")

CHECK_TIMEOUT = 5.0
COUNT_SECONDS = 1.0  # how often a replica counts the live ones (a death is seen within this)
FALLBACK_POLL_SECONDS = 5.0  # the worker's idle look, when NOTIFY tells it of new deliveries


@runtime_checkable
class ReplicaRegistry(Protocol):
    """The store's side of `RateShare` (`PgBase.join_replicas`, `PgBase.live_replicas`)."""

    async def join_replicas(
        self, on_deliveries: Callable[[], None], on_replicas: Callable[[], None]
    ) -> None: ...

    async def live_replicas(self) -> int: ...


class RateShare:
    """Keeps `pacers` at their share of each platform's limit, and wakes the worker on NOTIFY."""

    def __init__(
        self,
        registry: ReplicaRegistry,
        pacers: Mapping[str, Pacer],
        wake: Callable[[], None],
        *,
        interval: float = COUNT_SECONDS,
    ) -> None:
        self.registry = registry
        self.pacers = pacers
        self.wake = wake
        self.interval = interval
        self.replicas = 0  # as last counted; 0 before joining
        self._changed = asyncio.Event()

    async def join(self) -> None:
        """Join before the worker posts anything, and take this replica's share."""
        await self.registry.join_replicas(self.wake, self._changed.set)
        await self._recount()
        if self.replicas > 1:
            # the others hear of us at once (NOTIFY), and count again within `interval` in
            # any case: until then their shares and ours would add up to more than the limit
            for pacer in self.pacers.values():
                pacer.platform.hold(self.interval)

    async def run(self, stopping: asyncio.Event) -> None:
        """Count again every `interval`, or at once when a replica joins or leaves."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stopping, self._changed), self.interval)
            if stopping.is_set():
                return
            self._changed.clear()
            try:
                await self._recount()
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                StoreError,
                TimeoutError,
            ) as exc:
                # the shares stay as they were until a count succeeds (the store opens a lost
                # session again, so this replica is counted again)
                log.warning("counting the live replicas failed: %s", exc)

    async def _recount(self) -> None:
        live = await asyncio.wait_for(self.registry.live_replicas(), CHECK_TIMEOUT)
        if live == self.replicas:
            return
        self.replicas = live
        for pacer in self.pacers.values():
            pacer.share(live)
        log.info(
            "%d live replica%s: this one paces %s",
            live,
            "" if live == 1 else "s",
            ", ".join(f"{name} at {p.platform.rate:g}/s" for name, p in self.pacers.items()),
        )


async def _first(*events: asyncio.Event) -> None:
    """Until any of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
