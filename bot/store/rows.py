"""Rows of the outbox tables as records: one reading for both backends."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from bot.domain.channels import Channel
from bot.domain.deliveries import DeliveryRow
from bot.domain.events import Subject
from bot.domain.kept_basis import decode_basis, encode_basis
from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.series import increments
from bot.domain.series_state import (
    SeriesState,
    decode_recent,
    decode_sources,
    encode_recent,
    encode_sources,
    month_at,
    month_index,
)
from bot.domain.subscriptions import Subscription, SubscriptionSpec

# `series_state`'s columns, in the order `state_rows` gives and `states_from_rows` reads them
STATE_COLUMNS = (
    "subject_key, region, metric, fingerprint, first_month, first_nonzero, last_month, total, "
    "peak, best, best_month, recent_from, recent, year_sources, flagged, basis"
)
STATE_COLUMNS_OF_S = ", ".join(f"s.{c}" for c in STATE_COLUMNS.split(", "))  # `... series_state s`

SUBSCRIPTION_COLUMNS = (
    "id, platform, workspace, channel, subject_key, subject_kind, subject_name, region, kinds, "
    "instant_kinds, ladder, locale, mode, digest_at, timezone, created_by, created_at, status, "
    "paused_reason, last_error, failures, charts, corrections, metric"
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
        metric="stock" if row[23] == "stock" else "sales",
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


def increment_updates(
    rows: list[Any],
) -> tuple[
    list[tuple[int, int, str, str, str, str]],
    dict[tuple[int, str, str, str], int],
    dict[tuple[int, str, str], int],
]:
    """New increments for every cell of the touched series, and the deltas for the sums."""
    updates: list[tuple[int, int, str, str, str, str]] = []
    make_deltas: dict[tuple[int, str, str, str], int] = defaultdict(int)
    all_deltas: dict[tuple[int, str, str], int] = defaultdict(int)
    start = 0
    while start < len(rows):
        end = start
        series = rows[start][:4]
        while end < len(rows) and rows[end][:4] == series:
            end += 1
        chunk = rows[start:end]
        for row, inc in zip(chunk, increments([(r[5], r[6]) for r in chunk]), strict=True):
            source_id, make_key, model_key, region, month, _, _, old = row
            delta = inc - old
            if delta:
                updates.append((inc, source_id, make_key, model_key, region, month))
                make_deltas[(source_id, make_key, region, month)] += delta
                all_deltas[(source_id, region, month)] += delta
            elif old == 0 and inc == 0:
                # keep an all-zero cell visible in the sums, so the month counts as covered
                make_deltas[(source_id, make_key, region, month)] += 0
                all_deltas[(source_id, region, month)] += 0
        start = end
    return updates, make_deltas, all_deltas


_MONTHS: dict[str, Month] = {}  # "2015-06" -> Month: a few thousand at most, parsed once


def inc_rows(rows: Iterable[Any]) -> list[IncRow]:
    """Increment rows (source, region, make, model, month text, units) as IncRow."""
    out: list[IncRow] = []
    append, months = out.append, _MONTHS
    for source_id, region, make_key, model_key, month, inc in rows:
        m = months.get(month)
        if m is None:
            m = months[month] = Month.parse(month)
        append(IncRow(source_id, region, make_key, model_key, m, inc))
    return out


def states_from_rows(rows: Iterable[Any]) -> dict[tuple[str, str, str], SeriesState]:
    """Series states from their rows; an unreadable one is left out (the series is then read
    whole, and its state written anew)."""
    out: dict[tuple[str, str, str], SeriesState] = {}
    for r in rows:
        try:
            out[(r[0], r[1], r[2])] = SeriesState(
                subject_key=r[0],
                region=r[1],
                metric=r[2],
                fingerprint=r[3],
                first=month_at(r[4]),
                first_nonzero=month_at(r[5]) if r[5] is not None else None,
                last=month_at(r[6]),
                total=r[7],
                peak=r[8],
                best=(r[9], month_at(r[10])) if r[10] is not None else None,
                recent_from=month_at(r[11]),
                recent=decode_recent(r[12]),
                year_sources=decode_sources(r[13]),
                flagged=r[14],
                basis=decode_basis(r[15]) if r[15] is not None else None,
            )
        except ValueError:
            continue
    return out


def state_rows(states: Iterable[SeriesState]) -> list[tuple[Any, ...]]:
    """Series states as rows of `series_state`, in key order (thousands of them are written
    about a quarter faster in the table's own order)."""
    rows = []
    for s in states:
        # `month_index` inline, and a model's usual one recent month without a generator:
        # a poll writes a row for every series it touched
        first, last, nonzero, best, recent = s.first, s.last, s.first_nonzero, s.best, s.recent
        if len(recent) == 1:
            ((month, units),) = recent
            text = f"{month.year * 12 + month.month - 1}:{units}"
        else:
            text = encode_recent(recent)
        rows.append(
            (
                s.subject_key,
                s.region,
                s.metric,
                s.fingerprint,
                first.year * 12 + first.month - 1,
                nonzero.year * 12 + nonzero.month - 1 if nonzero else None,
                last.year * 12 + last.month - 1,
                s.total,
                s.peak,
                best[0] if best else None,
                best[1].year * 12 + best[1].month - 1 if best else None,
                month_index(s.recent_from),
                text,
                encode_sources(s.year_sources),
                s.flagged,
                encode_basis(s.basis) if s.basis is not None else None,
            )
        )
    rows.sort(key=itemgetter(0, 1, 2))
    return rows
