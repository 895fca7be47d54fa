"""What both backends write and read for detection alike: the rows of a `DetectionWrite`, the
statements that write them (PostgreSQL's `$N` placeholders; SQLite's store swaps in its own),
and the reading of recorded milestones, share levels, events and the logs."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.event_codec import dedupe_key, event_from_dict, event_to_dict
from bot.domain.events import Event
from bot.domain.milestones import Recorded
from bot.domain.periods import Month
from bot.domain.records import DetectionWrite, StoredEvent
from bot.domain.series_state import parse_month
from bot.ports.store import StoreError

MILESTONE_DROP_SQL = (
    "DELETE FROM milestones WHERE subject_key = $1 AND region = $2 AND metric = $3 AND lowest = $4"
)
MILESTONE_UPSERT_SQL = (
    "INSERT INTO milestones (subject_key, region, metric, lowest, highest, count, ladder, "
    "subject_name, period, value, below, history) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
    "ON CONFLICT (subject_key, region, metric, lowest) DO UPDATE SET "
    "highest = excluded.highest, count = excluded.count, ladder = excluded.ladder, "
    "period = excluded.period, value = excluded.value, below = excluded.below"
)
CORRECTION_INSERT_SQL = (
    "INSERT INTO corrections (subject_key, subject_name, region, metric, lowest, "
    "highest, count, ladder, reason, old_period, new_period, old_value, new_value) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)
SHARE_LEVEL_UPSERT_SQL = (
    "INSERT INTO share_levels (model_key, parent_key, region, metric, level) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_key, parent_key, region, metric) "
    "DO UPDATE SET level = excluded.level"
)

MILESTONE_LOG_KEYS = (
    "subject",
    "region",
    "metric",
    "lowest",
    "highest",
    "count",
    "period",
    "value",
    "below",
    "history",
    "recorded_at",
)
CORRECTION_LOG_KEYS = (
    "subject",
    "region",
    "metric",
    "lowest",
    "highest",
    "count",
    "reason",
    "old_period",
    "new_period",
    "old_value",
    "new_value",
    "recorded_at",
)


@dataclass(frozen=True, slots=True)
class DetectionRows:
    """A detection's writes as rows of `milestones` (dropped, and upserted), `corrections` and
    `share_levels`, in the column order of the statements above."""

    drops: list[tuple[Any, ...]]
    milestones: list[tuple[Any, ...]]
    corrections: list[tuple[Any, ...]]
    levels: list[tuple[Any, ...]]


def detection_rows(write: DetectionWrite) -> DetectionRows:
    """The rows a detection writes, besides its events (a poll can find thousands of each)."""
    return DetectionRows(
        drops=[
            (ref.subject_key, ref.region, ref.metric, lowest)
            for ref, lowest in write.milestone_drops
        ],
        milestones=[
            (
                ref.subject_key,
                ref.region,
                ref.metric,
                rec.lowest,
                rec.highest,
                rec.count,
                write.ladder,
                ref.subject_name,
                str(rec.period),
                rec.value,
                rec.below,
                history,
            )
            for ref, rec, history in write.milestones
        ],
        corrections=[
            (
                ref.subject_key,
                ref.subject_name,
                ref.region,
                ref.metric,
                c.lowest,
                c.highest,
                c.count,
                write.ladder,
                c.reason,
                str(c.old_period),
                str(c.new_period) if c.new_period else None,
                c.old_value,
                c.new_value,
            )
            for ref, c in write.corrections
        ],
        levels=[(*key, level) for key, level in write.share_levels.items()],
    )


EVENT_COLUMNS = "dedupe_key, kind, subject_key, region, period, payload"


def event_row(event: Event) -> tuple[str, str, str, str, str, str]:
    """An event as a row of `events`: (dedupe key, kind, subject key, region, period, payload)."""
    return (
        dedupe_key(event),
        event.kind,
        event.subject.key,
        event.region,
        str(event.period),
        json.dumps(event_to_dict(event)),
    )


def event_keys(write: DetectionWrite) -> Sequence[Sequence[str]]:
    """The subject keys each event of a detection covers (its own subject's, unless told)."""
    return write.event_keys or [[event.subject.key] for event in write.events]


def stored_events(
    write: DetectionWrite, dedupes: Sequence[str], found: Iterable[Sequence[Any]]
) -> list[tuple[StoredEvent, Sequence[str]]]:
    """The detection's events that were new, in its order, each with the subject keys it
    covers: `found` are the (id, dedupe key) rows the insert returned (in no promised order),
    `dedupes` the events' dedupe keys. An event repeated within the detection is new once."""
    new = {dedupe: event_id for event_id, dedupe in found}
    stored: list[tuple[StoredEvent, Sequence[str]]] = []
    for dedupe, event, covering in zip(dedupes, write.events, event_keys(write), strict=True):
        event_id = new.pop(dedupe, None)  # pop: a repeat within the batch is not new
        if event_id is not None:
            stored.append((StoredEvent(int(event_id), event), covering))
    return stored


def check_watermark(name: str, expected: int, current: int) -> None:
    """Refuse a detection when another detector moved the watermark meanwhile."""
    if current != expected:
        raise StoreError(f"watermark {name!r} moved from {expected} to {current} meanwhile")


def stored_event(row: Sequence[Any]) -> StoredEvent:
    """An `events` row read as (id, payload)."""
    return StoredEvent(row[0], event_from_dict(json.loads(row[1])))


def log_rows(keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Log rows as dicts by `MILESTONE_LOG_KEYS` or `CORRECTION_LOG_KEYS`."""
    return [dict(zip(keys, r, strict=True)) for r in rows]


def recorded(rows: Iterable[Sequence[Any]]) -> dict[int, Recorded]:
    """One series' milestones (lowest, highest, count, period, value, below, history), by lowest
    threshold."""
    return {
        r[0]: Recorded(r[0], r[1], r[2], Month.parse(r[3]), r[4], bool(r[5]), bool(r[6]))
        for r in rows
    }


def recorded_by_series(
    rows: Iterable[Sequence[Any]],
) -> dict[tuple[str, str, str], dict[int, Recorded]]:
    """Many series' milestones (subject key, region, metric, then as `recorded` reads them), by
    series and lowest threshold."""
    out: dict[tuple[str, str, str], dict[int, Recorded]] = defaultdict(dict)
    for subject_key, region, metric, lowest, highest, count, period, value, below, hist in rows:
        out[(subject_key, region, metric)][lowest] = Recorded(
            lowest, highest, count, parse_month(period), value, bool(below), bool(hist)
        )
    return dict(out)


def share_levels(
    rows: Iterable[Sequence[Any]],
) -> dict[tuple[str, str, str, str], float | None]:
    """Share level rows (model, parent, region, metric, level) by their key."""
    return {(r[0], r[1], r[2], r[3]): float(r[4]) if r[4] is not None else None for r in rows}


LevelsByModel = dict[tuple[str, str, str], dict[str, float | None]]


def read_levels(
    rows: Iterable[Sequence[Any]], models: Iterable[tuple[str, str, str]]
) -> tuple[dict[tuple[str, str, str, str], float | None], LevelsByModel]:
    """Share level rows (`share_levels`), and the same levels by (model, region, metric) and
    parent, with every model asked (one never placed has none)."""
    found = share_levels(rows)
    by_model: LevelsByModel = {(m[0], m[1], m[2]): {} for m in models}
    for (model, parent, region, metric), level in found.items():
        by_model[(model, region, metric)][parent] = level
    return found, by_model


def kept_levels(
    kept: LevelsByModel, models: Sequence[tuple[str, str, str]]
) -> tuple[dict[tuple[str, str, str, str], float | None], list[tuple[str, str, str]]]:
    """The levels of `models` that `kept` knows, by (model, parent, region, metric), and the
    models it does not know."""
    found: dict[tuple[str, str, str, str], float | None] = {}
    missing: list[tuple[str, str, str]] = []
    for model in models:
        known = kept.get((model[0], model[1], model[2]))
        if known is None:
            missing.append(model)
            continue
        key, region, metric = model
        for parent, level in known.items():
            found[(key, parent, region, metric)] = level
    return found, missing


def keep_levels(
    kept: LevelsByModel,
    read: tuple[dict[str, int], LevelsByModel] | None,
    name: str,
    expected: int,
    written: Mapping[tuple[str, str, str, str], float | None],
) -> LevelsByModel:
    """The levels a connection knows after saving a detection from watermark `expected`:
    those it knew, those it read while the watermark was `expected` (no other detection
    saved between that read and this save), each updated by what the save wrote."""
    if read is not None and read[0].get(name, 0) == expected:  # 0: no watermark yet
        kept.update(read[1])
    for (model, parent, region, metric), level in written.items():
        known = kept.get((model, region, metric))
        if known is not None:
            known[parent] = level
    return kept


# a changed cell (source id, region, make key, model key) -> its earliest month and earliest
# news month (None: history only), as text: `YYYY-MM` orders as the months do
JournalCells = dict[tuple[int, str, str, str], list[str | None]]


def gather_journal(rows: Iterable[Sequence[Any]], cells: JournalCells) -> None:
    """Fold journal entries (source id, region, make key, model key, month, history) into
    `cells`, as `journal_changes`' GROUP BY would: SQLite's sorts every entry for it (a
    poll of 10,000 entries spent twice as long there as reading them plainly)."""
    for source_id, region, make_key, model_key, month, history in rows:
        key = (source_id, region, make_key, model_key)
        was = cells.get(key)
        if was is None:
            cells[key] = [month, None if history else month]
            continue
        if month < was[0]:
            was[0] = month
        if not history and (was[1] is None or month < was[1]):
            was[1] = month


def journal_cells(cells: JournalCells) -> list[tuple[int, str, str, str, Month, Month | None]]:
    """The gathered cells as `journal_changes` gives them, in their keys' order (a GROUP BY's)."""
    out = []
    for key in sorted(cells):
        earliest, news = cells[key]
        assert earliest is not None
        out.append((*key, parse_month(earliest), parse_month(news) if news else None))
    return out


def journal_changes(
    rows: Iterable[Sequence[Any]],
) -> list[tuple[int, str, str, str, Month, Month | None]]:
    """The journal's changed cells (source id, region, make key, model key, earliest month,
    earliest news month or None)."""
    return [
        (r[0], r[1], r[2], r[3], parse_month(r[4]), parse_month(r[5]) if r[5] else None)
        for r in rows
    ]
