"""`evbot replay`: every announcement the store's figures would have made, month by month.

It starts from an empty detector state and feeds each series one month at a time through the
same per-series detection the running bot uses, so what it prints is what subscribers would have
been told (all of it news: replay has no history). Each fact is shown once, as one channel
following everything with every kind would hear it: by its most specific event (the Leaf in the
USA, not the Leaf worldwide nor Nissan, when those are the Leaf in the USA alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.detection.detector import Detector
from bot.detection.fact_cells import BasisCell
from bot.detection.steps import (
    SeriesKey,
    detect_milestones,
    growth_events,
    series_order,
    share_event,
    share_step,
    with_leader,
)
from bot.domain.coverage import dressed, source_facts, tell
from bot.domain.events import Event, GrowthEvent, Metric, Subject
from bot.domain.facts import one_per_fact
from bot.domain.ladders import union_next_above
from bot.domain.milestones import Recorded
from bot.domain.periods import Month, month_range
from bot.domain.series import WORLD, cumulative
from bot.domain.settings import Config
from bot.domain.subjects import ALL, Catalog, SubjectKey
from bot.domain.unlike_years import why_not
from bot.ports.store import BotStore
from bot.reading.queries import load_catalog

KINDS = ("milestone", "share", "growth", "record")


@dataclass(frozen=True)
class _Series:
    key: SeriesKey
    monthly: dict[Month, int]
    points: list[tuple[Month, int]]
    index: dict[Month, int]  # month -> position in points


async def replay(
    store: BotStore,
    config: Config,
    first: Month | None = None,
    last: Month | None = None,
    kinds: Sequence[str] = KINDS,
    regions: Sequence[str] | None = None,
    untold: list[tuple[Event, str]] | None = None,
) -> list[Event]:
    """The events of every month from the first figure on, those from `first` to `last` kept;
    `untold` receives those not told for comparing unlike figures, each with the reason."""
    detector = Detector(store, config)
    catalog = await load_catalog(store, config)
    subjects: list[Subject] = [catalog.resolve(g.name).subject for g in config.groups]
    subjects += [
        Subject("make", SubjectKey.for_make(k), v) for k, v in sorted(catalog.makes.items()) if k
    ]
    subjects += [
        Subject("model", SubjectKey.for_model(m.make_key, m.model_key), f"{m.make} {m.model}")
        for m in catalog.models
    ]
    subjects.append(ALL)
    chosen_regions = (
        list(regions) if regions else [WORLD, *(r for r in catalog.regions if r != WORLD)]
    )
    metrics: list[Metric] = sorted(
        {"stock" if s.metric == "stock" else "sales" for s in await store.sources()}
    )
    known = await store.sources()
    source = ""  # each event cites the sources behind its own figure (`bot.domain.coverage.tell`)
    facts = source_facts(known, config)
    bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
    table: dict[SeriesKey, _Series] = {}
    for metric in metrics:
        for subject in subjects:
            for region in chosen_regions:
                key = SeriesKey(subject, region, metric)
                basis: dict[int, set[tuple[str, int]]] = {}
                monthly = await detector.reader.monthly(subject, region, metric, basis)
                if not monthly:
                    continue
                bases[key] = basis
                points = cumulative(monthly)
                table[key] = _Series(
                    key, monthly, points, {m: i for i, (m, _) in enumerate(points)}
                )
    if not table:
        return []
    start = min(s.points[0][0] for s in table.values())
    end = max(s.points[-1][0] for s in table.values())
    recorded: dict[SeriesKey, dict[int, Recorded]] = {k: {} for k in table}
    levels: dict[tuple[str, str, str, str], float | None] = {}
    out: list[Event] = []
    cells: dict[str, list[BasisCell]] = {}  # each subject's cells, read once: the store is still
    ordered = sorted(table, key=series_order)
    for month in month_range(start, end):
        month_events: list[Event] = []
        for key in ordered:
            series = table[key]
            i = series.index.get(month)
            if i is None:
                continue
            value = series.points[i][1]
            done = max((r.highest for r in recorded[key].values()), default=0)
            upcoming = union_next_above(detector.ladders, done)
            if upcoming is not None and value >= upcoming:
                outcome = detect_milestones(
                    key, series.points[: i + 1], recorded[key], detector.ladders, True, source
                )
                recorded[key] = outcome.recorded
                if outcome.event is not None:
                    event = outcome.event
                    if key.subject.kind in ("make", "group"):
                        leader = await detector.reads.leader(
                            key, catalog, event.period, event.value
                        )
                        event = with_leader(event, leader)
                    month_events.append(event)
            month_events.extend(growth_events(key, series.monthly, month, config, source))
            if key.subject.kind == "model":
                month_events.extend(
                    _shares(detector, catalog, table, levels, key, series, month, config, source)
                )
        if (first is None or month >= first) and (last is None or month <= last):
            kept: list[Event] = []
            for found in month_events:
                about = SeriesKey(found.subject, found.region, found.metric)
                told = tell(found, bases[about], table[about].monthly, facts)
                reason = ""
                if told is None:
                    reason = why_not(found, bases[about], facts)
                elif isinstance(told, GrowthEvent):
                    reason = await detector.reads.unlike_parts(told, bases[about])
                if not reason and told is not None:
                    kept.append(told)
                elif untold is not None and found.kind in kinds:
                    untold.append((dressed(found, bases[about], facts), reason))
            once = one_per_fact(await detector.facts.bases(kept, cells))
            out.extend(e for e in once if e.kind in kinds)
    return out


def _shares(
    detector: Detector,
    catalog: Catalog,
    table: dict[SeriesKey, _Series],
    levels: dict[tuple[str, str, str, str], float | None],
    key: SeriesKey,
    series: _Series,
    month: Month,
    config: Config,
    source: str,
) -> list[Event]:
    events: list[Event] = []
    model_total = series.points[series.index[month]][1]
    for parent in detector.hierarchy.parents(key.subject, catalog, month):
        parent_series = table.get(SeriesKey(parent, key.region, key.metric))
        if parent_series is None:
            continue
        parent_total = _as_of(parent_series, month)
        level_key = (key.subject.key, parent.key, key.region, key.metric)
        level, boundary, direction = share_step(
            levels.get(level_key), model_total, parent_total, series.points[0][0], month, config
        )
        levels[level_key] = level
        if boundary is not None:
            events.append(
                share_event(
                    key, parent, direction, boundary, model_total, parent_total, month, source
                )
            )
    return events


def _as_of(series: _Series, month: Month) -> int:
    best = 0
    for m, v in series.points:
        if m > month:
            break
        best = v
    return best
