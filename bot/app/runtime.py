"""The running bot: its store, detector, scheduler, delivery worker and adapters, run together
(built by `bot.app.bootstrap`).

The scheduler (APScheduler 3.11, `AsyncIOScheduler`) runs the poll, the digests and the source
watch. The delivery worker is a task the app owns, not a scheduler job: APScheduler's shutdown
cancels running coroutine jobs, and a post must be allowed to finish.

Replicas on PostgreSQL: given a `Leadership`, the scheduler starts paused and runs only while
this replica holds the leader lock (`bot/store/postgres/leader.py`); every replica serves commands
and
delivers, and every few seconds settles the deliveries that dead replicas left in flight. Each
paces at its share of every platform's limit, divided among the live replicas, and is woken by
NOTIFY when any replica queues deliveries (`RateShare`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from adapters.registry import PLATFORMS
from bot.app.fetching import UrlSourceJobs
from bot.commands.context import CommandContext
from bot.commands.types import CommandHost
from bot.delivery.rate_share import FALLBACK_POLL_SECONDS, RateShare
from bot.delivery.retry_warnings import duration
from bot.delivery.worker import DeliveryWorker
from bot.detection.detector import Detector
from bot.domain.records import ImportFailed
from bot.domain.settings import Config
from bot.domain.subscriptions import Subscription, waiting_reason
from bot.ingest.importer import import_file
from bot.ports.chat import ChatAdapter
from bot.ports.store import BotStore, StoreError
from bot.store.postgres.leader import Leadership

log = logging.getLogger("evbot.app")

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
SOURCE_CHECK_SECONDS = 60.0
CLOSING_SHARE = 0.8  # of the stop's deadline, for the work under way; the rest for closing
ORPHAN_CHECK_SECONDS = 2.0  # replicas: how often to look for deliveries a dead replica left


def digest_trigger(sub: Subscription) -> CronTrigger:
    """When a subscription's digest goes out, in its own time zone; instant subscriptions get a
    weekly digest of the kinds they did not ask to hear at once."""
    hour, minute = (int(x) for x in sub.spec.digest_at.split(":"))
    zone = ZoneInfo(sub.spec.timezone)
    mode = sub.spec.mode
    if mode == "daily":
        return CronTrigger(hour=hour, minute=minute, timezone=zone)
    if mode == "monthly":
        return CronTrigger(day=1, hour=hour, minute=minute, timezone=zone)
    return CronTrigger(day_of_week="mon", hour=hour, minute=minute, timezone=zone)


class App:
    """Starts and stops everything; `poll`, `run_digest` and `check_sources` are its jobs."""

    def __init__(
        self,
        config: Config,
        store: BotStore,
        adapters: dict[str, ChatAdapter],
        *,
        detector: Detector,
        worker: DeliveryWorker,
        commands: Callable[[], Awaitable[CommandContext]],
        clock: Callable[[], float] = time.time,
        leadership: Leadership | None = None,
        rate_share: RateShare | None = None,
    ) -> None:
        """Built by `bot.app.bootstrap.build_app`; `adapters` is the worker's mapping too, and
        `commands` opens the command context when an adapter serves commands."""
        self.config = config
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.detector = detector
        self.worker = worker
        self._open_commands = commands
        self.scheduler = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
        self.stopping = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._host_tasks: list[asyncio.Task[None]] = []
        self.commands: CommandContext | None = None
        self.command_observers: list[Callable[[float], None]] = []  # each command's seconds
        self._source_mtimes: dict[str, float] = {}
        self._digest_settings: dict[str, tuple[str, str, str]] = {}
        self.leadership = leadership
        if leadership is not None:
            leadership.on_change = self._leadership_changed
        self._replica_tasks: list[asyncio.Task[None]] = []
        self.rate_share = rate_share
        self.polls = 0
        self.last_poll_at: float | None = None  # when a poll last finished, here
        self.url_sources = UrlSourceJobs(self)  # sources fetched from URLs (issue 20)

    async def start(self, poll: bool = True) -> None:
        """Open the store, reconcile, start the worker and the scheduled jobs."""
        await self.store.open()
        await self.store.sync_groups(self.config.groups)
        await self.log_start()
        if self.rate_share is not None:
            await self.rate_share.join()  # this replica's share, before its first post
            self.worker.idle_poll = FALLBACK_POLL_SECONDS  # NOTIFY wakes it; this is a backstop
        self._worker_task = asyncio.create_task(self.worker.run(self.stopping))
        if poll:
            self.scheduler.add_job(
                self.poll,
                IntervalTrigger(seconds=self.config.poll_seconds),
                id="poll",
                replace_existing=True,
            )
            self.scheduler.add_job(
                self.check_sources,
                IntervalTrigger(seconds=SOURCE_CHECK_SECONDS),
                id="sources",
                replace_existing=True,
            )
            await self._remember_sources()
            self.url_sources.schedule()
        await self.schedule_digests()
        # a replica's jobs wait for the lead; a lone bot's run at once
        self.scheduler.start(paused=self.leadership is not None)
        await self._serve_commands()
        if self.leadership is not None:
            self._replica_tasks = [
                asyncio.create_task(self.leadership.run(self.stopping)),
                asyncio.create_task(self._settle_orphans()),
            ]
            if self.rate_share is not None:
                self._replica_tasks.append(asyncio.create_task(self.rate_share.run(self.stopping)))
        elif poll:
            await self.poll()  # catch up at once rather than after a whole interval

    async def log_start(self) -> None:
        """Say at start which platforms this bot serves and how, and which deliveries it
        cannot send (a platform not enabled, or unknown), so that none wait unseen."""
        log.info(
            "starting: %s; polling every %g s",
            ", ".join(f"{n} ({platform_mode(n, a)})" for n, a in sorted(self.adapters.items())),
            self.config.poll_seconds,
        )
        for name, pending in (await self.store.pending_by_platform()).items():
            reason = waiting_reason(name, self.adapters, PLATFORMS)
            age = duration(self.clock() - pending.oldest_created_at)
            what = f"{pending.count} {'delivery' if pending.count == 1 else 'deliveries'}"
            if reason is None:
                log.info("%s to %s pending (oldest %s)", what, name, age)
            else:
                log.warning("%s to %s cannot go out (oldest %s): %s", what, name, age, reason)

    async def _leadership_changed(self, leading: bool) -> None:
        """Run the jobs only while leading; a new leader polls and fetches the URL sources at
        once (catching up; their fetch state is in the store)."""
        if not self.scheduler.running or self.stopping.is_set():
            return
        if not leading:
            self.scheduler.pause()
            return
        self.scheduler.resume()
        for job in self.scheduler.get_jobs():  # the poll, and the URL sources' fetches
            if job.id == "poll" or job.id.startswith("fetch-"):
                job.modify(next_run_time=datetime.now(UTC))

    async def _settle_orphans(self) -> None:
        """Replicas: settle what dead replicas left in flight (the store hands each such
        delivery to one replica only), as a restart settles its own."""
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), ORPHAN_CHECK_SECONDS)
            if self.stopping.is_set():
                return
            try:
                await self.worker.reconcile()
            except Exception:  # the database may be briefly away: try again next round
                log.exception("settling deliveries left in flight failed")
                continue
            # what was settled is due again: look now, not at the worker's idle backstop
            self.worker.wake()

    async def _serve_commands(self) -> None:
        hosts = [a for a in self.adapters.values() if isinstance(a, CommandHost)]
        if not hosts:
            return
        self.commands = await self._open_commands()
        self.commands.latency_observers = self.command_observers  # shared: added to later too
        # the names are built before a platform can send the first keystroke (seconds at ten
        # thousand models), while the rest of the bot starts
        names = asyncio.ensure_future(self.commands.prepare_names())
        for host in hosts:
            self._host_tasks.append(asyncio.create_task(self._serve(host, names)))

    async def _serve(self, host: CommandHost, names: Awaitable[object]) -> None:
        await names
        assert self.commands is not None
        await host.serve(self.commands, self.stopping)

    async def schedule_digests(self) -> None:
        """One digest job per subscription, replaced when subscriptions change."""
        wanted = {f"digest-{s.id}": s for s in await self.store.subscriptions() if s.active}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest-") and job.id not in wanted:
                job.remove()
                self._digest_settings.pop(job.id, None)
        for job_id, sub in wanted.items():
            settings = (sub.spec.mode, sub.spec.digest_at, sub.spec.timezone)
            if self._digest_settings.get(job_id) == settings:
                continue  # unchanged: keep its schedule
            self._digest_settings[job_id] = settings
            self.scheduler.add_job(
                self.run_digest,
                digest_trigger(sub),
                args=[sub.id],
                id=job_id,
                replace_existing=True,
            )

    async def poll(self) -> int:
        """Detect news; the detection fans it out to the outbox. Returns the new events."""
        if self.scheduler.running:
            await self.schedule_digests()  # subscriptions made since the last poll get theirs
        poll_id = self.polls + 1
        try:
            stored = await self.detector.poll()
        except StoreError as exc:  # e.g. another detector moved the watermark: next poll
            log.warning("poll skipped: %s", exc, extra={"poll_id": poll_id})
            return 0
        log.debug("poll %d: %d new events", poll_id, len(stored), extra={"poll_id": poll_id})
        self.polls += 1
        self.last_poll_at = self.clock()
        if stored:
            self.worker.wake()
        return len(stored)

    async def run_digest(self, sub_id: int, label: str | None = None) -> bool:
        """Send a subscription's digest now, if it has anything (empty digests are skipped)."""
        delivery = await self.store.take_digest(sub_id, self.clock(), label)
        if delivery is not None:
            self.worker.wake()
        return delivery is not None

    async def _remember_sources(self) -> None:
        for name, source in self.config.sources.items():
            if source.file:
                self._source_mtimes[name] = await asyncio.to_thread(_mtime, source.file)

    async def check_sources(self) -> list[str]:
        """Re-import configured sources whose file changed; returns their names."""
        changed = []
        for name, source in self.config.sources.items():
            if not source.file:
                continue
            mtime = await asyncio.to_thread(_mtime, source.file)
            if mtime == self._source_mtimes.get(name) or mtime == 0.0:
                continue
            self._source_mtimes[name] = mtime
            try:
                await import_file(self.store, self.config, None, source=name)
            except ImportFailed as exc:
                log.error(
                    "source %s changed but cannot be imported:\n%s",
                    name,
                    exc,
                    extra={"source": name},
                )
                continue
            changed.append(name)
        if changed:
            await self.poll()
        return changed

    async def stop(self, grace: float | None = None) -> None:
        """Stop within one deadline (`grace`, else `[delivery] stop_grace_seconds`): no new
        poll or claim, deliveries claimed but not started back to the queue, posts under way
        and commands received let finish, then the platforms' connections and the store
        closed. What is still under way at the deadline is stopped; a post then left in flight
        is settled on the next start, as after a crash."""
        loop = asyncio.get_running_loop()
        grace = self.config.stop_grace_seconds if grace is None else grace
        deadline = loop.time() + grace

        def left() -> float:
            return max(0.0, deadline - loop.time())

        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.stopping.set()
        tasks = [*self._replica_tasks, *self._host_tasks]
        if self._worker_task is not None:
            tasks.append(self._worker_task)
        if tasks:
            # a share of the deadline is kept for closing the connections and the store
            _, pending = await asyncio.wait(tasks, timeout=left() * CLOSING_SHARE)
            if pending:
                log.warning("still under way after %.1f s; stopping it", grace - left())
                await self.worker.abandon()
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=max(left(), 0.5))
        for name, adapter in self.adapters.items():
            close = getattr(adapter, "close", None)
            if close is None:
                continue
            try:
                await asyncio.wait_for(close(), max(left(), 0.5))
            except TimeoutError:
                log.warning("%s: its connection did not close in time", name)
        await self.store.close()

    def catch_signals(self) -> None:
        """From now on SIGINT and SIGTERM stop the app cleanly (`serve_forever` does it too;
        `evbot run` does it before saying it runs, so that a signal sent then is not lost)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)

    async def serve_forever(self) -> None:
        """Run until SIGINT or SIGTERM, then stop cleanly."""
        loop = asyncio.get_running_loop()
        self.catch_signals()
        try:
            await self.stopping.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.stop()


def platform_mode(name: str, adapter: object) -> str:
    """How an adapter reaches its platform, for the start-up log, read from its settings where
    it has them. (The adapter registry of a later version lets each adapter say it.)"""
    settings = getattr(adapter, "settings", None)
    if name == "discord":
        shards = getattr(settings, "shard_count", None)
        return f"gateway, {shards} shards" if shards else "gateway"
    if name == "slack":
        if getattr(settings, "mode", "socket") != "http":
            return "Socket Mode"
        port = getattr(settings, "port", None)
        where = "any free port" if port == 0 else f"port {port}"
        return f"HTTP on {getattr(settings, 'host', '?')}, {where}"
    if name == "matrix":
        return f"client-server API at {getattr(settings, 'homeserver', '?')}, /sync"
    if name == "webhook":
        return "HTTP posts to each subscribed URL"
    if name in ("discord_webhook", "slack_webhook", "teams"):
        hooks = getattr(settings, "urls", {})
        return f"webhooks, {len(hooks)} configured ([webhooks.NAME])"
    if name == "console":
        return "this terminal"
    return "its own connection"


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0
