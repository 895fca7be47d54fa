"""Composing a delivery's message: rendered at its first claim and kept with the delivery, so
every retry and reconciliation sends the same text, with the chart of its biggest milestone
drawn once per event, ladder and locale."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Protocol

from bot.delivery.templating import templated
from bot.domain.announcer import announce_digest, announce_group, digest_label
from bot.domain.deliveries import DeliveryRow, delivery_key
from bot.domain.event_codec import (
    event_from_dict,
    event_to_dict,
    message_from_dict,
    message_to_dict,
)
from bot.domain.events import Event, MilestoneEvent
from bot.domain.headlines_corrections import chart_alt
from bot.domain.ladders import Ladder
from bot.domain.messages import Message
from bot.domain.subscriptions import Subscription, admit
from bot.ports.chat import ChatAdapter, image_mode
from bot.ports.store import BotStore

log = logging.getLogger("evbot.outbox")

EVENT_CACHE = 10_000
DIGEST_LABELS = {"daily": "today", "weekly": "this week", "monthly": "this month"}
CHART_TIMEOUT = 20.0  # seconds a milestone's chart may take before it goes without
CHART_CACHE = 32  # drawn charts kept: a fan-out sends one event to thousands of channels


class MilestoneCharts(Protocol):
    """Draws a milestone's cumulative chart (`bot.charts.service.StoreCharts`)."""

    async def milestone_chart(
        self, event: MilestoneEvent, ladder: Ladder | None, locale: str
    ) -> tuple[bytes, str]:
        """The PNG and its file name."""
        ...


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


class Renderer:
    """A delivery's message: composed from its events and live subscriptions, kept, and drawn."""

    def __init__(
        self,
        store: BotStore,
        adapters: Mapping[str, ChatAdapter],
        ladders: Mapping[str, Ladder],
        charts: MilestoneCharts | None = None,
        following: Callable[[Subscription], Awaitable[Message]] | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.ladders = ladders
        self.charts = charts
        # a "now following" notice is rendered at its first claim, with the figures of then
        self.following = following
        # one drawing per event, ladder and locale, however many channels it goes to
        self._drawn: dict[tuple[object, ...], asyncio.Future[tuple[bytes, str]]] = {}
        self._events: dict[int, Event] = {}  # stored events never change: read each once

    async def rendered(self, row: DeliveryRow) -> Message | None:
        """The message a delivery sends: rendered at its first claim and kept with it, so every
        retry and reconciliation sends the same text; None when it has no one to go to."""
        found = await self.rendered_with_chart(row)
        return found[0] if found is not None else None

    async def rendered_with_chart(self, row: DeliveryRow) -> tuple[Message, bool] | None:
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
        events = await self.events_of(row)
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
            label = payload.get("label") or digest_label(mode, row.locale)
            return announce_digest(latest_growth(kept), row.locale, label), None
        message = announce_group(kept, row.locale)
        if len(kept) == 1 and row.kind != "correction":
            message = await templated(
                self.store, message, kept[0], row.subscription_ids, f"delivery {row.id}"
            )
        if row.kind == "correction":
            originals = json.loads(row.payload or "{}").get("originals", [])
            return replace(message, corrects=tuple(delivery_key(i) for i in originals)), None
        if not charted:
            return message, None
        event, sub = max(charted, key=lambda pair: pair[0].headline)
        return message, (event, sub.spec.ladder)

    async def events_of(self, row: DeliveryRow) -> dict[int, Event]:
        missing = [i for i in row.event_ids if i not in self._events]
        if missing:
            if len(self._events) > EVENT_CACHE:
                self._events.clear()
            self._events.update(await self.store.events_by_id(missing))
        return {i: self._events[i] for i in row.event_ids if i in self._events}

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
