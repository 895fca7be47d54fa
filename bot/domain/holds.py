"""Held figures in the store (issue 26, "Hold the implausible"): written once for both backends.

Each function takes the backend's `fetch` (rows of a query) and `run` (a statement), both over
`$N` placeholders, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.domain.event_codec import event_from_dict
from bot.domain.events import MilestoneEvent
from bot.domain.plausibility import (
    FIGURES_TO_JUDGE_SQL,
    JOURNALED_CELLS_SQL,
    Hold,
    HoldRule,
    hold_notice,
    judge,
)
from bot.domain.records import DetectionWrite, StoredEvent

Fetch = Callable[..., Awaitable[Sequence[Sequence[Any]]]]
Run = Callable[..., Awaitable[Any]]

HOLD_COLUMNS = (
    "h.id, s.name, h.make_key, h.model_key, h.region, h.period, h.month, h.metric, h.units, "
    "h.reason, h.place, (SELECT COUNT(*) FROM held_events e WHERE e.hold_id = h.id), h.state"
)


def hold_of(row: Sequence[Any]) -> Hold:
    """A `holds` row read with `HOLD_COLUMNS`."""
    return Hold(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        str(row[6]),
        str(row[7]),
        int(row[8]),
        str(row[9]),
        str(row[10]),
        int(row[11]),
        str(row[12]) == "released",
    )


async def judge_import(
    fetch: Fetch,
    run: Run,
    journal: tuple[int, int],
    source: str,
    file: str,
    aggregate: bool,
    rule: HoldRule | None,
    line: str,
) -> list[str]:
    """Drop the holds whose figure the journal range (first, last seq) revised, then hold the
    implausible figures it wrote (none with `rule` None: `--accept-jumps`); the notices."""
    first, last = journal
    await _revise(fetch, run, first, last)
    if rule is None:
        return []
    notices = []
    cells = {tuple(c) for c in await fetch(JOURNALED_CELLS_SQL, first, last)}
    figures = await fetch(FIGURES_TO_JUDGE_SQL, first, last)
    for row in sorted(figures, key=lambda r: (r[5], r[1], r[2], r[3], r[4])):
        source_id, make, model, region, period, month, units, metric, count, top = row
        if (source_id, make, model, region, month) not in cells:
            continue  # an earlier figure of a touched series: judged when it came
        reason = judge(int(units), int(count or 0), None if top is None else int(top), rule)
        if reason is None:
            continue
        key = (source_id, make, model, region, period)
        same = await fetch(
            "SELECT id FROM holds WHERE source_id = $1 AND make_key = $2 AND model_key = $3 "
            "AND region = $4 AND period = $5 AND units = $6 AND state = 'held'",
            *key,
            units,
        )
        if same:
            continue
        if aggregate:
            place = source
        else:
            found = await fetch(line, source_id, make, model, region, month, period)
            place = f"{file}:{found[0][0]}" if found and found[0][0] is not None else file
        ids = await fetch(
            "INSERT INTO holds (source_id, make_key, model_key, region, period, month, metric, "
            "units, reason, place) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            source_id,
            make,
            model,
            region,
            period,
            month,
            metric,
            units,
            reason,
            place,
        )
        names = await fetch(
            "SELECT m.display, k.display FROM models m JOIN makes k ON k.make_key = m.make_key "
            "WHERE m.make_key = $1 AND m.model_key = $2",
            make,
            model,
        )
        shown = f"{names[0][1]} {names[0][0]}" if names else f"{make} {model}"
        hold = Hold(
            int(ids[0][0]),
            source,
            make,
            model,
            region,
            period,
            month,
            metric,
            int(units),
            reason,
            place,
        )
        notices.append(hold_notice(hold, shown))
    return notices


async def _revise(fetch: Fetch, run: Run, first: int, last: int) -> None:
    """A held figure revised (or removed) takes with it the events and milestones it caused:
    they were never told, so nothing is corrected and a later crossing is a first one."""
    rows = await fetch(
        "SELECT h.id, h.units, (SELECT SUM(r.units) FROM records r WHERE "
        "r.source_id = h.source_id AND r.make_key = h.make_key AND r.model_key = h.model_key "
        "AND r.region = h.region AND r.period = h.period AND NOT r.cumulative) FROM holds h "
        "WHERE h.state = 'held' AND EXISTS (SELECT 1 FROM journal j WHERE j.seq >= $1 "
        "AND j.seq <= $2 AND j.source_id = h.source_id AND j.make_key = h.make_key "
        "AND j.model_key = h.model_key AND j.region = h.region AND j.month = h.month)",
        first,
        last,
    )
    for hold_id, units, now in rows:
        if now is not None and int(now) == int(units):
            continue
        events = await fetch(
            "SELECT e.id, e.payload FROM held_events h JOIN events e ON e.id = h.event_id "
            "WHERE h.hold_id = $1",
            hold_id,
        )
        for event_id, payload in events:
            event = event_from_dict(json.loads(payload))
            series = (event.subject.key, event.region, event.metric)
            if isinstance(event, MilestoneEvent):
                await run(
                    "DELETE FROM milestones WHERE subject_key = $1 AND region = $2 "
                    "AND metric = $3 AND lowest >= $4 AND lowest <= $5",
                    *series,
                    event.thresholds.lowest,
                    event.thresholds.highest,
                )
            # the series' kept state knew the held figure: it is read whole next time
            await run(
                "DELETE FROM series_state WHERE subject_key = $1 AND region = $2 AND metric = $3",
                *series,
            )
            await run("DELETE FROM held_events WHERE event_id = $1", event_id)
            await run("DELETE FROM events WHERE id = $1", event_id)
        await run("UPDATE holds SET state = 'revised' WHERE id = $1", hold_id)


async def hold_events(run: Run, held: Sequence[tuple[int, Sequence[int], Sequence[str]]]) -> None:
    """Keep each stored event (id, the holds it depends on, the subjects covering it) held."""
    for event_id, holds, covering in held:
        for hold_id in holds:
            await run(
                "INSERT INTO held_events (hold_id, event_id, covering) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                hold_id,
                event_id,
                json.dumps(list(covering)),
            )


async def release(fetch: Fetch, run: Run, hold_id: int) -> list[tuple[int, list[str]]]:
    """Release a hold; the events it no longer holds back (id, covering subjects), to fan out
    now. Raises LookupError when there is no such hold, ValueError when it is not held."""
    state = await fetch("SELECT state FROM holds WHERE id = $1", hold_id)
    if not state:
        raise LookupError(f"no hold {hold_id} (see `evbot held`)")
    if state[0][0] != "held":
        raise ValueError(f"hold {hold_id} is {state[0][0]}, not held")
    rows = await fetch(
        "SELECT event_id, covering FROM held_events WHERE hold_id = $1 ORDER BY event_id",
        hold_id,
    )
    await run("DELETE FROM held_events WHERE hold_id = $1", hold_id)
    await run("UPDATE holds SET state = 'released' WHERE id = $1", hold_id)
    free = []
    for event_id, covering in rows:
        if not await fetch("SELECT 1 FROM held_events WHERE event_id = $1", event_id):
            free.append((int(event_id), list(json.loads(covering))))
    return free


async def holds(fetch: Fetch, everything: bool = False) -> list[Hold]:
    """The holds still held (with `everything`, released and revised ones too), oldest first."""
    where = "" if everything else "WHERE h.state = 'held' "
    rows = await fetch(
        f"SELECT {HOLD_COLUMNS} FROM holds h JOIN sources s ON s.id = h.source_id {where}"
        "ORDER BY h.id"
    )
    return [hold_of(r) for r in rows]


async def held_event_ids(fetch: Fetch) -> set[int]:
    """The events held now."""
    return {int(r[0]) for r in await fetch("SELECT DISTINCT event_id FROM held_events")}


async def held_back(
    stored: list[tuple[StoredEvent, Sequence[str]]], write: DetectionWrite, run: Run
) -> list[tuple[StoredEvent, Sequence[str]]]:
    """Keep the newly stored events that depend on a held figure held (`write.holds`); the
    others, to fan out."""
    held_by = {id(e): h for e, h in zip(write.events, write.holds, strict=False) if h}
    if not held_by:
        return stored
    await hold_events(
        run, [(s.id, held_by[id(s.event)], k) for s, k in stored if id(s.event) in held_by]
    )
    return [(s, k) for s, k in stored if id(s.event) not in held_by]
