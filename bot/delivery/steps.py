"""The steps of one delivery (`bot.domain.delivery_steps`): a correction's edits of the
messages it corrects, the post, and what the platform takes after the post (Slack: the chart in
the post's thread), each recorded as soon as it is done, or settled when it never can be."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.delivery.rendering import Renderer
from bot.domain.channels import NETWORK, SERVER_ERROR, TIMEOUT, UNKNOWN, DeliveryFailure
from bot.domain.deliveries import DeliveryRow
from bot.domain.delivery_steps import CHART, POST, edit_step, settled
from bot.domain.event_codec import message_from_dict
from bot.domain.events import CorrectionEvent, MilestoneEvent
from bot.domain.headlines_corrections import corrected
from bot.domain.messages import Message
from bot.ports.chat import ChatAdapter, FollowupPoster, MessageEditor, image_mode
from bot.ports.store import BotStore

log = logging.getLogger("evbot.outbox")

MAX_ATTEMPTS = 12
# failures after which a post may have landed all the same (no answer came back)
UNCERTAIN = frozenset({TIMEOUT, NETWORK, SERVER_ERROR, UNKNOWN})


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


def step_failure(exc: DeliveryFailure | TimeoutError, doing: str) -> DeliveryFailure:
    """A step's failure as a DeliveryFailure: a timeout is a transient one."""
    if isinstance(exc, DeliveryFailure):
        return exc
    failure = DeliveryFailure(TIMEOUT, permanent=False, detail=doing)
    failure.__cause__ = exc
    return failure


class DeliverySteps:
    """Does a delivery's steps on its platform and records each in the store."""

    def __init__(
        self,
        store: BotStore,
        renderer: Renderer,
        stats: WorkerStats,
        clock: Callable[[], float],
        post_timeout: float,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.stats = stats
        self.clock = clock
        self.post_timeout = post_timeout

    async def post(
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
                if self.needs_followup(row, adapter, with_chart):
                    await self.store.mark_step(row.id, POST, found)
                return found
        if image_mode(adapter) != "inline":
            # the image goes after the post, or nowhere
            message = replace(message, image=None, image_name=None, image_alt="")
        message_id = await asyncio.wait_for(
            adapter.post(row.channel, message, row.key), self.post_timeout
        )
        if self.needs_followup(row, adapter, with_chart):
            await self.store.mark_step(row.id, POST, message_id)
        return message_id

    def needs_followup(self, row: DeliveryRow, adapter: ChatAdapter, with_chart: bool) -> bool:
        """Whether the delivery's chart is a follow-up part still to send."""
        return (
            with_chart
            and self.renderer.charts is not None
            and image_mode(adapter) == "followup"
            and not row.done(CHART)
        )

    async def followups(
        self,
        row: DeliveryRow,
        message: Message,
        adapter: ChatAdapter,
        message_id: str,
        with_chart: bool,
    ) -> None:
        """The chart after the post, where the platform takes it so (Slack: in its thread)."""
        if not self.needs_followup(row, adapter, with_chart):
            return
        assert isinstance(adapter, FollowupPoster)
        if message.image is None:  # not drawn (`Renderer` logged why)
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
            e
            for e in (await self.renderer.events_of(row)).values()
            if isinstance(e, CorrectionEvent)
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
            told = [e for e in (await self.renderer.events_of(original)).values()]
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
