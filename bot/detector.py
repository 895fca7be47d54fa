"""The crossing detector: from the change journal to recorded milestones and events.

`Detector.poll` reads the journal since its watermark, recomputes only the series the changes
touch (a model's change moves its make, the groups it belonged to in that month, its region's
parents and the world), and records what it found with the watermark in one transaction.
`replay` runs the same per-series detection over the whole store, month by month, from an empty
state: what it shows is what a running bot would have announced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.config import Config
from bot.events import (
    Event,
    GrowthEvent,
    Leader,
    Metric,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.growth import eligible, record_month, year_to_date
from bot.ladders import Ladder, parse_ladder, union_next_above, union_up_to
from bot.milestones import (
    Correction,
    Recorded,
    apply_reconciliation,
    first_crossings,
    group_new,
    reconcile,
)
from bot.names import name_key, slug
from bot.periods import Month
from bot.projection import project
from bot.queries import SeriesReader, load_catalog, region_tree, total
from bot.records import DetectionWrite, JournalEntry, SeriesRef, StoredEvent
from bot.series import WORLD, cumulative, total_as_of
from bot.shares import ShareState, step_share
from bot.sqlite_store import SqliteStore
from bot.subjects import ALL, Catalog
from bot.subscriptions import FanoutPlan, Subscription, ladder_objects, plan_fanout

WATERMARK = "detector"
SUMMED_KINDS = ("make", "group", "all")  # growth is told for these, not for every model


def configured_ladders(config: Config) -> list[Ladder]:
    """The ladders milestones are detected over (their union)."""
    out = []
    for name in config.milestones.ladders:
        spec = config.ladders[name]
        out.append(parse_ladder(name, spec if isinstance(spec, str) else list(spec)))
    return out


@dataclass(frozen=True)
class SeriesKey:
    subject: Subject
    region: str
    metric: Metric

    def ref(self) -> SeriesRef:
        return SeriesRef(self.subject.key, self.subject.name, self.region, self.metric)


@dataclass
class MilestoneOutcome:
    """What one series' detection found: milestones to record, corrections, and the event."""

    recorded: dict[int, Recorded]
    new: list[Recorded] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    event: MilestoneEvent | None = None


def detect_milestones(
    key: SeriesKey,
    series: Sequence[tuple[Month, int]],
    recorded: Mapping[int, Recorded],
    ladders: Sequence[Ladder],
    news: bool,
    source: str = "",
    news_from: Month | None = None,
) -> MilestoneOutcome:
    """Reconcile a series' first crossings with what is recorded; one event for the new ones.

    A change moves the series only from its own month on, so a crossing before `news_from` (the
    earliest month a news change touched) was made by history alone: recorded, not announced.
    """
    if not series and not recorded:
        return MilestoneOutcome(dict(recorded))
    peak = max((v for _, v in series), default=0)
    thresholds = sorted(set(union_up_to(ladders, peak)) | set(recorded))
    reconciliation = reconcile(recorded, first_crossings(series, thresholds))
    outcome = MilestoneOutcome(
        apply_reconciliation(recorded, reconciliation),
        [Recorded(t, m, v) for t, m, v in reconciliation.new],
        reconciliation.corrections,
    )
    announced = [item for item in reconciliation.new if news_from is None or item[1] >= news_from]
    grouped = group_new(announced)
    if grouped and news:
        crossed, period, value = grouped[0]
        latest = series[-1][1]
        upcoming = union_next_above(ladders, latest)
        outcome.event = MilestoneEvent(
            subject=key.subject,
            region=key.region,
            metric=key.metric,
            thresholds=crossed,
            period=period,
            value=value,
            source=source,
            next_threshold=upcoming,
            projected=project(series, upcoming) if upcoming else None,
        )
    return outcome


def growth_events(
    key: SeriesKey,
    monthly: Mapping[Month, int],
    month: Month,
    config: Config,
    source: str = "",
) -> list[Event]:
    """Year-to-date change and a record month for a series' latest month, when not noise."""
    if not monthly:
        return []
    first = min(m for m, v in monthly.items() if v) if any(monthly.values()) else month
    total, _ = total_as_of(monthly, month)
    ms = config.milestones
    if not eligible(first, month, total, ms.min_months, ms.min_parent_total):
        return []
    events: list[Event] = []
    # a year-earlier window the subject only partly existed in is no comparison
    if key.subject.kind in SUMMED_KINDS and first <= Month(month.year - 1, 1):
        value, previous = year_to_date(monthly, month)
        if previous > 0:
            events.append(
                GrowthEvent(key.subject, key.region, key.metric, month, value, previous, source)
            )
    if key.metric == "sales":
        record = record_month(monthly, month)
        if record is not None:
            best, best_month = record
            events.append(
                RecordEvent(
                    key.subject,
                    key.region,
                    key.metric,
                    month,
                    monthly.get(month, 0),
                    best,
                    best_month,
                    source,
                )
            )
    return events


def share_step(
    level: float | None,
    model_total: int,
    parent_total: int,
    first: Month,
    month: Month,
    config: Config,
) -> tuple[float | None, float | None, str | None]:
    """(new level, boundary, direction) of a model's share in a parent after one observation."""
    ms = config.milestones
    if parent_total <= 0 or not eligible(
        first, month, parent_total, ms.min_months, ms.min_parent_total
    ):
        return level, None, None
    share = min(1.0, max(0.0, model_total / parent_total))
    state, crossing = step_share(
        ShareState(level), share, ms.share_band / 100, ms.share_hysteresis / 100
    )
    if crossing is None:
        return state.level, None, None
    return state.level, crossing.boundary, crossing.direction


def share_event(
    key: SeriesKey,
    parent: Subject,
    direction: str | None,
    boundary: float,
    units: int,
    parent_units: int,
    month: Month,
    source: str,
) -> ShareEvent:
    """The event for a model's share of a parent crossing a band boundary."""
    return ShareEvent(
        key.subject,
        parent,
        key.region,
        key.metric,
        "down" if direction == "down" else "up",
        boundary,
        units / parent_units,
        units,
        parent_units,
        month,
        source,
    )


class Detector:
    """Incremental detection over the store's change journal."""

    def __init__(
        self, store: SqliteStore, config: Config, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.subscription_ladders = ladder_objects(config.ladders)
        self._groups = [
            (
                Subject("group", f"group:{slug(g.name)}", g.name),
                [(name_key(m.make), m) for m in g.members],
            )
            for g in config.groups
        ]
        self.tree = region_tree(config)
        self.reader = SeriesReader(store, self.tree, list(config.groups))
        self.ladders = configured_ladders(config)

    async def poll(self) -> list[StoredEvent]:
        """Detect what changed since the watermark; returns the new events (news only)."""
        start = await self.store.watermark(WATERMARK)
        head = await self.store.journal_head()
        if head <= start:
            return []  # nothing new: no sales figures are read
        entries: list[JournalEntry] = []
        cursor = start
        while cursor < head:
            batch = await self.store.journal_since(cursor, limit=50_000)
            if not batch:
                break
            entries.extend(e for e in batch if e.seq <= head)
            cursor = batch[-1].seq
        catalog = await load_catalog(self.store, self.config)
        sources = {s.id: s for s in await self.store.sources()}
        # the changed cells, each with the earliest month a news (not history) change touched
        # (None: history only); then every series each one moves, with the same
        cells: dict[tuple[int, str, str, str], Month | None] = {}
        for entry in entries:
            cell = (entry.source_id, entry.region, entry.make_key, entry.model_key)
            earliest = cells.get(cell)
            if not entry.history and (earliest is None or entry.month < earliest):
                cells[cell] = entry.month
            else:
                cells.setdefault(cell, None)
        months: dict[tuple[int, str, str, str], Month] = {}
        for entry in entries:  # group membership is decided by the month of the change
            cell = (entry.source_id, entry.region, entry.make_key, entry.model_key)
            if cell not in months or entry.month < months[cell]:
                months[cell] = entry.month
        touched: dict[SeriesKey, Month | None] = {}
        for cell, news_from in cells.items():
            source_id, region, make_key, model_key = cell
            metric: Metric = "stock" if sources[source_id].metric == "stock" else "sales"
            for key in self._series_of(region, make_key, model_key, months[cell], metric, catalog):
                earliest = touched.get(key)
                if news_from is not None and (earliest is None or news_from < earliest):
                    touched[key] = news_from
                else:
                    touched.setdefault(key, None)
        source_name = {s.id: s.name for s in sources.values()}
        names = sorted({source_name[e.source_id] for e in entries})
        self.reader.snapshot = list(sources.values())
        try:
            write = await self._detect(touched, catalog, ", ".join(names))
        finally:
            self.reader.snapshot = None
        write.event_keys = [self.covering(e.subject, e.period, catalog) for e in write.events]
        ladders = self.subscription_ladders

        def plan_for(
            events: list[tuple[StoredEvent, Sequence[str]]], subs: list[Subscription]
        ) -> FanoutPlan:
            return plan_fanout(events, subs, ladders)

        return await self.store.save_detection(
            WATERMARK, start, head, write, plan_for, self.clock()
        )

    def covering(self, subject: Subject, month: Month, catalog: Catalog) -> list[str]:
        """The subjects whose subscriptions cover an event about `subject`: itself, its make,
        the groups its make belonged to that month, and everything."""
        keys = [subject.key]
        make_key = ""
        if subject.kind == "model":
            make_key = subject.key.removeprefix("model:").split("/", 1)[0]
            keys.append(f"make:{make_key}")
        elif subject.kind == "make":
            make_key = subject.key.removeprefix("make:")
        if make_key:
            keys.extend(g.key for g in self._groups_of(make_key, month))
        if ALL.key not in keys:
            keys.append(ALL.key)
        return keys

    def _groups_of(self, make_key: str, month: Month) -> list[Subject]:
        """The groups a make belonged to in a month."""
        return [
            subject
            for subject, members in self._groups
            if any(key == make_key and m.covers(month) for key, m in members)
        ]

    def _series_of(
        self,
        region: str,
        make_key: str,
        model_key: str,
        month: Month,
        metric: Metric,
        catalog: Catalog,
    ) -> Iterable[SeriesKey]:
        regions = [region]
        parent = self.config.region_parents.get(region)
        while parent is not None and parent not in regions:
            regions.append(parent)
            parent = self.config.region_parents.get(parent)
        if WORLD not in regions:
            regions.append(WORLD)
        subjects: list[Subject] = [ALL]
        if make_key:
            make = catalog.makes.get(make_key, make_key)
            subjects.append(Subject("make", f"make:{make_key}", make))
            subjects.extend(self._groups_of(make_key, month))
        if model_key:
            model = catalog.model(make_key, model_key)
            name = f"{model.make} {model.model}" if model else model_key
            subjects.append(Subject("model", f"model:{make_key}/{model_key}", name))
        for subject in subjects:
            for where in regions:
                yield SeriesKey(subject, where, metric)

    async def _detect(
        self, touched: Mapping[SeriesKey, Month | None], catalog: Catalog, source: str
    ) -> DetectionWrite:
        write = DetectionWrite()
        monthly_cache: dict[SeriesKey, dict[Month, int]] = {}
        totals: dict[tuple[SeriesKey, Month], int] = {}  # a parent's total, once per month

        async def monthly(key: SeriesKey) -> dict[Month, int]:
            if key not in monthly_cache:
                monthly_cache[key] = await self.reader.monthly(key.subject, key.region, key.metric)
            return monthly_cache[key]

        for key, news_from in sorted(touched.items(), key=lambda kv: _order(kv[0])):
            news = news_from is not None
            series_monthly = await monthly(key)
            series = cumulative(series_monthly)
            recorded = await self.store.recorded_milestones(key.subject.key, key.region, key.metric)
            outcome = detect_milestones(
                key, series, recorded, self.ladders, news, source, news_from
            )
            ref = key.ref()
            told = set(outcome.event.thresholds) if outcome.event else set()
            for rec in outcome.new:
                write.milestones.append((ref, rec, rec.threshold not in told))
            for correction in outcome.corrections:
                write.corrections.append((ref, correction))
                write.milestones.append((ref, outcome.recorded[correction.threshold], not news))
            if outcome.event is not None:
                event = outcome.event
                if key.subject.kind in ("make", "group"):
                    leader = await self._leader(key, catalog, event.period, event.value)
                    event = _with_leader(event, leader)
                write.events.append(event)
            if not news or not series:
                continue
            latest = series[-1][0]
            write.events.extend(growth_events(key, series_monthly, latest, self.config, source))
            if key.subject.kind == "model":
                for parent in self._parents(key.subject, catalog, latest):
                    pkey = SeriesKey(parent, key.region, key.metric)
                    if (pkey, latest) not in totals:
                        totals[(pkey, latest)], _ = total_as_of(await monthly(pkey), latest)
                    parent_total = totals[(pkey, latest)]
                    model_total, _ = total_as_of(series_monthly, latest)
                    level_key = (key.subject.key, parent.key, key.region, key.metric)
                    level = await self.store.share_level(level_key)
                    first = series[0][0]
                    new_level, boundary, direction = share_step(
                        level, model_total, parent_total, first, latest, self.config
                    )
                    write.share_levels[level_key] = new_level
                    if boundary is not None:
                        write.events.append(
                            share_event(
                                key,
                                parent,
                                direction,
                                boundary,
                                model_total,
                                parent_total,
                                latest,
                                source,
                            )
                        )
        return write

    def _parents(self, model: Subject, catalog: Catalog, month: Month) -> list[Subject]:
        make_key = model.key.removeprefix("model:").split("/", 1)[0]
        make = Subject("make", f"make:{make_key}", catalog.makes.get(make_key, make_key))
        return [make, *self._groups_of(make_key, month)]

    async def _leader(
        self, key: SeriesKey, catalog: Catalog, period: Month, parent_total: int
    ) -> Leader | None:
        answer = await total(self.reader, catalog, key.subject, key.region, period, key.metric)
        if not answer.breakdown or parent_total <= 0:
            return None
        top = answer.breakdown[0]
        return Leader(top.name, top.units, top.units / parent_total)


def _with_leader(event: MilestoneEvent, leader: Leader | None) -> MilestoneEvent:
    return MilestoneEvent(
        subject=event.subject,
        region=event.region,
        metric=event.metric,
        thresholds=event.thresholds,
        period=event.period,
        value=event.value,
        source=event.source,
        leader=leader,
        next_threshold=event.next_threshold,
        projected=event.projected,
    )


_KIND_ORDER = {"group": 0, "make": 1, "model": 2, "all": 3, "region": 4}


def _order(key: SeriesKey) -> tuple[int, str, str, str]:
    return (_KIND_ORDER[key.subject.kind], key.subject.name, key.region, key.metric)
