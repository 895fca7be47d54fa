"""URL sources in the running bot: one scheduler job per source (an interval, or a cron
expression in its time zone), run only where the scheduler runs (on replicas, the leader); after a
fetch that imported figures the poll runs at once, and a source failing `[ops] alert_after` times
in a row is told once to the ops channel, and its recovery once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain.fetching import FetchState, Sleep, UrlSettings, alert_due
from bot.domain.messages import Message
from bot.domain.settings import Config
from bot.ingest.remote import IMPORTED, FetchOutcome, fetch_source, url_sources
from bot.ports.chat import ChatAdapter
from bot.ports.store import BotStore

log = logging.getLogger("evbot.sources")


def refresh_trigger(settings: UrlSettings) -> BaseTrigger:
    """When a source is fetched: every `refresh` seconds, or at its cron times in its zone."""
    seconds = settings.every_seconds
    if seconds is not None:
        return IntervalTrigger(seconds=seconds)
    return CronTrigger.from_crontab(settings.refresh, timezone=ZoneInfo(settings.timezone))


class FetchHost(Protocol):
    """What the fetch jobs need of the app (`bot.app.runtime.App`)."""

    config: Config
    store: BotStore
    adapters: dict[str, ChatAdapter]
    scheduler: AsyncIOScheduler
    clock: Callable[[], float]

    async def poll(self) -> int:
        """Detect news now."""
        ...


class UrlSourceJobs:
    """The fetch jobs of one app, and what each last did (for /healthz)."""

    def __init__(
        self, app: FetchHost, environ: Mapping[str, str] | None = None, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.app = app
        self.environ = environ
        self.sleep = sleep
        self.fetches = 0
        self.fetched = asyncio.Event()  # set after each fetch, for whoever waits for one
        self._lock = asyncio.Lock()  # one fetch at a time: each ends in a poll

    def schedule(self) -> None:
        """One job per URL source; each fetches at start too (a conditional GET is cheap)."""
        for name, settings in url_sources(self.app.config).items():
            self.app.scheduler.add_job(
                self.fetch,
                refresh_trigger(settings),
                args=[name],
                id=f"fetch-{name}",
                replace_existing=True,
                next_run_time=datetime.now(UTC),
            )

    async def fetch(self, name: str) -> FetchOutcome:
        """Fetch one source now; poll at once when it imported figures; tell ops if due."""
        async with self._lock:
            outcome = await fetch_source(
                self.app.store,
                self.app.config,
                name,
                environ=self.environ,
                clock=self.app.clock,
                sleep=self.sleep,
            )
            self.fetches += 1
            self.fetched.set()
            if outcome.status == IMPORTED:
                log.info("source %s: %s", name, outcome.detail)
                await self.app.poll()
            await self._tell_ops(outcome.after)
            return outcome

    async def _tell_ops(self, state: FetchState) -> None:
        ops = self.app.config.ops
        due = alert_due(state, ops.alert_after)
        if due is None:
            return
        if due == "failing":
            message = Message(
                title=f"Source {state.source} is failing",
                body=f"{state.failures} fetches in a row failed. The last: {state.error}",
                accent="error",
                kind="error",
            )
        else:
            message = Message(
                title=f"Source {state.source} has recovered",
                body=f"Fetched again ({state.status}) after failing.",
                accent="info",
            )
        channel = ops.channel
        adapter = self.app.adapters.get(channel.platform) if channel is not None else None
        if channel is None or adapter is None:
            (log.warning if due == "failing" else log.info)("%s: %s", message.title, message.body)
        else:
            key = f"ops:{state.source}:{due}:{state.last_fetch_at}"
            try:
                await adapter.post(channel, message, key)
            except Exception:  # the ops channel itself may be away: say so, tell it next time
                log.exception("could not tell %s that %s", channel.safe(), message.title)
                return
        state.alerted = due == "failing"
        await self.app.store.save_fetch_state(state)
