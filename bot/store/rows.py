"""Rows of the outbox tables as records: one reading for both backends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.domain.channels import Channel
from bot.domain.deliveries import DeliveryRow
from bot.domain.events import Subject
from bot.domain.subscriptions import Subscription, SubscriptionSpec

SUBSCRIPTION_COLUMNS = (
    "id, platform, workspace, channel, subject_key, subject_kind, subject_name, region, kinds, "
    "instant_kinds, ladder, locale, mode, digest_at, timezone, created_by, created_at, status, "
    "paused_reason, last_error, failures, charts, corrections"
)
DELIVERY_COLUMNS = (
    "id, platform, workspace, channel, kind, event_ids, subscription_ids, locale, payload, "
    "status, attempts, next_attempt_at, last_error, reason, message_id, created_at, posted_at, "
    "rendered, claimed_at, steps"
)


def subscription_row(row: Sequence[Any]) -> Subscription:
    """A `subscriptions` row (`SUBSCRIPTION_COLUMNS`) as a Subscription."""
    spec = SubscriptionSpec(
        channel=Channel(row[1], row[2], row[3]),
        subject=Subject(row[5], row[4], row[6]),
        region=row[7],
        kinds=tuple(row[8].split(",")) if row[8] else (),
        instant_kinds=tuple(row[9].split(",")) if row[9] else (),
        ladder=row[10],
        locale=row[11],
        mode=row[12],
        digest_at=row[13],
        timezone=row[14],
        created_by=row[15],
        charts=bool(row[21]),
        corrections=bool(row[22]),
    )
    return Subscription(row[0], spec, row[16], row[17], row[18], row[19], row[20])


def delivery_row(row: Sequence[Any]) -> DeliveryRow:
    """A `deliveries` row (`DELIVERY_COLUMNS`) as a DeliveryRow."""
    return DeliveryRow(
        row[0],
        Channel(row[1], row[2], row[3]),
        row[4],
        tuple(json.loads(row[5])),
        tuple(json.loads(row[6])),
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
        row[14],
        row[15],
        row[16],
        row[17],
        row[18],
        tuple(json.loads(row[19] or "[]")),
    )
