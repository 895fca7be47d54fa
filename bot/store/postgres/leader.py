"""Which replica polls (the one holding a PostgreSQL session advisory lock), and each one's
share of a platform's rate limit.

Every replica serves commands and delivers; only the leader runs the scheduled jobs (poll, source
watch, digests). Each replica keeps one dedicated connection and tries
`pg_try_advisory_lock` on it every `retry_seconds`; the winner holds the lock for as long as
that session lives. When the leader dies its connection goes, PostgreSQL frees the lock, and the
next follower to try takes over. APScheduler 3 cannot share a job store between processes, so
this, not the scheduler, decides who runs jobs (platform-facts section 4.3); the outbox and the
detection watermark stay the guard against doing anything twice.

`RateShare` makes a platform's rate limit one for the whole deployment: each replica paces at
the configured rate divided by the live replicas, counted from PostgreSQL's sessions (a shared
advisory lock per replica, `bot/store/postgres/base.py`) rather than from a heartbeat table: a
replica is
counted exactly while its session lives, so one that dies stops counting the moment its
connection closes, there is no table to write every second or clean up after a crash, and no
clocks to compare. It is counted again every `interval` and at once when a replica joins or
leaves (NOTIFY). A replica that hangs with its session open keeps its share unused: the
deployment then posts below the limit, never above it. The same session's LISTEN wakes the
worker when any replica queues deliveries, so a fan-out starts everywhere at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from bot.ports.store import StoreError
from bot.store.postgres.base import connect, safe_dsn

log = logging.getLogger("evbot.leader")

LEADER_CLASS = 0x45564205  # two-int advisory lock: (class, hash of the schema)
RETRY_SECONDS = 2.0
CHECK_TIMEOUT = 5.0

Listener = Callable[[bool], Awaitable[None]]


class Leadership:
    """Runs for as long as the app does; tells `on_change` when this replica gains or loses the
    lead. The lock is per database and schema, so deployments sharing a server do not clash."""

    def __init__(
        self,
        dsn: str,
        on_change: Listener | None = None,
        *,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dsn = dsn
        self.on_change = on_change
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.is_leader = False
        self.since: float | None = None  # when this replica last became leader
        self.terms = 0  # how many times it did
        self._con: asyncpg.Connection | None = None

    @property
    def role(self) -> str:
        """ "leader" or "follower", for /healthz and logs."""
        return "leader" if self.is_leader else "follower"

    async def run(self, stopping: asyncio.Event) -> None:
        """Try for the lead until `stopping`; hold it while the session lasts."""
        try:
            while not stopping.is_set():
                try:
                    await self._session(stopping)
                except (
                    OSError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                    StoreError,
                    TimeoutError,
                ) as exc:
                    log.warning("leader election on %s: %s", safe_dsn(self.dsn), exc)
                await self._step_down()
                await _sleep(stopping, self.retry_seconds)
        finally:
            await self._step_down()

    async def _session(self, stopping: asyncio.Event) -> None:
        """One connection: try for the lock until it is ours, then check it stays alive."""
        self._con = con = await connect(self.dsn)
        try:
            while not stopping.is_set():
                got = await asyncio.wait_for(
                    con.fetchval(
                        "SELECT pg_try_advisory_lock($1, hashtext(current_database() || '.' "
                        "|| current_schema()))",
                        LEADER_CLASS,
                    ),
                    CHECK_TIMEOUT,
                )
                if got:
                    await self._step_up()
                    while not stopping.is_set():
                        await _sleep(stopping, self.retry_seconds)
                        # a broken session has lost the lock: stop leading at once
                        await asyncio.wait_for(con.fetchval("SELECT 1"), CHECK_TIMEOUT)
                    return
                await _sleep(stopping, self.retry_seconds)
        finally:
            self._con = None
            con.terminate()  # never wait on a session that may be broken

    async def _step_up(self) -> None:
        self.is_leader = True
        self.since = self.clock()
        self.terms += 1
        log.info("this replica leads: it runs the poll and the scheduled jobs")
        await self._tell(True)

    async def _step_down(self) -> None:
        if not self.is_leader:
            return
        self.is_leader = False
        log.info("this replica no longer leads")
        await self._tell(False)

    async def _tell(self, leading: bool) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change(leading)
        except Exception:  # a listener's bug must not end the election (or keep a dead lead)
            log.exception("leadership listener failed")


async def _sleep(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
