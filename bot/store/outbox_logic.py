"""What both backends' outboxes decide alike: which due deliveries a claim takes, which queued
ones lost their subscriptions, which a resume sends again, when a failure pauses a channel, a
digest's delivery, a fan-out's split of corrections from news, a correction plan's rewrites.

Statements are written with PostgreSQL's `$N` placeholders, in order; SQLite's store swaps in
its own (`bot.store.sqlite.base.positional`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.domain.channels import PAUSE_AFTER, PAUSE_AT_ONCE
from bot.domain.corrections import CorrectionPlan
from bot.domain.deliveries import STATUSES, DeliveryRow
from bot.domain.event_codec import event_from_dict
from bot.domain.events import Event
from bot.domain.holds import Run
from bot.domain.records import StoredEvent
from bot.domain.subscriptions import PlannedDelivery, Subscription

ChannelKey = tuple[str, str, str]

REWRITE_SQL = (
    "UPDATE deliveries SET event_ids = $1, subscription_ids = $2 "
    "WHERE id = $3 AND status = 'pending' AND rendered IS NULL"
)
WITHDRAW_SQL = (
    "UPDATE deliveries SET status = 'cancelled', reason = 'withdrawn' "
    "WHERE id = $1 AND status = 'pending' AND rendered IS NULL"
)
WITHDRAW_DIGEST_ITEM_SQL = "DELETE FROM digest_items WHERE subscription_id = $1 AND event_id = $2"
CANCEL_ORPHAN_SQL = (
    "UPDATE deliveries SET status = 'cancelled', reason = 'unsubscribed' WHERE id = $1"
)
RESEND_SQL = (
    "UPDATE deliveries SET status = 'pending', attempts = 0, "
    "next_attempt_at = $1, last_error = NULL WHERE id = $2"
)

REQUEUE_SQL = (
    "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, "
    "last_error = NULL, reason = NULL WHERE id = $2 AND status = 'failed' RETURNING id"
)


def one_per_channel(
    candidates: Iterable[Sequence[Any]], limit: int
) -> list[tuple[int, ChannelKey]]:
    """Due deliveries (id, platform, workspace, channel), oldest due first: the first of each
    channel, `limit` at most (a channel's messages go out one at a time, in order)."""
    chosen: list[tuple[int, ChannelKey]] = []
    seen: set[ChannelKey] = set()
    for delivery_id, *channel in candidates:
        key = (channel[0], channel[1], channel[2])
        if key not in seen and len(chosen) < limit:
            seen.add(key)
            chosen.append((delivery_id, key))
    return chosen


def orphans(pending: Iterable[Sequence[Any]], live: set[int]) -> list[tuple[int]]:
    """Queued deliveries (id, subscription ids as JSON) that no live subscription covers."""
    return [(r[0],) for r in pending if not set(json.loads(r[1])) & live]


def to_send_again(
    candidates: Iterable[Sequence[Any]], resumed: set[int], when: float
) -> list[tuple[float, int]]:
    """Held-back deliveries (id, subscription ids as JSON) a resume sends again, as rows of
    `RESEND_SQL`."""
    return [(when, r[0]) for r in candidates if set(json.loads(r[1])) & resumed]


def pauses_at_once(reason: str) -> bool:
    """Whether a failure for `reason` pauses its channel at once (retrying cannot help)."""
    return reason in PAUSE_AT_ONCE


def too_many_failures(worst: int | None) -> bool:
    """Whether a channel's most failures in a row pause it."""
    return worst is not None and worst >= PAUSE_AFTER


def status_counts(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """(status, count) rows, every status present."""
    return {s: 0 for s in STATUSES} | {r[0]: int(r[1]) for r in rows}


def platform_counts(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], int]:
    """(platform, status, count) rows by (platform, status)."""
    return {(r[0], r[1]): int(r[2]) for r in rows}


def events_of(rows: Iterable[Sequence[Any]]) -> dict[int, Event]:
    """`events` rows read as (id, payload), by id."""
    return {r[0]: event_from_dict(json.loads(r[1])) for r in rows}


def newest_per_event(
    rows: Iterable[DeliveryRow], event_ids: Sequence[int]
) -> dict[int, DeliveryRow]:
    """The newest of the deliveries (in ascending ids) that carried each of `event_ids`."""
    wanted = set(event_ids)
    out: dict[int, DeliveryRow] = {}
    for row in rows:
        for event_id in row.event_ids:
            if event_id in wanted:
                out[event_id] = row  # ascending ids: the newest delivery wins
    return out


def digest_delivery(
    sub: Subscription, event_ids: tuple[int, ...], label: str | None
) -> PlannedDelivery:
    """One digest delivery of a subscription's collected events."""
    return PlannedDelivery(
        sub.channel,
        "digest",
        event_ids,
        tuple(sub.id for _ in event_ids),
        sub.spec.locale,
        json.dumps(
            {
                "mode": "weekly" if sub.spec.mode == "instant" else sub.spec.mode,
                "label": label,
            }
        ),
    )


Pair = tuple[StoredEvent, Sequence[str]]


def split_fan_out(
    stored: Sequence[StoredEvent], keys: Sequence[Sequence[str]]
) -> tuple[list[Pair], list[Pair]]:
    """A detection's new events with the subject keys each covers: (corrections, news)."""
    pairs = list(zip(stored, keys, strict=True))
    corrections = [p for p in pairs if p[0].event.kind == "correction"]
    news = [p for p in pairs if p[0].event.kind != "correction"]
    return corrections, news


def news_audience(news: Sequence[Pair]) -> tuple[list[str], list[str]]:
    """The regions (sorted) and subject keys (sorted) whose subscriptions hear of the news."""
    regions = sorted({s.event.region for s, _ in news})
    return regions, sorted({k for _, ks in news for k in ks})


def correction_series(corrections: Sequence[Pair]) -> list[tuple[str, str]]:
    """The (subject key, region) of each series a correction is about, once each, sorted."""
    return sorted({(s.event.subject.key, s.event.region) for s, _ in corrections})


async def rewrite(run: Run, plan: CorrectionPlan) -> None:
    """A correction plan's rewrites of deliveries still pending and unrendered: their events
    and subscriptions replaced, or, with none left, the delivery withdrawn."""
    for delivery_id, (event_ids, sub_ids) in plan.rewrites.items():
        if event_ids:
            await run(
                REWRITE_SQL,
                json.dumps(list(event_ids)),
                json.dumps(list(sub_ids)),
                delivery_id,
            )
        else:
            await run(WITHDRAW_SQL, delivery_id)
