"""What follows merged spellings when `bot.store.key_merge.merge_spellings` makes them one
key: a journal entry marked history per merged series, milestones (one series', overlapping
ranges merged), events (renamed, payload and dedupe key too) and subscriptions (one channel's to
one subject merged into the oldest)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bot.domain.event_codec import dedupe_key, event_from_dict
from bot.store.migration_steps import MigrationSql

MILESTONE_COLUMNS = (
    "subject_key, region, metric, lowest, highest, count, ladder, subject_name, period, value, "
    "below, history, recorded_at"
)


async def journal_history(
    db: MigrationSql, series_from: dict[tuple[int, str, str, str], str]
) -> None:
    """One history entry per merged series from its first month, under its source's latest
    import: the next poll reads the series whole and announces nothing of it."""
    if not series_from:
        return
    latest = {
        int(s): int(i)
        for s, i in await db.rows("SELECT source_id, MAX(id) FROM imports GROUP BY source_id")
    }
    entries = sorted(
        (month, make_key, model_key, region, source_id)
        for (source_id, make_key, model_key, region), month in series_from.items()
        if source_id in latest
    )
    await db.many(
        "INSERT INTO journal (import_id, source_id, make_key, model_key, region, month, history) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (latest[source_id], source_id, make_key, model_key, region, month, True)
            for month, make_key, model_key, region, source_id in entries
        ],
    )


async def merge_milestones(db: MigrationSql, region_moves: dict[str, str]) -> None:
    """One series' milestones per subject and metric: of ranges that overlap, the earlier
    crossing stays (the kept spelling's on a tie); the next poll reconciles them silently."""
    spellings = sorted({*region_moves, *region_moves.values()})
    marks = ", ".join("?" for _ in spellings)
    rows = await db.rows(
        f"SELECT {MILESTONE_COLUMNS} FROM milestones WHERE region IN ({marks})", spellings
    )
    series: dict[tuple[str, str, str], list[Sequence[Any]]] = defaultdict(list)
    for row in rows:
        region = str(row[1])
        series[(row[0], region_moves.get(region, region), row[2])].append(row)
    kept_rows: list[list[Any]] = []
    for (_, kept_region, _), found in series.items():
        taken: list[tuple[int, int]] = []
        for row in sorted(found, key=lambda r: (r[8], r[1] != kept_region, r[3])):
            low, high = int(row[3]), max(int(row[4]), int(row[3]))
            if any(low <= top and bottom <= high for bottom, top in taken):
                continue
            taken.append((low, high))
            kept_rows.append([row[0], kept_region, *row[2:]])
    await db.run(f"DELETE FROM milestones WHERE region IN ({marks})", spellings)
    await db.many(
        f"INSERT INTO milestones ({MILESTONE_COLUMNS}) VALUES "
        f"({', '.join('?' for _ in MILESTONE_COLUMNS.split(','))})",
        kept_rows,
    )


async def rename_events(db: MigrationSql, region_moves: dict[str, str]) -> None:
    """Events of a merged region under the kept name, in the payload too; the dedupe key follows
    unless another event already holds it (that fact was stored once already)."""
    olds = sorted(region_moves)
    marks = ", ".join("?" for _ in olds)
    rows = await db.rows(
        f"SELECT id, region, payload, dedupe_key FROM events WHERE region IN ({marks}) ORDER BY id",
        olds,
    )
    for event_id, region, payload, key in rows:
        kept = region_moves[str(region)]
        data = json.loads(payload)
        data["region"] = kept
        for other in data.get("same_as", ()):
            other["region"] = region_moves.get(other.get("region"), other.get("region"))
        if "covers" in data:
            data["covers"] = [region_moves.get(c, c) for c in data["covers"]]
        try:
            new_key = dedupe_key(event_from_dict(data))
        except (KeyError, TypeError, ValueError):  # a payload this version cannot read: keep
            new_key = key
        if new_key != key and await db.rows(
            "SELECT 1 FROM events WHERE dedupe_key = ?", (new_key,)
        ):
            new_key = key
        await db.run(
            "UPDATE events SET region = ?, payload = ?, dedupe_key = ? WHERE id = ?",
            (kept, json.dumps(data), new_key, event_id),
        )


async def merge_subscriptions(db: MigrationSql, region_moves: dict[str, str]) -> None:
    """A channel's subscriptions to one subject in spellings of one region become its oldest,
    which takes the others' waiting digest items."""
    spellings = sorted({*region_moves, *region_moves.values()})
    marks = ", ".join("?" for _ in spellings)
    rows = await db.rows(
        "SELECT id, platform, workspace, channel, subject_key, region FROM subscriptions "
        f"WHERE region IN ({marks}) ORDER BY id",
        spellings,
    )
    groups: dict[tuple[Any, ...], list[tuple[int, str]]] = defaultdict(list)
    for sub_id, platform, workspace, channel, subject_key, region in rows:
        kept = region_moves.get(str(region), str(region))
        groups[(platform, workspace, channel, subject_key, kept)].append((int(sub_id), str(region)))
    for key, subs in groups.items():
        (keeper, region), others = subs[0], subs[1:]
        for other, _ in others:
            await db.run(
                "INSERT INTO digest_items (subscription_id, event_id) SELECT CAST(? AS BIGINT), "
                "event_id "
                "FROM digest_items WHERE subscription_id = ? "
                "ON CONFLICT (subscription_id, event_id) DO NOTHING",
                (keeper, other),
            )
            await db.run("DELETE FROM digest_items WHERE subscription_id = ?", (other,))
            await db.run("DELETE FROM subscriptions WHERE id = ?", (other,))
        if region != key[4]:
            await db.run("UPDATE subscriptions SET region = ? WHERE id = ?", (key[4], keeper))
