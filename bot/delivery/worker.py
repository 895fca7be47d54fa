"""The delivery worker: posts what the outbox holds, paced, retried, and never twice.

Each delivery is marked in flight (committed) before it is posted. A delivery is its whole
message, done in steps (`bot.domain.delivery_steps`): a correction's edits of the messages it
corrects,
the post, then what the platform takes after the post (Slack: the chart in the post's thread).
Each step is recorded as soon as it is done, and the delivery is posted when all are done (or
settled as impossible). On start, in-flight deliveries are reconciled first: the adapter is
asked whether the platform already has the post (by the delivery's idempotency key) and its
follow-up; what it has is recorded, what is missing is done by the worker (a post again under
the same key, which deduplicating platforms answer with the first message).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

from bot.delivery.pacing import Pacer
from bot.delivery.rendering import MilestoneCharts, Renderer, charted
from bot.delivery.retry_warnings import RetryWarnings
from bot.delivery.steps import MAX_ATTEMPTS, DeliverySteps, WorkerStats
from bot.domain.channels import TIMEOUT, UNKNOWN, Channel, DeliveryFailure
from bot.domain.deliveries import DeliveryRow
from bot.domain.delivery_steps import CHART, POST
from bot.domain.ladders import Ladder
from bot.domain.messages import Message
from bot.domain.subscriptions import Subscription
from bot.ports.chat import ChatAdapter, FollowupPoster
from bot.ports.store import BotStore

log = logging.getLogger("evbot.outbox")

BACKOFF_BASE = 2.0  # seconds before the first retry
BACKOFF_CAP = 900.0
POST_TIMEOUT = 30.0
CHANNEL_WAIT_IN_SLOT = 0.25  # longer channel waits give the slot back
IDLE_POLL_SECONDS = 1.0  # the longest idle wait when nothing tells the worker of new deliveries


def fields(row: DeliveryRow) -> dict[str, object]:
    """A delivery's fields for a log record (JSON logs carry them as their own keys)."""
    return {"delivery_id": row.id, "platform": row.channel.platform, "channel": row.channel.safe()}


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: exponential, capped, with jitter so retries spread out."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    draw: float = (rng or random.Random()).random()
    return ceiling * (0.5 + 0.5 * draw)


class DeliveryWorker:
    """A long-running task owned by the app (not a scheduler job: those get cancelled)."""

    # set by the app: warns once about a delivery still retried after the configured time
    retry_warnings: RetryWarnings | None = None

    def __init__(
        self,
        store: BotStore,
        adapters: Mapping[str, ChatAdapter],
        ladders: Mapping[str, Ladder],
        *,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
        post_timeout: float = POST_TIMEOUT,
        rng: random.Random | None = None,
        charts: MilestoneCharts | None = None,
        following: Callable[[Subscription], Awaitable[Message]] | None = None,
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.concurrency = concurrency
        self.clock = clock
        self.post_timeout = post_timeout
        self.rng = rng or random.Random()
        self.stats = WorkerStats()
        self.renderer = Renderer(store, self.adapters, ladders, charts, following)
        self.steps = DeliverySteps(store, self.renderer, self.stats, clock, post_timeout)
        self.pacers = {
            name: Pacer(a.limits.global_per_second, a.limits.channel_per_second)
            for name, a in self.adapters.items()
        }
        self._wake = asyncio.Event()
        # longer when the store tells every replica of new deliveries (PostgreSQL NOTIFY)
        self.idle_poll = IDLE_POLL_SECONDS
        self._channel_locks: dict[Channel, asyncio.Lock] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._stop: asyncio.Event | None = None  # set by `run`: a stop releases unstarted work

    def wake(self) -> None:
        """New deliveries were queued: look now rather than at the next due time."""
        self._wake.set()

    async def reconcile(self) -> None:
        """Settle deliveries a crash left in flight, before anything is posted again: record
        what the platform already has (the post, its follow-up); what is missing goes back to
        the queue, where the worker completes it."""
        for row in await self.store.inflight(list(self.adapters)):
            adapter = self.adapters[row.channel.platform]
            if row.done(POST) and row.message_id is not None:
                await self._reconcile_followups(row, adapter, row.message_id)
                continue
            try:
                found = await adapter.find_posted(row.channel, row.key, since=row.claimed_at)
            except DeliveryFailure as exc:
                log.warning(
                    "delivery %s to %s: cannot check whether it was posted (%s); posting it "
                    "again may duplicate it",
                    row.id,
                    row.channel.safe(),
                    exc,
                    extra=fields(row),
                )
                found = None
            if found is not None:
                await self._reconcile_followups(row, adapter, found)
            else:
                await self.store.release(row.id)

    async def _reconcile_followups(
        self, row: DeliveryRow, adapter: ChatAdapter, message_id: str
    ) -> None:
        """A delivery whose post is there: posted if its follow-up is there too (recorded when
        found), else back to the queue, its post recorded, to send the follow-up alone."""
        if self.steps.needs_followup(row, adapter, charted(row)):
            assert isinstance(adapter, FollowupPoster)
            if not row.done(POST):
                await self.store.mark_step(row.id, POST, message_id)
            try:
                found = await adapter.find_followup(row.channel, message_id, row.key)
            except DeliveryFailure as exc:
                log.warning("delivery %s: cannot check for its chart: %s", row.id, exc)
                found = None
            if found is None:
                log.info("delivery %s: posted without its chart: sending the chart", row.id)
                await self.store.release(row.id)
                return
            await self.store.mark_step(row.id, CHART)
        await self.store.mark_posted(row.id, message_id, self.clock())
        self.stats.reconciled += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then let posts under way finish (bounded by their
        timeout) and return."""
        self._stop = stop
        await self.reconcile()
        slots = asyncio.Semaphore(self.concurrency)
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - len(self._running)
            rows = (
                await self.store.claim_due(self.clock(), free, list(self.adapters)) if free else []
            )
            for row in rows:
                await slots.acquire()
                task = asyncio.create_task(self._deliver_in_slot(row, slots))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            if len(rows) == free and free:
                await asyncio.sleep(0)  # a full batch: there may be more due right away
                continue
            await self._wait(stop)
        if self._running:
            await asyncio.wait(set(self._running), timeout=self.post_timeout + 1)

    async def abandon(self) -> None:
        """Stop the posts still under way (the stop's deadline has passed): each stays in
        flight, and the next start settles it as after a crash."""
        running = set(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until a slot frees, new work is queued, something falls due, or `stop`."""
        free = self.concurrency - len(self._running)
        delay = self.idle_poll
        if free > 0:
            due = await self.store.next_due()
            if due is not None:
                delay = min(self.idle_poll, due - self.clock())
                if delay <= 0:
                    # due, but its channel has a post under way: that post's end wakes us
                    delay = 1.0 if self._running else 0.25
        waiters: set[asyncio.Future[object]] = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        }
        try:
            # a finished post frees a slot and may unblock its channel
            await asyncio.wait(
                waiters | set(self._running), timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waiters:
                w.cancel()

    async def drain(self, limit_seconds: float = 60.0) -> None:
        """Deliver everything due now and return (for the demo, the CLI and tests)."""
        await self.reconcile()
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            rows = await self.store.claim_due(self.clock(), self.concurrency, list(self.adapters))
            if not rows:
                return
            await asyncio.gather(*(self.deliver(row) for row in rows))

    async def _deliver_in_slot(self, row: DeliveryRow, slots: asyncio.Semaphore) -> None:
        try:
            await self.deliver(row)
        except Exception:  # one bad delivery must never stop the worker
            log.exception("delivery %s failed unexpectedly", row.id, extra=fields(row))
        finally:
            slots.release()

    async def deliver(self, row: DeliveryRow) -> None:
        """Do what is missing of one claimed delivery (a correction's edits, the post, its
        follow-up), recording each step, and record the outcome."""
        lock = self._channel_locks.setdefault(row.channel, asyncio.Lock())
        async with lock:
            if self._stopping():  # claimed, not started: back to the queue for the next start
                await self.store.release(row.id)
                return
            found = await self.renderer.rendered_with_chart(row)
            if found is None:
                await self.store.mark_cancelled(row.id, "no longer subscribed")
                self.stats.cancelled += 1
                return
            message, with_chart = found
            adapter = self.adapters[row.channel.platform]
            pacer = self.pacers[row.channel.platform]
            wait = pacer.channel(row.channel).delay()
            if wait > CHANNEL_WAIT_IN_SLOT:
                # the channel must wait: give the slot to another channel meanwhile
                await self.store.release(row.id, self.clock() + wait)
                return
            if not await self._paced(pacer, row.channel):
                await self.store.release(row.id)  # stopping while it waited for its turn
                return
            try:
                if row.kind == "correction" and not row.done(POST):
                    after = await self.steps.edit_originals(row, adapter)
                    if after is not None:
                        # an original is still to be posted: the correction goes after it
                        await self.store.release(row.id, after)
                        return
                message_id = await self.steps.post(row, message, adapter, with_chart)
                await self.steps.followups(row, message, adapter, message_id, with_chart)
            except DeliveryFailure as exc:
                await self._failed(row, exc, pacer)
                return
            except TimeoutError:
                await self._failed(row, DeliveryFailure(TIMEOUT, permanent=False), pacer)
                return
            except Exception as exc:  # an adapter bug: retry later, and say what happened
                log.exception("delivery %s: adapter error", row.id, extra=fields(row))
                failure = DeliveryFailure(UNKNOWN, permanent=False, detail=type(exc).__name__)
                await self._failed(row, failure, pacer)
                return
            await self.store.mark_posted(row.id, message_id, self.clock())
            self.stats.posted += 1

    async def _paced(self, pacer: Pacer, channel: Channel) -> bool:
        """Wait for the channel's turn under the platform's pace; False when the worker is told
        to stop first (nothing of the delivery has started)."""
        if self._stop is None:
            await pacer.acquire(channel)
            return True
        turn = asyncio.ensure_future(pacer.acquire(channel))
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({turn, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if turn.done():
            turn.result()
            return True
        turn.cancel()
        return False

    async def _failed(self, row: DeliveryRow, exc: DeliveryFailure, pacer: Pacer) -> None:
        if exc.retry_after is not None:
            bucket = pacer.platform if exc.global_limit else pacer.channel(row.channel)
            bucket.hold(exc.retry_after)
            if not exc.global_limit:
                await self.store.defer_channel(row.channel, self.clock() + exc.retry_after)
        if exc.permanent or row.attempts >= MAX_ATTEMPTS:
            reason = exc.reason if exc.permanent else f"gave_up_{exc.reason}"
            paused = await self.store.mark_failed(row, reason, exc.detail or str(exc))
            self.stats.failed += 1
            if self.retry_warnings is not None:
                self.retry_warnings.settled(row.id)
            log.warning(
                "delivery %s to %s failed (%s)%s",
                row.id,
                row.channel.safe(),
                reason,
                "; the channel's subscriptions are paused" if paused else "",
                extra=fields(row),
            )
            return
        wait = backoff(row.attempts, self.rng)
        if exc.retry_after is not None:
            wait = max(exc.retry_after, 0.0) + self.rng.random() * 0.1
        await self.store.mark_retry(row.id, self.clock() + wait, exc.reason, exc.detail or str(exc))
        self.stats.retried += 1
        if self.retry_warnings is not None:
            self.retry_warnings.retrying(row, exc, self.clock(), wait)

    async def rendered(self, row: DeliveryRow) -> Message | None:
        """The message a delivery sends (`Renderer.rendered`)."""
        return await self.renderer.rendered(row)

    async def compose(self, row: DeliveryRow) -> Message | None:
        """The message a delivery stands for, as its subscriptions now want it
        (`Renderer.compose`)."""
        return await self.renderer.compose(row)

    async def edit_originals(self, row: DeliveryRow, adapter: ChatAdapter) -> float | None:
        """A correction's edits of the messages it corrects (`DeliverySteps.edit_originals`)."""
        return await self.steps.edit_originals(row, adapter)
