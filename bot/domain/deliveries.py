"""A stored delivery, as the outbox and every reader of it see it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.channels import Channel
from bot.domain.corrections import Original
from bot.domain.delivery_steps import done_steps

STATUSES = ("pending", "inflight", "posted", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One stored delivery."""

    id: int
    channel: Channel
    kind: str
    event_ids: tuple[int, ...]
    subscription_ids: tuple[int, ...]
    locale: str
    payload: str | None
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    reason: str | None
    message_id: str | None
    created_at: float
    posted_at: float | None
    rendered: str | None = None  # the message as first claimed (JSON): every retry sends it
    claimed_at: float | None = None  # when it first went in flight (epoch seconds)
    steps_done: tuple[str, ...] = ()  # the parts done or settled (`bot.domain.delivery_steps`)

    @property
    def key(self) -> str:
        """The idempotency key the platform sees: stable across retries and restarts."""
        return delivery_key(self.id)

    def done(self, step: str) -> bool:
        """Whether `step` needs nothing more (done, or settled as impossible)."""
        return step in done_steps(self.steps_done)


def delivery_key(delivery_id: int) -> str:
    """The idempotency key of delivery `delivery_id`."""
    return f"evbot-delivery-{delivery_id}"


def original(row: DeliveryRow) -> Original:
    """A delivery as the correction plan sees it."""
    return Original(
        row.id,
        row.channel,
        row.status,
        row.rendered is not None,
        row.event_ids,
        row.subscription_ids,
    )


@dataclass(frozen=True, slots=True)
class Pending:
    """A platform's deliveries not out yet (pending or in flight): how many, and when the
    oldest of them was queued."""

    count: int
    oldest_created_at: float
