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
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.delivery.pacing import Pacer
from bot.delivery.retry_warnings import RetryWarnings
from bot.domain.announcer import announce_digest, announce_group
from bot.domain.channels import NETWORK, SERVER_ERROR, TIMEOUT, UNKNOWN, Channel, DeliveryFailure
from bot.domain.deliveries import DeliveryRow, delivery_key
from bot.domain.delivery_steps import CHART, POST, edit_step, settled
from bot.domain.event_codec import (
    event_from_dict,
    event_to_dict,
    message_from_dict,
    message_to_dict,
)
from bot.domain.events import CorrectionEvent, Event, MilestoneEvent
from bot.domain.headlines import chart_alt, corrected
from bot.domain.ladders import Ladder
from bot.domain.messages import Message
from bot.domain.subscriptions import Subscription, admit
from bot.ports.chat import ChatAdapter, FollowupPoster, MessageEditor, image_mode
from bot.ports.store import BotStore

log = logging.getLogger("evbot.outbox")

BACKOFF_BASE = 2.0  # seconds before the first retry
BACKOFF_CAP = 900.0
MAX_ATTEMPTS = 12
POST_TIMEOUT = 30.0
EVENT_CACHE = 10_000
CHANNEL_WAIT_IN_SLOT = 0.25  # longer channel waits give the slot back
DIGEST_LABELS = {"daily": "today", "weekly": "this week", "monthly": "this month"}
CHART_TIMEOUT = 20.0  # seconds a milestone's chart may take before it goes without
# failures after which a post may have landed all the same (no answer came back)
UNCERTAIN = frozenset({TIMEOUT, NETWORK, SERVER_ERROR, UNKNOWN})
CHART_CACHE = 32  # drawn charts kept: a fan-out sends one event to thousands of channels
IDLE_POLL_SECONDS = 1.0  # the longest idle wait when nothing tells the worker of new deliveries


class MilestoneCharts(Protocol):
    """Draws a milestone's cumulative chart (`bot.charts.service.StoreCharts`)."""

    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        """The PNG and its file name."""
        ...


@dataclass
class WorkerStats:
    posted: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    reconciled: int = 0
    edited: int = 0
    followed_up: int = 0  # follow-up parts sent (Slack: charts in the thread)
    settled: int = 0  # steps that could never be done, logged and recorded


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: exponential, capped, with jitter so retries spread out."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    draw: float = (rng or random.Random()).random()
    return ceiling * (0.5 + 0.5 * draw)


def step_failure(exc: DeliveryFailure | TimeoutError, doing: str) -> DeliveryFailure:
    """A step's failure as a DeliveryFailure: a timeout is a transient one."""
    if isinstance(exc, DeliveryFailure):
        return exc
    failure = DeliveryFailure(TIMEOUT, permanent=False, detail=doing)
    failure.__cause__ = exc
    return failure


def charted(row: DeliveryRow) -> bool:
    """Whether a delivery's message, as first rendered, carries a chart."""
    return row.rendered is not None and json.loads(row.rendered).get("chart") is not None


def latest_growth(events: list[Event]) -> list[Event]:
    """A digest tells each subject's year-to-date once: its latest figure replaces earlier ones."""
    latest: dict[tuple[str, str, str], Event] = {}
    others: list[Event] = []
    for event in events:
        if event.kind != "growth":
            others.append(event)
            continue
        key = (event.subject.key, event.region, event.metric)
        if key not in latest or latest[key].period <= event.period:
            latest[key] = event
    return others + list(latest.values())


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
        self.charts = charts
        # a "now following" notice is rendered at its first claim, with the figures of then
        self.following = following
        # one drawing per event, ladder and locale, however many channels it goes to
        self._drawn: dict[tuple[object, ...], asyncio.Future[tuple[bytes, str]]] = {}
        self.adapters = dict(adapters)
        self.ladders = ladders
        self.concurrency = concurrency
        self.clock = clock
        self.post_timeout = post_timeout
        self.rng = rng or random.Random()
        self.stats = WorkerStats()
        self.pacers = {
            name: Pacer(a.limits.global_per_second, a.limits.channel_per_second)
            for name, a in self.adapters.items()
        }
        self._wake = asyncio.Event()
        # longer when the store tells every replica of new deliveries (PostgreSQL NOTIFY)
        self.idle_poll = IDLE_POLL_SECONDS
        self._channel_locks: dict[Channel, asyncio.Lock] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._events: dict[int, Event] = {}  # stored events never change: read each once

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
        if self._needs_followup(row, adapter, charted(row)):
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
            log.exception("delivery %s failed unexpectedly", row.id)
        finally:
            slots.release()

    async def deliver(self, row: DeliveryRow) -> None:
        """Do what is missing of one claimed delivery (a correction's edits, the post, its
        follow-up), recording each step, and record the outcome."""
        lock = self._channel_locks.setdefault(row.channel, asyncio.Lock())
        async with lock:
            found = await self._rendered(row)
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
            await pacer.acquire(row.channel)
            try:
                if row.kind == "correction" and not row.done(POST):
                    after = await self.edit_originals(row, adapter)
                    if after is not None:
                        # an original is still to be posted: the correction goes after it
                        await self.store.release(row.id, after)
                        return
                message_id = await self._post(row, message, adapter, with_chart)
                await self._followups(row, message, adapter, message_id, with_chart)
            except DeliveryFailure as exc:
                await self._failed(row, exc, pacer)
                return
            except TimeoutError:
                await self._failed(row, DeliveryFailure(TIMEOUT, permanent=False), pacer)
                return
            except Exception as exc:  # an adapter bug: retry later, and say what happened
                log.exception("delivery %s: adapter error", row.id)
                failure = DeliveryFailure(UNKNOWN, permanent=False, detail=type(exc).__name__)
                await self._failed(row, failure, pacer)
                return
            await self.store.mark_posted(row.id, message_id, self.clock())
            self.stats.posted += 1

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
            )
            return
        wait = backoff(row.attempts, self.rng)
        if exc.retry_after is not None:
            wait = max(exc.retry_after, 0.0) + self.rng.random() * 0.1
        await self.store.mark_retry(row.id, self.clock() + wait, exc.reason, exc.detail or str(exc))
        self.stats.retried += 1
        if self.retry_warnings is not None:
            self.retry_warnings.retrying(row, exc, self.clock(), wait)

    async def _post(
        self, row: DeliveryRow, message: Message, adapter: ChatAdapter, with_chart: bool
    ) -> str:
        """The post step, once. Where a follow-up remains, the step and its message id are
        recorded at once; else `mark_posted` records them, in the write it makes anyway."""
        if row.done(POST) and row.message_id is not None:
            return row.message_id
        if row.reason in UNCERTAIN and row.attempts > 1:
            # the last try got no answer: it may have landed, and the platform's own
            # deduplication (Discord's nonce) may have expired since; ask before posting again
            found = await asyncio.wait_for(
                adapter.find_posted(row.channel, row.key, since=row.claimed_at), self.post_timeout
            )
            if found is not None:
                self.stats.reconciled += 1
                if self._needs_followup(row, adapter, with_chart):
                    await self.store.mark_step(row.id, POST, found)
                return found
        if image_mode(adapter) != "inline":
            # the image goes after the post, or nowhere
            message = replace(message, image=None, image_name=None, image_alt="")
        message_id = await asyncio.wait_for(
            adapter.post(row.channel, message, row.key), self.post_timeout
        )
        if self._needs_followup(row, adapter, with_chart):
            await self.store.mark_step(row.id, POST, message_id)
        return message_id

    def _needs_followup(self, row: DeliveryRow, adapter: ChatAdapter, with_chart: bool) -> bool:
        """Whether the delivery's chart is a follow-up part still to send."""
        return (
            with_chart
            and self.charts is not None
            and image_mode(adapter) == "followup"
            and not row.done(CHART)
        )

    async def _followups(
        self,
        row: DeliveryRow,
        message: Message,
        adapter: ChatAdapter,
        message_id: str,
        with_chart: bool,
    ) -> None:
        """The chart after the post, where the platform takes it so (Slack: in its thread)."""
        if not self._needs_followup(row, adapter, with_chart):
            return
        assert isinstance(adapter, FollowupPoster)
        if message.image is None:  # not drawn (`_with_chart` logged why)
            await self._settle(row, CHART, "not_drawn", "chart not sent")
            return
        try:
            await asyncio.wait_for(
                adapter.post_followup(row.channel, message_id, message, row.key),
                self.post_timeout,
            )
        except (DeliveryFailure, TimeoutError) as exc:
            failure = step_failure(exc, "the chart")
            if not failure.permanent and row.attempts < MAX_ATTEMPTS:
                raise failure from failure.__cause__
            await self._settle(row, CHART, failure.reason, f"chart not sent ({failure})")
            return
        await self.store.mark_step(row.id, CHART)
        self.stats.followed_up += 1

    async def _settle(self, row: DeliveryRow, step: str, reason: str, what: str) -> None:
        """Record a step that can never be done, so it holds the delivery back no longer."""
        log.warning("delivery %s to %s: %s", row.id, row.channel.safe(), what)
        await self.store.mark_step(row.id, settled(step, reason))
        self.stats.settled += 1

    async def rendered(self, row: DeliveryRow) -> Message | None:
        """The message a delivery sends: rendered at its first claim and kept with it, so every
        retry and reconciliation sends the same text; None when it has no one to go to."""
        found = await self._rendered(row)
        return found[0] if found is not None else None

    async def _rendered(self, row: DeliveryRow) -> tuple[Message, bool] | None:
        """`rendered`, and whether the message was to carry a chart (drawn or not)."""
        text = row.rendered
        if text is None:
            composed = await self._compose(row)
            if composed is None:
                return None
            message, chart = composed
            text = await self.store.keep_rendered(
                row.id,
                json.dumps(
                    {
                        "message": message_to_dict(message),
                        "chart": (
                            {"event": event_to_dict(chart[0]), "ladder": chart[1]}
                            if chart is not None
                            else None
                        ),
                    }
                ),
            )
        kept = json.loads(text)
        message = message_from_dict(kept["message"])
        chart = kept.get("chart")
        if chart is None or image_mode(self.adapters[row.channel.platform]) == "none":
            return message, False  # nothing to draw, or the platform would drop the drawing
        event = event_from_dict(chart["event"])
        assert isinstance(event, MilestoneEvent)
        return await self._with_chart(message, event, chart["ladder"], row), True

    async def compose(self, row: DeliveryRow) -> Message | None:
        """The message a delivery stands for, as its subscriptions now want it (without its
        chart); None when no subscription that covered it is still active (unsubscribed or
        paused meanwhile)."""
        composed = await self._compose(row)
        return composed[0] if composed is not None else None

    async def _compose(
        self, row: DeliveryRow
    ) -> tuple[Message, tuple[MilestoneEvent, str] | None] | None:
        """`compose`, with the milestone whose chart the message carries and its ladder."""
        live = {
            s.id: s
            for s in await self.store.subscriptions(row.channel)
            if s.active and s.id in set(row.subscription_ids)
        }
        if row.kind == "following":
            if not live:
                return None
            if self.following is not None:
                return await self.following(next(iter(live.values()))), None
            return message_from_dict(json.loads(row.payload or "{}")), None
        events = await self._events_of(row)
        kept: list[Event] = []
        charted: list[tuple[MilestoneEvent, Subscription]] = []
        for event_id, sub_id in zip(row.event_ids, row.subscription_ids, strict=True):
            sub = live.get(sub_id)
            event = events.get(event_id)
            if sub is None or event is None:
                continue
            admitted = admit(event, sub, self.ladders)
            if admitted is not None:
                kept.append(admitted)
                if isinstance(admitted, MilestoneEvent) and sub.spec.charts:
                    charted.append((admitted, sub))
        if not kept:
            return None
        if row.kind == "digest":
            payload = json.loads(row.payload or "{}")
            mode = payload.get("mode", "daily")
            label = payload.get("label") or DIGEST_LABELS.get(mode, mode)
            return announce_digest(latest_growth(kept), row.locale, label), None
        message = announce_group(kept, row.locale)
        if row.kind == "correction":
            originals = json.loads(row.payload or "{}").get("originals", [])
            return replace(message, corrects=tuple(delivery_key(i) for i in originals)), None
        if not charted:
            return message, None
        event, sub = max(charted, key=lambda pair: pair[0].headline)
        return message, (event, sub.spec.ladder)

    async def _events_of(self, row: DeliveryRow) -> dict[int, Event]:
        missing = [i for i in row.event_ids if i not in self._events]
        if missing:
            if len(self._events) > EVENT_CACHE:
                self._events.clear()
            self._events.update(await self.store.events_by_id(missing))
        return {i: self._events[i] for i in row.event_ids if i in self._events}

    async def edit_originals(self, row: DeliveryRow, adapter: ChatAdapter) -> float | None:
        """Mark the messages a correction corrects as corrected, where the platform can edit:
        each edit is a step of the correction, recorded when done (an edit sets the whole
        text, so one a crash left unrecorded is simply done again).

        Returns when to try again if an original is still waiting to be posted (the
        correction must follow it), else None. A failing edit fails the correction's attempt,
        to be retried like a post; one that can never work (the message deleted, too old) or
        still fails after the last attempt is settled, logged, and the correction goes out.
        """
        originals: list[Any] = json.loads(row.payload or "{}").get("originals", [])
        corrections = [
            e for e in (await self._events_of(row)).values() if isinstance(e, CorrectionEvent)
        ]
        for original_id in originals:
            step = edit_step(int(original_id))
            if row.done(step):
                continue
            original = await self.store.delivery(int(original_id))
            if original is None:
                continue
            if original.status in ("pending", "inflight"):
                return max(original.next_attempt_at, self.clock()) + 1.0
            if (
                original.status != "posted"
                or not original.message_id
                or original.rendered is None
                or not isinstance(adapter, MessageEditor)
            ):
                continue
            told = [e for e in (await self._events_of(original)).values()]
            relevant = [
                c
                for c in corrections
                if any(isinstance(e, MilestoneEvent) and c.corrects(e) for e in told)
            ]
            before = message_from_dict(json.loads(original.rendered)["message"])
            after = corrected(before, relevant, original.locale)
            if after == before:
                continue
            try:
                await asyncio.wait_for(
                    adapter.edit(original.channel, original.message_id, after), self.post_timeout
                )
            except (DeliveryFailure, TimeoutError) as exc:
                failure = step_failure(exc, "editing")
                if not failure.permanent and row.attempts < MAX_ATTEMPTS:
                    raise failure from failure.__cause__
                what = f"original {original.id} not marked corrected: {failure}"
                await self._settle(row, step, failure.reason, what)
                continue
            await self.store.mark_step(row.id, step)
            self.stats.edited += 1
        return None

    async def _with_chart(
        self, message: Message, event: MilestoneEvent, ladder_name: str, row: DeliveryRow
    ) -> Message:
        """The message with the cumulative chart of its biggest milestone attached. A chart that
        cannot be drawn never holds an announcement back: it goes without, and the log says why."""
        if self.charts is None:
            return message
        ladder = self.ladders.get(ladder_name)
        key = (event, ladder_name, row.locale)
        drawing = self._drawn.get(key)
        if drawing is None:
            if len(self._drawn) >= CHART_CACHE:
                del self._drawn[next(iter(self._drawn))]  # the oldest
            drawing = self._drawn[key] = asyncio.ensure_future(
                asyncio.wait_for(
                    self.charts.milestone_chart(event, ladder, row.locale), CHART_TIMEOUT
                )
            )
        try:
            png, name = await asyncio.shield(drawing)
        except Exception:
            self._drawn.pop(key, None)  # the next delivery tries again
            log.warning(
                "delivery %s: no chart for %s, posted without it",
                row.id,
                event.subject.name,
                exc_info=True,
            )
            return message
        return replace(message, image=png, image_name=name, image_alt=chart_alt(event, row.locale))
