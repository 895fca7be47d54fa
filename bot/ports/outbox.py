"""The store's side of the outbox: deliveries queued, claimed, posted step by step, retried,
failed or cancelled, and the digests collected for subscriptions (`bot.delivery`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from bot.domain.deliveries import Pending

if TYPE_CHECKING:
    from bot.domain.channels import Channel
    from bot.domain.deliveries import DeliveryRow
    from bot.domain.subscriptions import PlannedDelivery


class OutboxRows(Protocol):
    """Deliveries and digests, kept so that each message goes out once, even across crashes."""

    async def enqueue(self, planned: Sequence[PlannedDelivery], now: float) -> list[int]:
        """Queue deliveries made outside a detection."""
        ...

    async def claim_due(
        self, now: float, limit: int, platforms: Sequence[str] | None = None
    ) -> list[DeliveryRow]:
        """Mark up to `limit` due deliveries in flight (one per channel) and return them."""
        ...

    async def inflight(self, platforms: Sequence[str] | None = None) -> list[DeliveryRow]:
        """Deliveries a crash left in flight, to settle before posting again."""
        ...

    async def mark_posted(self, delivery_id: int, message_id: str, now: float) -> None:
        """A delivery reached its channel."""
        ...

    async def mark_step(self, delivery_id: int, entry: str, message_id: str | None = None) -> None:
        """Record a step of an in-flight delivery as done (with the post's message id)."""
        ...

    async def keep_rendered(self, delivery_id: int, rendered: str) -> str:
        """Keep a delivery's message as first rendered; returns the one kept."""
        ...

    async def delivery(self, delivery_id: int) -> DeliveryRow | None:
        """One delivery by id."""
        ...

    async def mark_retry(
        self, delivery_id: int, next_attempt_at: float, reason: str, error: str
    ) -> None:
        """Back to pending, for another attempt not before `next_attempt_at`."""
        ...

    async def release(self, delivery_id: int, not_before: float | None = None) -> None:
        """Pending again without counting an attempt."""
        ...

    async def defer_channel(self, channel: Channel, not_before: float) -> None:
        """Nothing more to this channel before `not_before`."""
        ...

    async def mark_failed(self, delivery: DeliveryRow, reason: str, error: str) -> bool:
        """A permanent failure; returns whether the channel's subscriptions were paused."""
        ...

    async def requeue(self, delivery_ids: Sequence[int], now: float) -> list[int]:
        """Failed deliveries pending again (due `now`, attempts reset, error cleared, text and
        steps kept); returns the ids that were failed and now are pending."""
        ...

    async def mark_cancelled(self, delivery_id: int, reason: str) -> None:
        """A delivery that no longer has anyone to go to."""
        ...

    async def deliveries(self, status: str | None = None, limit: int = 100) -> list[DeliveryRow]:
        """Deliveries, newest first, optionally of one status."""
        ...

    async def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        ...

    async def delivery_counts_by_platform(self) -> dict[tuple[str, str], int]:
        """How many deliveries each platform has in each status."""
        ...

    async def pending_by_platform(self) -> dict[str, Pending]:
        """Deliveries not out yet (pending or in flight), by platform."""
        ...

    async def next_due(self) -> float | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        ...

    async def take_digest(self, sub_id: int, now: float, label: str | None = None) -> int | None:
        """Turn a subscription's collected events into one digest delivery; None if empty."""
        ...

    async def digest_size(self, sub_id: int) -> int:
        """How many events a subscription's next digest holds."""
        ...
