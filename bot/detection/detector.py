"""The crossing detector: from the change journal to recorded milestones and events.

`Detector.poll` reads the journal since its watermark, recomputes only the series the changes
touch (a model's change moves its make, the groups it belonged to from that month on, its
region's parents and the world), and records what it found with the watermark in one
transaction. A series whose changes all lie after the month it was last detected at continues
from its kept state (`bot.domain.series_state`) with the new months' figures; any other change
re-reads
its whole history.
`replay` runs the same per-series detection over the whole store, month by month, from an empty
state: what it shows is what a running bot would have announced.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

from bot.domain.bulk import gc_paused, without_gc
from bot.domain.corrections import correction_events
from bot.domain.coverage import Basis, source_facts, tell, unlike_parts
from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    Leader,
    Metric,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.facts import basis_of, candidate_groups, mark_same, month_index, window
from bot.domain.growth import eligible, record_month, year_to_date
from bot.domain.ladders import Ladder, RungSet, parse_ladder, union_next_above, union_rungs
from bot.domain.milestones import Correction, Recorded, crossing_ranges, group_new, reconcile
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.plausibility import Hold
from bot.domain.projection import project
from bot.domain.records import (
    DetectionWrite,
    GroupMember,
    IncRow,
    ModelName,
    SeriesRef,
    SourceInfo,
    StoredEvent,
)
from bot.domain.series import (
    WORLD,
    RegionTree,
    cumulative,
    own_region_basis,
    regional_increments,
    total_as_of,
)
from bot.domain.series_state import SeriesState, SeriesView, continue_one, continue_view, whole_view
from bot.domain.settings import Config
from bot.domain.shares import ShareState, step_share
from bot.domain.subjects import ALL, Catalog, SubjectKey
from bot.domain.subscriptions import FanoutPlan, Subscription, ladder_objects, plan_fanout
from bot.ports.store import BotStore
from bot.reading.queries import (
    SeriesReader,
    counted,
    load_catalog,
    region_tree,
    sample_sources,
    total,
)

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

    def __hash__(self) -> int:
        # a poll hashes thousands of keys many times; the subject's key stands for it
        return hash((self.subject.key, self.region, self.metric))

    def ref(self) -> SeriesRef:
        return SeriesRef(self.subject.key, self.subject.name, self.region, self.metric)


@dataclass
class MilestoneOutcome:
    """What one series' detection found: the ranges to write and drop, corrections, the event.

    `recorded` is what is recorded for the series after it, by lowest threshold.
    """

    recorded: dict[int, Recorded]
    new: list[Recorded] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    written: list[Recorded] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    event: MilestoneEvent | None = None


def detect_milestones(
    key: SeriesKey,
    series: Sequence[tuple[Month, int]],
    recorded: Mapping[int, Recorded],
    ladders: Sequence[Ladder] | RungSet,
    news: bool,
    source: str = "",
    news_from: Month | None = None,
    prior_peak: int | None = None,
) -> MilestoneOutcome:
    """Reconcile a series' crossings with what is recorded; one event for the new ones.

    A change moves the series only from its own month on, so a crossing before `news_from` (the
    earliest month a news change touched) was made by history alone: recorded, not announced.
    New ranges carry `history` accordingly.

    With `prior_peak`, `series` is only the part since a kept state whose peak it was: every
    threshold up to that peak is recorded and stands (its first crossing is older), so only the
    thresholds above it are looked for, and `recorded` need only hold those (and any flagged
    below). Which thresholds were crossed is arithmetic on the ladders: the cost is that of
    the series' months, never of the thresholds between its figures.
    """
    if not series and not recorded:
        return MilestoneOutcome(dict(recorded))
    rungs = ladders if isinstance(ladders, RungSet) else union_rungs(ladders)
    if prior_peak is not None and not recorded:
        peak = max((v for _, v in series), default=0)
        if peak < (rungs.next_above(prior_peak) or peak + 1):
            return MilestoneOutcome({})  # the usual month: no threshold above the kept peak
    computed = crossing_ranges(series, rungs, prior_peak)
    found = reconcile(recorded, computed, rungs, prior_peak)
    announced = [r for r in found.new if news and (news_from is None or r.period >= news_from)]
    told = {r.lowest for r in announced}
    # a new range is history unless it is told; the rest keep what they were
    fresh = {r.lowest for r in found.new}
    written = [
        replace(r, history=r.lowest not in told) if r.lowest in fresh else r for r in found.written
    ]
    for r in written:
        found.recorded[r.lowest] = r
    outcome = MilestoneOutcome(
        found.recorded,
        [replace(r, history=r.lowest not in told) for r in found.new],
        found.corrections,
        written,
        found.dropped,
    )
    grouped = group_new(announced, rungs.spec)
    if grouped is not None:
        crossed, period, value = grouped
        latest = series[-1][1]
        upcoming = rungs.next_above(latest)
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
    return growth_events_from(
        key, monthly, month, first, total, lambda: record_month(monthly, month), config, source
    )


def growth_events_from(
    key: SeriesKey,
    recent: Mapping[Month, int],
    month: Month,
    first: Month,
    total: int,
    record: Callable[[], tuple[int, Month] | None],
    config: Config,
    source: str = "",
) -> list[Event]:
    """`growth_events` from what it needs: the figures of `month` and of the months since
    January of the year before (`recent`), the first month with units (`first`), the cumulative
    figure at `month`, and `record`, the previous best month when `month` beats it (asked for
    only when the subject is eligible)."""
    ms = config.milestones
    if key.metric == "stock":
        return []  # stock is a level: told as vehicles registered, never as a month's additions
    if not eligible(first, month, total, ms.min_months, ms.min_parent_total):
        return []
    events: list[Event] = []
    # a year-earlier window the subject only partly existed in is no comparison
    if key.subject.kind in SUMMED_KINDS and first <= Month(month.year - 1, 1):
        value, previous = year_to_date(recent, month)
        if previous > 0:
            events.append(
                GrowthEvent(key.subject, key.region, key.metric, month, value, previous, source)
            )
    if key.metric == "sales":
        found = record()
        if found is not None:
            best, best_month = found
            events.append(
                RecordEvent(
                    key.subject,
                    key.region,
                    key.metric,
                    month,
                    recent.get(month, 0),
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


def fingerprints(
    config: Config, ladders: Sequence[Ladder], sources: Sequence[SourceInfo]
) -> tuple[str, frozenset[str]]:
    """(the fingerprint to keep with new series states, every fingerprint a kept state may carry
    and still hold).

    A state holds only under the ladders, regions, groups and sources it was computed with. A
    source added since does not change what the older ones gave (its figures are all in the
    journal), so a state from before it still holds; a change to any earlier source (priority,
    running totals) or to the configuration does not.
    """
    shape = repr(
        (
            sorted({(ladder.prefix, ladder.step) for ladder in ladders}),
            sorted(config.region_aggregates),
            sorted(config.region_parents.items()),
            [
                (
                    g.name,
                    [(name_key(m.make), str(m.valid_from), str(m.valid_to)) for m in g.members],
                )
                for g in config.groups
            ],
        )
    )
    digest = hashlib.sha256(shape.encode())
    current = f"0:{digest.hexdigest()[:16]}"
    valid = {current}
    for s in sorted(sources, key=lambda s: s.id):
        digest.update(repr((s.id, s.metric, s.priority, s.running)).encode())
        current = f"{s.id}:{digest.hexdigest()[:16]}"
        valid.add(current)
    return current, frozenset(valid)


class NameBook(Protocol):
    """What detection needs of a catalog: the display names of makes and models."""

    @property
    def makes(self) -> Mapping[str, str]: ...

    def model(self, make_key: str, model_key: str) -> ModelName | None: ...


class PollNames:
    """The names a poll needs, without building the whole catalog's name index (costly with
    thousands of models) unless an event needs it (a make's or group's leading model)."""

    def __init__(
        self,
        makes: Mapping[str, str],
        models: Sequence[ModelName],
        load: Callable[[], Awaitable[Catalog]],
    ) -> None:
        self.makes = makes
        self._models = {(m.make_key, m.model_key): m for m in models}
        self._load = load
        self._catalog: Catalog | None = None

    def model(self, make_key: str, model_key: str) -> ModelName | None:
        """A model's display names."""
        return self._models.get((make_key, model_key))

    async def catalog(self) -> Catalog:
        """The whole catalog, loaded once."""
        if self._catalog is None:
            self._catalog = await self._load()
        return self._catalog


@dataclass
class Detection:
    """What one detection found: what to record, and the state to keep for each series."""

    write: DetectionWrite
    states: list[SeriesState] = field(default_factory=list)
    continued: int = 0  # series continued from their state (the rest were read whole)


# what a detection found, and the events that still need a projection pace or a leader
Found = tuple[Detection, list[tuple[int, SeriesKey]], list[tuple[int, SeriesKey]]]
Triple = tuple[str, str, str]  # subject key, region, metric: how the store keys a series
YearSources = frozenset[tuple[str, int]]
# a cell with units, as a fact's basis needs it: month index, month, source, region, make, model
BasisCell = tuple[int, Month, int, str, str, str]
Parent = tuple[Subject, SeriesKey, int | None]  # a parent, and its total when a view gave it


@dataclass(slots=True)
class _Work:
    """One touched series through a detection."""

    key: SeriesKey
    triple: Triple
    news_from: Month | None
    changed: Month | None
    state: SeriesState | None = None  # set while it may continue from its kept state
    view: SeriesView | None = None
    year_sources: YearSources = frozenset()
    parents: Sequence[Parent] = ()  # a model's, as of its latest month
    model_keys: tuple[str, str] = ("", "")  # a model's make and model keys


@dataclass
class Window:
    """The makes' cells from `first` to `last`, read once for a poll's events."""

    first: Month
    last: Month
    by_make: dict[str, list[IncRow]] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)  # the makes read, with cells or not
    everything: list[IncRow] | None = None  # all makes' sums, when a total of all EVs asks


class Detector:
    """Incremental detection over the store's change journal."""

    def __init__(
        self, store: BotStore, config: Config, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.subscription_ladders = ladder_objects(config.ladders)
        self._groups = [
            (
                Subject("group", SubjectKey.for_group(g.name), g.name),
                [(name_key(m.make), m) for m in g.members],
            )
            for g in config.groups
        ]
        self._memberships: dict[str, list[tuple[Subject, GroupMember]]] = defaultdict(list)
        for subject, members in self._groups:
            for make_key, member in members:
                self._memberships[make_key].append((subject, member))
        self.tree = region_tree(config)
        self.reader = SeriesReader(store, self.tree, list(config.groups), sample_sources(config))
        self.ladders = configured_ladders(config)
        self.rungs = union_rungs(self.ladders)  # what milestones are detected over
        self.continued = 0  # series the last poll continued from their kept state
        self._chains: dict[str, frozenset[str]] | None = None  # region -> regions it moves

    async def poll(self) -> list[StoredEvent]:
        """Detect what changed since the watermark; returns the new events (news only)."""
        # tens of thousands of short-lived rows and records, none in a cycle: a collection at
        # each burst walked every live object for nothing (0.05-0.1 s of a 10,000-model poll)
        with gc_paused():
            return await self._poll()

    async def _poll(self) -> list[StoredEvent]:
        self.continued = 0
        start = await self.store.watermark(WATERMARK)
        head = await self.store.journal_head()
        if head <= start:
            return []  # nothing new: no sales figures are read
        cells = await self.store.journal_changes(start, head)
        makes, models = await self.store.make_names(), await self.store.model_names()
        sources = {s.id: s for s in await self.store.sources()}

        def touched_by() -> tuple[
            PollNames, dict[SeriesKey, Month | None], dict[SeriesKey, Month], str
        ]:
            names = PollNames(makes, models, lambda: load_catalog(self.store, self.config))
            touched, changed = self._touched(cells, sources, names)
            told = ", ".join(sorted({sources[cell[0]].name for cell in cells}))
            return names, touched, changed, told

        # the CPU-bound steps of a poll run off the event loop, without the cyclic collector
        # walking every live object at each burst of small allocations (see bot.domain.bulk)
        names, touched, changed, told = await asyncio.to_thread(without_gc, touched_by)
        self.reader.snapshot = list(sources.values())
        try:
            detection = await self._detect(touched, names, told, changed)
        finally:
            self.reader.snapshot = None
        self.continued = detection.continued
        write = detection.write
        write.events[:] = await self.bases(write.events)
        write.event_keys = await asyncio.to_thread(
            without_gc, lambda: [self.covering(e.subject, e.period, names) for e in write.events]
        )
        held = await self.store.holds()
        if held:
            write.holds = self.held_by(write.events, held)
        ladders = self.subscription_ladders

        def plan_for(
            events: list[tuple[StoredEvent, Sequence[str]]], subs: list[Subscription]
        ) -> FanoutPlan:
            return plan_fanout(events, subs, ladders)

        return await self.store.save_detection(
            WATERMARK, start, head, write, plan_for, self.clock(), states=detection.states
        )

    def _touched(
        self,
        cells: Iterable[tuple[int, str, str, str, Month, Month | None]],
        sources: Mapping[int, SourceInfo],
        names: NameBook,
    ) -> tuple[dict[SeriesKey, Month | None], dict[SeriesKey, Month]]:
        """Every series the changed cells (`BotStore.journal_changes`) move, with the
        earliest month a news (not history) change moved it from (None: history only), and
        the earliest month any change did."""
        # keyed by (subject key, region, metric) while collecting: cheap to hash
        touched: dict[tuple[str, str, Metric], Month | None] = {}
        changed: dict[tuple[str, str, Metric], Month] = {}
        subjects: dict[str, Subject] = {ALL.key: ALL}
        regions: dict[str, list[str]] = {}
        makes: dict[str, str] = {}  # make key -> subject key
        metrics: dict[int, Metric] = {
            i: "stock" if s.metric == "stock" else "sales" for i, s in sources.items()
        }
        for source_id, region, make_key, model_key, earliest, news_from in cells:
            metric = metrics[source_id]
            where = regions.get(region)
            if where is None:
                where = regions[region] = self._regions_of(region)
            moves: Iterable[tuple[str, Month, Month | None]]
            if make_key in self._memberships or not (make_key and model_key):
                moves = self._moves(make_key, model_key, earliest, news_from, names, subjects)
            else:
                # the usual cell, of a model whose make is in no group: `_moves` inline
                make = makes.get(make_key)
                if make is None:
                    make = makes[make_key] = SubjectKey.for_make(make_key)
                    if make not in subjects:
                        subjects[make] = Subject("make", make, names.makes.get(make_key, make_key))
                model = SubjectKey.for_model(make_key, model_key)
                if model not in subjects:
                    found = names.model(make_key, model_key)
                    name = f"{found.make} {found.model}" if found else model_key
                    subjects[model] = Subject("model", model, name)
                moves = (
                    (ALL.key, earliest, news_from),
                    (make, earliest, news_from),
                    (model, earliest, news_from),
                )
            for subject_key, moved, news in moves:
                for place in where:
                    triple = (subject_key, place, metric)
                    was = changed.get(triple)
                    if was is None:
                        changed[triple], touched[triple] = moved, news
                        continue
                    # months parsed once are shared: the same month is usually the same object
                    if moved is not was and moved < was:
                        changed[triple] = moved
                    if news is not None:
                        told = touched[triple]
                        if told is None or (news is not told and news < told):
                            touched[triple] = news
        out_touched: dict[SeriesKey, Month | None] = {}
        out_changed: dict[SeriesKey, Month] = {}
        for (subject_key, place, metric), moved in changed.items():
            key = SeriesKey(subjects[subject_key], place, metric)
            out_touched[key] = touched[(subject_key, place, metric)]
            out_changed[key] = moved
        return out_touched, out_changed

    def _moves(
        self,
        make_key: str,
        model_key: str,
        earliest: Month,
        news_from: Month | None,
        names: NameBook,
        subjects: dict[str, Subject],
    ) -> list[tuple[str, Month, Month | None]]:
        """The subjects one cell's change moves, as (subject key, moved from, news from); each
        subject is remembered in `subjects`."""
        moves = [(ALL.key, earliest, news_from)]
        if make_key:
            key = SubjectKey.for_make(make_key)
            if key not in subjects:
                subjects[key] = Subject("make", key, names.makes.get(make_key, make_key))
            moves.append((key, earliest, news_from))
            if make_key in self._memberships:
                news_groups = self._groups_from(make_key, news_from) if news_from else {}
                for group, joined in self._groups_from(make_key, earliest).items():
                    subjects[group.key] = group
                    moves.append((group.key, joined, news_groups.get(group)))
        if model_key:
            key = SubjectKey.for_model(make_key, model_key)
            model = names.model(make_key, model_key)
            name = f"{model.make} {model.model}" if model else model_key
            subjects[key] = Subject("model", key, name)
            moves.append((key, earliest, news_from))
        return moves

    def covering(self, subject: Subject, month: Month, catalog: NameBook) -> list[str]:
        """The subjects whose subscriptions cover an event about `subject`: itself, its make,
        the groups its make belonged to that month, and everything."""
        keys = [subject.key]
        make_key = ""
        if subject.kind == "model":
            make_key = SubjectKey.parse(subject.key).make
            keys.append(SubjectKey.for_make(make_key))
        elif subject.kind == "make":
            make_key = SubjectKey.parse(subject.key).make
        if make_key:
            keys.extend(g.key for g in self._groups_of(make_key, month))
        if ALL.key not in keys:
            keys.append(ALL.key)
        return keys

    def held_by(self, events: Sequence[Event], holds: Sequence[Hold]) -> list[tuple[int, ...]]:
        """The holds each event depends on (issue 26): an event about the held model, its make,
        its groups or everything, in the figure's region or one holding it, of its metric, from
        its month on. A milestone depends on it when some threshold it tells was crossed only
        because of it (its value less the held figure is below its highest threshold); a
        correction never does (it tells of what was told)."""
        out: list[tuple[int, ...]] = []
        for event in events:
            ids: list[int] = []
            if not isinstance(event, CorrectionEvent):
                for hold in self.holds_under(
                    event.subject.key, event.region, event.metric, event.period, holds
                ):
                    if isinstance(event, MilestoneEvent) and (
                        event.value - hold.units >= event.thresholds.highest
                    ):
                        continue
                    ids.append(hold.id)
            out.append(tuple(ids))
        return out

    def holds_under(
        self, subject_key: str, region: str, metric: str, month: Month, holds: Sequence[Hold]
    ) -> list[Hold]:
        """The held figures a figure of the subject in the region through `month` sums: of its
        metric, about a model it covers, in the region or one inside it, not after `month`."""
        found = []
        place = self.tree.key(region)
        for hold in holds:
            held_month = Month.parse(hold.month)
            if hold.metric != metric or month < held_month:
                continue
            if place != self.tree.key(hold.region) and place not in self.tree.containers(
                hold.region
            ):
                continue
            subjects = {
                SubjectKey.for_model(hold.make_key, hold.model_key),
                SubjectKey.for_make(hold.make_key),
                ALL.key,
                *(g.key for g in self._groups_of(hold.make_key, held_month)),
            }
            if subject_key in subjects:
                found.append(hold)
        return found

    def _groups_of(self, make_key: str, month: Month) -> list[Subject]:
        """The groups a make belonged to in a month, in configuration order."""
        found: list[Subject] = []
        for subject, member in self._memberships.get(make_key, ()):
            if member.covers(month) and subject not in found:
                found.append(subject)
        return found

    def _groups_from(self, make_key: str, month: Month) -> dict[Subject, Month]:
        """The groups a make belonged to in `month` or later, each with the first such month:
        a change from `month` on moves a group only from when the make was in it."""
        first: dict[Subject, Month] = {}
        for subject, member in self._memberships.get(make_key, ()):
            if member.valid_to is not None and member.valid_to < month:
                continue
            joined = month if member.valid_from is None else max(month, member.valid_from)
            if subject not in first or joined < first[subject]:
                first[subject] = joined
        return first

    def _moving(self, region: str) -> Callable[[str], bool]:
        """Whether a cell in a region moves the series of `region` (as `_touched` decides):
        only those cells count in a state's `year_sources`, so that a state continued and one
        read whole keep the same; the others cannot change the series' figures."""
        if region == WORLD:
            return lambda _: True
        chains = self._chains
        if chains is None:
            chains = self._chains = {}

        def moves(where: str) -> bool:
            chain = chains.get(where)
            if chain is None:
                chain = chains[where] = frozenset(self._regions_of(where))
            return region in chain

        return moves

    def _regions_of(self, region: str) -> list[str]:
        """A region, its parents, and the world."""
        regions = [region]
        parent = self.config.region_parents.get(region)
        while parent is not None and parent not in regions:
            regions.append(parent)
            parent = self.config.region_parents.get(parent)
        if WORLD not in regions:
            regions.append(WORLD)
        return regions

    async def _detect(
        self,
        touched: Mapping[SeriesKey, Month | None],
        names: PollNames | Catalog,
        source: str,
        changed: Mapping[SeriesKey, Month] | None = None,
    ) -> Detection:
        """Detect the touched series (each with its earliest news month, None for history).

        A series `changed` only after the month its kept state was detected at continues from
        that state; without `changed` (or a usable state) the whole series is read. The reads
        come first, in batches; then one pass finds everything; then the few events that need
        more (a make's leading model, a projection pace from before the state) get it.
        """
        known = self.reader.snapshot or await self.store.sources()
        fingerprint, valid = fingerprints(self.config, self.ladders, known)
        works = await asyncio.to_thread(without_gc, _works, touched, changed)
        if changed:
            await self._continuable(works, valid, known)
            await self._continue(works, known)
        wanted, told_models = await asyncio.to_thread(without_gc, _wanted, works)
        levels = await self.store.share_levels_of(told_models)
        recorded_all = await self.store.recorded_milestones_of(wanted)
        # above the kept peak nothing was reached, so all recorded there is flagged below;
        # where not, the state does not match the milestones: read the series whole
        dropped = [
            w
            for w in works
            if w.state is not None
            and w.state.flagged
            and not all(r.below for r in recorded_all.get(w.triple, {}).values())
        ]
        if dropped:
            again = await self.store.recorded_milestones_of([(*w.triple, None) for w in dropped])
            for work in dropped:
                work.state, work.view = None, None
                recorded_all[work.triple] = again.get(work.triple, {})
        continued = sum(1 for w in works if w.view is not None)
        wholes: dict[SeriesKey, dict[Month, int]] = {}
        bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
        for work in works:
            if work.view is None:
                bases[work.key] = {}
                monthly, rows = await self._read_series(work.key, known, bases[work.key])
                wholes[work.key] = monthly
                work.view = whole_view(monthly)
                if work.view is not None:
                    moves = self._moving(work.key.region)
                    work.year_sources = _year_sources(
                        [r for r in rows if moves(r.region)], work.view.latest
                    )

        def find() -> Found:
            return self._find(works, wholes, recorded_all, levels, source, fingerprint)

        def parents_then_find() -> tuple[set[SeriesKey], Found | None]:
            # one step off the event loop when every parent's total is at hand (the usual poll)
            missing = self._unanswered_parents(works, names)
            return missing, None if missing else find()

        missing, found = await asyncio.to_thread(without_gc, parents_then_find)
        for pkey in missing:
            wholes[pkey], _ = await self._read_series(pkey, known)
        if found is None:
            found = await asyncio.to_thread(without_gc, find)
        detection, pace, leaders = found
        detection.continued = continued
        events = detection.write.events
        for index, key in pace:  # the pace needs months from before the kept state's window
            event = events[index]
            assert isinstance(event, MilestoneEvent) and event.next_threshold is not None
            if key not in wholes:
                wholes[key], _ = await self._read_series(key, known)
            points = cumulative(wholes[key])
            events[index] = replace(event, projected=project(points, event.next_threshold))
        for index, key in leaders:
            event = events[index]
            assert isinstance(event, MilestoneEvent)
            catalog = names if isinstance(names, Catalog) else await names.catalog()
            leader = await self._leader(key, catalog, event.period, event.value)
            events[index] = with_leader(event, leader)
        # what each event's figure is made of: its granularity, coverage and sources, and
        # whether its comparison is like with like (a continued series reads its whole for it)
        facts = source_facts(known, self.config)
        window = await self._read_bases(events, bases, wholes, known)
        dressed_all = [
            tell(e, bases[k], wholes.get(k, {}), facts)
            for e in events
            for k in (SeriesKey(e.subject, e.region, e.metric),)
        ]
        growth = [
            (e, bases[SeriesKey(e.subject, e.region, e.metric)])
            for e in dressed_all
            if isinstance(e, GrowthEvent)
        ]
        unlike = await self.unlike_parts_of(growth, window)
        events[:] = [e for e in dressed_all if e is not None and id(e) not in unlike]
        return detection

    async def _read_bases(
        self,
        events: Sequence[Event],
        bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]],
        wholes: dict[SeriesKey, dict[Month, int]],
        known: Sequence[SourceInfo],
    ) -> Window | None:
        """Give every event's series its basis where this poll has not read it whole (a series
        continued from its state). Records and milestones need every year, so their series are
        read whole; the others need only their event's year and the year before,
        from one read of the makes' cells since then (returned, for `unlike_parts_of`)."""
        # a record compares with every like year, a milestone's cumulative figure is as
        # narrow as its narrowest year: both need every year's basis
        wanted = [
            (k, e.kind in ("record", "milestone"))
            for e in events
            for k in (SeriesKey(e.subject, e.region, e.metric),)
            if k not in bases
        ]
        whole = list(dict.fromkeys(k for k, record in wanted if record))
        recent = [k for k in dict.fromkeys(k for k, _ in wanted) if k not in whole]
        for key in whole:
            bases[key] = {}
            wholes[key], _ = await self._read_series(key, known, bases[key])
        if not events:
            return None
        periods = [e.period for e in events]
        window = await self._window(
            Month(min(periods).year - 1, 1),
            max(periods),
            {m for k in recent for m in self._makes_of(k.subject)},
        )
        priority = {
            metric: {s.id: s.priority for s in counted(known, metric, self.reader.samples)}
            for metric in ("sales", "stock")
        }
        for key in recent:
            rows = await self._window_rows(key.subject, window)
            found = own_region_basis(rows, priority[key.metric], key.region)
            if found is None:  # sub-regions take part: the whole choice of `regional_increments`
                found = {}
                self._series_of(key, rows, known, found)
            bases[key] = found
        return window

    async def _window(self, first: Month, last: Month, makes: Iterable[str]) -> Window:
        """The makes' cells with units from `first` to `last`, in one read."""
        window = Window(first, last)
        wanted = sorted(set(makes))
        window.asked.update(wanted)
        if wanted:
            for row in await self.store.parts_between(wanted, first, last):
                window.by_make.setdefault(row.make_key, []).append(row)
        return window

    def _makes_of(self, subject: Subject) -> list[str]:
        """The makes whose cells a subject's figures are made of (none named for all EVs)."""
        if subject.kind == "model":
            return [_model_keys(subject)[0]]
        if subject.kind == "make":
            return [SubjectKey.parse(subject.key).make]
        if subject.kind == "group":
            return sorted(self.reader.members(subject))
        return []

    async def _window_rows(self, subject: Subject, window: Window) -> list[IncRow]:
        """A subject's cells in the window (all EVs' read once, when first asked)."""
        if subject.kind == "all":
            if window.everything is None:
                window.everything = await self.store.parts_between(None, window.first, window.last)
            return window.everything
        if subject.kind == "model":
            make_key, model_key = _model_keys(subject)
            return [r for r in window.by_make.get(make_key, ()) if r.model_key == model_key]
        return [r for m in self._makes_of(subject) for r in window.by_make.get(m, ())]

    def _unanswered_parents(self, works: Sequence[_Work], names: NameBook) -> set[SeriesKey]:
        """Give each model with news its parents as of its latest month, each with its total
        then where this poll's views give it, and return those whose total they cannot give
        (not touched, or continued from after that month): they are read whole."""
        # a parent is a make or a group
        views = {w.key: w.view for w in works if w.key.subject.kind != "model"}
        missing: set[SeriesKey] = set()
        # the models of a make mostly share their latest month: their parents, once
        parents: dict[tuple[str, str, str, int, int], list[Parent]] = {}
        keys: dict[Triple, SeriesKey] = {}
        for work in works:
            view = work.view
            if work.key.subject.kind != "model" or work.news_from is None or view is None:
                continue
            latest = view.latest
            region, metric = work.key.region, work.key.metric
            make_key = work.model_keys[0]
            memo = (make_key, region, metric, latest.year, latest.month)
            found = parents.get(memo)
            if found is None:
                found = parents[memo] = []
                for parent in self._parents(work.key.subject, names, latest):
                    triple = (parent.key, region, metric)
                    pkey = keys.get(triple)
                    if pkey is None:
                        pkey = keys[triple] = SeriesKey(parent, region, metric)
                    pview = views.get(pkey)
                    units = pview.total_as_of(latest) if pview is not None else None
                    if units is None:
                        missing.add(pkey)
                    found.append((parent, pkey, units))
            work.parents = found
        return missing

    def _find(
        self,
        works: Sequence[_Work],
        wholes: Mapping[SeriesKey, dict[Month, int]],
        recorded_all: Mapping[Triple, dict[int, Recorded]],
        levels: Mapping[tuple[str, str, str, str], float | None],
        source: str,
        fingerprint: str,
    ) -> Found:
        """Everything the series' views show: milestones, corrections, events, share levels,
        the states to keep; and which events still need a projection from the whole series
        or a leading model, by their index."""
        detection = Detection(DetectionWrite(ladder=self.rungs.spec))
        write = detection.write
        states = detection.states
        events = write.events
        share_levels = write.share_levels
        config = self.config
        next_above = _next_above(self.ladders)
        pace: list[tuple[int, SeriesKey]] = []
        leaders: list[tuple[int, SeriesKey]] = []
        totals: dict[tuple[SeriesKey, Month], int] = {}  # a parent's total read whole, per month
        for work in works:
            key, view, news_from = work.key, work.view, work.news_from
            recorded = recorded_all.get(work.triple)
            flagged = 0
            if view is not None and view.prior_peak is not None and not recorded:
                # the usual month of a continued series: no threshold above the kept peak
                upcoming = next_above(view.prior_peak)
                crossing = upcoming is not None and view.peak >= upcoming
            else:
                crossing = True
            if crossing:
                kept = self._milestones(work, recorded or {}, source, write, pace, leaders)
                if view is not None:
                    peak = view.peak
                    flagged = sum(r.count for r in kept.values() if r.highest > peak)
            if view is None:
                continue
            kind = key.subject.kind
            states.append(
                view.state(
                    *work.triple, fingerprint, kind in SUMMED_KINDS, work.year_sources, flagged
                )
            )
            if news_from is None:
                continue
            latest = view.latest
            # a model is told of a record month only (no year to date): most months, nothing
            if kind != "model" or _record(view) is not None:
                events.extend(
                    growth_events_from(
                        key,
                        view.monthly,
                        latest,
                        view.first_nonzero or latest,
                        view.total,
                        partial(_record, view),
                        config,
                        source,
                    )
                )
            if kind != "model":
                continue
            for parent, pkey, parent_units in work.parents:
                if parent_units is None:
                    parent_units = totals.get((pkey, latest))
                    if parent_units is None:
                        parent_units, _ = total_as_of(wholes[pkey], latest)
                        totals[(pkey, latest)] = parent_units
                level_key = (key.subject.key, parent.key, key.region, key.metric)
                level = levels.get(level_key)
                new_level, boundary, direction = share_step(
                    level, view.total, parent_units, view.first, latest, config
                )
                if new_level != level or level_key not in levels:
                    share_levels[level_key] = new_level
                if boundary is not None:
                    events.append(
                        share_event(
                            key,
                            parent,
                            direction,
                            boundary,
                            view.total,
                            parent_units,
                            latest,
                            source,
                        )
                    )
        return detection, pace, leaders

    def _milestones(
        self,
        work: _Work,
        recorded: Mapping[int, Recorded],
        source: str,
        write: DetectionWrite,
        pace: list[tuple[int, SeriesKey]],
        leaders: list[tuple[int, SeriesKey]],
    ) -> Mapping[int, Recorded]:
        """A series' milestones, corrections and milestone event, into `write`; returns what
        is recorded for it after (those it was given, as reconciled)."""
        key, view, news_from = work.key, work.view, work.news_from
        news = news_from is not None
        outcome = detect_milestones(
            key,
            view.points if view is not None else [],
            recorded,
            self.rungs,
            news,
            source,
            news_from,
            view.prior_peak if view is not None else None,
        )
        if outcome.written or outcome.dropped or outcome.corrections:
            ref = key.ref()
            for rec in outcome.written:
                write.milestones.append((ref, rec, rec.history))
            for correction in outcome.corrections:
                write.corrections.append((ref, correction))
            for lowest in outcome.dropped:
                write.milestone_drops.append((ref, lowest))
            # told (to the channels that heard the milestone) whatever the revised period's age
            latest = view.points[-1] if view is not None and view.points else None
            write.events.extend(
                correction_events(
                    key.subject, key.region, key.metric, outcome.corrections, latest, source
                )
            )
        if outcome.event is not None:
            if view is not None and not view.covers_pace() and outcome.event.next_threshold:
                pace.append((len(write.events), key))
            if key.subject.kind in ("make", "group"):
                leaders.append((len(write.events), key))
            write.events.append(outcome.event)
        return outcome.recorded

    async def _continuable(
        self, works: Sequence[_Work], valid: frozenset[str], sources: Sequence[SourceInfo]
    ) -> None:
        """Give each series that may continue from its kept state that state: changed only
        after its last detected month, under the same configuration and sources, and of a
        metric whose figures are period figures (a level carries its whole history)."""
        continuable = {
            metric
            for metric in ("sales",)
            if not any(s.running for s in sources if s.metric == metric)
        }

        def candidates() -> list[Triple]:
            return [
                w.triple for w in works if w.changed is not None and w.key.metric in continuable
            ]

        def give(states: Mapping[Triple, SeriesState]) -> None:
            for work in works:
                state = states.get(work.triple)
                if (
                    state is not None
                    and work.changed is not None
                    and work.key.metric in continuable
                    and work.changed > state.last
                    and state.fingerprint in valid
                ):
                    work.state = state

        wanted = await asyncio.to_thread(without_gc, candidates)
        if wanted:
            states = await self.store.series_states(wanted)
            await asyncio.to_thread(without_gc, give, states)

    async def _continue(self, works: Sequence[_Work], sources: Sequence[SourceInfo]) -> None:
        """Continue each series that has a state from one read of the cells after its last
        detected month (one read per kind of series); a series those cells cannot continue
        exactly loses its state, to be read whole.

        Within a calendar year one source is chosen per region, and a region's own figures
        or its sub-regions' are taken, from that year's cells only. Cells after the last month
        that bring no (region, source) the year's detected cells did not have therefore leave
        the detected months as they were, and give the new months as the whole read would.
        """
        going, models, makes, everything, members = await asyncio.to_thread(
            without_gc, self._reads_after, works
        )
        if not going:
            return
        rows = await self.store.increments_after(models, makes, everything)
        counted_sales = counted(sources, "sales", self.reader.samples)
        priority = {s.id: s.priority for s in counted_sales}
        await asyncio.to_thread(without_gc, self._continue_with, going, rows, members, priority)

    def _reads_after(
        self, works: Sequence[_Work]
    ) -> tuple[
        list[_Work],
        list[tuple[str, str, Month]],
        list[tuple[str, Month]],
        Month | None,
        dict[SeriesKey, dict[str, list[GroupMember]]],
    ]:
        """The series that continue, and what `BotStore.increments_after` should read for them:
        each model and make after the earliest month one of them was detected to, everything
        after the all-EVs series' month, and each group's members."""
        going = [w for w in works if w.state is not None]
        models: dict[tuple[str, str], Month] = {}
        makes: dict[str, Month] = {}
        everything: Month | None = None
        members: dict[SeriesKey, dict[str, list[GroupMember]]] = {}
        for work in going:
            assert work.state is not None
            after = work.state.last
            kind = work.key.subject.kind
            if kind == "model":
                was = models.get(work.model_keys)
                if was is None or after < was:
                    models[work.model_keys] = after
            elif kind in ("make", "group"):
                if kind == "make":
                    wanted = [SubjectKey.parse(work.key.subject.key).make]
                else:
                    members[work.key] = self.reader.members(work.key.subject)
                    wanted = list(members[work.key])
                for make_key in wanted:
                    was = makes.get(make_key)
                    makes[make_key] = after if was is None or after < was else was
            else:
                everything = after if everything is None else min(everything, after)
        return going, [(*k, m) for k, m in models.items()], list(makes.items()), everything, members

    def _continue_with(
        self,
        going: Sequence[_Work],
        rows: tuple[list[IncRow], list[IncRow], list[IncRow]],
        members: Mapping[SeriesKey, dict[str, list[GroupMember]]],
        priority: Mapping[int, int],
    ) -> None:
        model_rows, make_rows, all_rows = rows
        by_model: dict[tuple[str, str], list[IncRow]] = defaultdict(list)
        for row in model_rows:
            by_model[(row.make_key, row.model_key)].append(row)
        by_make: dict[str, list[IncRow]] = defaultdict(list)
        for row in make_rows:
            by_make[row.make_key].append(row)
        for work in going:
            state = work.state
            assert state is not None
            kind = work.key.subject.kind
            found: Sequence[IncRow]
            if kind == "model":
                found = by_model.get(work.model_keys, ())
                one = _one_more(found, state, work.key.region, priority)
                if one is not None:
                    # the usual poll, made as the general path below would make it
                    work.view = continue_one(state, one.month, one.inc)
                    work.year_sources = state.year_sources
                    continue
            elif kind == "make":
                found = by_make.get(SubjectKey.parse(work.key.subject.key).make, ())
            elif kind == "group":
                spans = members[work.key]
                found = [
                    r
                    for make_key in spans
                    for r in by_make.get(make_key, ())
                    if any(m.covers(r.month) for m in spans[make_key])
                ]
            else:
                found = all_rows
            last = state.last
            moves = self._moving(work.key.region)
            kept = [
                r for r in found if r.month > last and r.source_id in priority and moves(r.region)
            ]
            figures = _figures_after(kept, state, work.key.region, priority, self.tree)
            if figures is None:
                work.state = None
                continue
            work.view = continue_view(state, figures)
            latest = work.view.latest
            if latest == last or (
                len(state.year_sources) == 1
                and all((r.region, r.source_id) in state.year_sources for r in kept)
            ):
                # nothing new, or all from the one region and source the state had
                work.year_sources = state.year_sources
            else:
                work.year_sources = _year_sources(kept, latest)
                if latest.year == last.year:
                    work.year_sources |= state.year_sources

    async def _read_series(
        self,
        key: SeriesKey,
        sources: Sequence[SourceInfo],
        basis: dict[int, set[tuple[str, int]]] | None = None,
    ) -> tuple[dict[Month, int], list[IncRow]]:
        """A whole series' monthly figures, and the cells they were made of; `basis` receives
        each year's (region, source) pairs the figures were taken from.

        The same reading as `SeriesReader.monthly` (a test holds them equal), keeping the
        cells: a series' state remembers which regions and sources its last year had.
        """
        subject = key.subject
        if subject.kind == "model":
            rows = await self.store.model_increments(*_model_keys(subject))
        elif subject.kind == "make":
            rows = await self.store.make_increments([SubjectKey.parse(subject.key).make])
        elif subject.kind == "group":
            rows = await self.store.make_increments(sorted(self.reader.members(subject)))
        else:
            rows = await self.store.all_increments()
        return self._series_of(key, rows, sources, basis)

    def _series_of(
        self,
        key: SeriesKey,
        rows: Iterable[IncRow],
        sources: Sequence[SourceInfo],
        basis: dict[int, set[tuple[str, int]]] | None = None,
    ) -> tuple[dict[Month, int], list[IncRow]]:
        """`_read_series` from cells already read (a group's: its members' in their months)."""
        chosen = counted(sources, key.metric, self.reader.samples)
        priority = {s.id: s.priority for s in chosen}
        levels: bool | set[int] = key.metric == "stock" or {s.id for s in chosen if s.running}
        keep = self.reader.members(key.subject) if key.subject.kind == "group" else None
        kept = [
            r
            for r in rows
            if r.source_id in priority
            and (keep is None or any(m.covers(r.month) for m in keep.get(r.make_key, ())))
        ]
        figures = regional_increments(kept, priority, self.tree, key.region, None, levels, basis)
        return figures, kept

    async def bases(
        self, events: Sequence[Event], cache: dict[str, list[BasisCell]] | None = None
    ) -> list[Event]:
        """The events, those whose figures another of them repeats with their basis (the
        cells they are made of: `bot.domain.facts`) and each told which others tell the same fact.
        The rest keep none: nothing in this detection could be the same fact.

        `cache` keeps each subject's cells between calls over an unchanged store (replay)."""
        groups = candidate_groups(events, self._related)
        if not groups:
            return list(events)
        cache = {} if cache is None else cache
        metric_of = {s.id: s.metric for s in self.reader.snapshot or await self.store.sources()}
        out = list(events)
        for group in groups:
            # one subject in several regions: its own cells tell them apart (for "all EVs" a
            # read of every model would cost a poll far more)
            one = len({events[i].subject.key for i in group}) == 1
            for i in group:
                event = events[i]
                cells = await self._basis_cells(event, event.subject, one, cache, metric_of)
                if isinstance(event, ShareEvent):
                    parent = await self._basis_cells(event, event.parent, False, cache, metric_of)
                    out[i] = replace(event, basis=f"{basis_of(cells)}/{basis_of(parent)}")
                else:
                    out[i] = replace(event, basis=basis_of(cells))
        return mark_same(out)

    async def _basis_cells(
        self,
        event: Event,
        subject: Subject,
        own: bool,
        cache: dict[str, list[BasisCell]],
        metric_of: Mapping[int, str],
    ) -> list[tuple[str, str, str, int]]:
        """The (make, model, region, source) cells with units that make `event`'s figure of
        `subject` (`own`: the subject's own aggregated cells, for comparing regions only)."""
        rows = await self._subject_cells(subject, own, cache)
        ranges = window(event)
        region = event.region
        members = self.reader.members(subject) if subject.kind == "group" else None
        inside: dict[str, bool] = {}
        out = []
        for index, month, source_id, where, make_key, model_key in rows:
            if not any(lo <= index <= hi for lo, hi in ranges):
                continue
            within = inside.get(where)
            if within is None:
                within = inside[where] = region in self._regions_of(where)
            if not within or metric_of.get(source_id) != event.metric:
                continue
            if members is not None and not any(m.covers(month) for m in members.get(make_key, ())):
                continue
            out.append((make_key, model_key, where, source_id))
        return out

    async def _subject_cells(
        self, subject: Subject, own: bool, cache: dict[str, list[BasisCell]]
    ) -> list[BasisCell]:
        """A subject's cells with units, per model (or per make, or in all, with `own`)."""
        key = f"{subject.key}|{own}"
        found = cache.get(key)
        if found is not None:
            return found
        if subject.kind == "model":
            rows = await self.store.model_increments(*_model_keys(subject))
        elif own and subject.kind == "all":
            rows = await self.store.all_increments()
        else:
            if subject.kind == "make":
                makes = [SubjectKey.parse(subject.key).make]
            elif subject.kind == "group":
                makes = sorted(self.reader.members(subject))
            else:
                makes = sorted({"", *await self.store.make_names()})
            wanted = set(makes)
            models = [m for m in await self.store.model_names() if m.make_key in wanted]
            rows = []
            for make_key in makes:  # the make's own figures (no model), then each model's
                rows += await self.store.model_increments(make_key, "")
            for model in models:
                rows += await self.store.model_increments(model.make_key, model.model_key)
        cells = [
            (month_index(r.month), r.month, r.source_id, r.region, r.make_key, r.model_key)
            for r in rows
            if r.inc != 0
        ]
        cache[key] = cells
        return cells

    def _related(self, a: str, b: str) -> bool:
        """Whether one region contains the other (or they are one)."""
        return a == b or a in self._regions_of(b) or b in self._regions_of(a)

    async def unlike_parts(self, event: GrowthEvent, basis: Basis) -> str:
        """Why a growth event of a make, group or all EVs compares unlike parts (a model with
        figures in one window and none in the other); "" when they are alike."""
        return (await self.unlike_parts_of([(event, basis)])).get(id(event), "")

    async def unlike_parts_of(
        self, growth: Sequence[tuple[GrowthEvent, Basis]], window: Window | None = None
    ) -> dict[int, str]:
        """`unlike_parts` of many growth events, by `id` of each event that compares unlike;
        the cells are read once for all of them (or taken from `window`, read already)."""
        told = [(e, b) for e, b in growth if e.subject.kind in SUMMED_KINDS]
        if not told:
            return {}
        first = Month(min(e.period for e, _ in told).year - 1, 1)
        last = max(e.period for e, _ in told)
        makes = {m for e, _ in told for m in self._makes_of(e.subject)}
        if (
            window is None
            or first < window.first
            or last > window.last
            or not makes <= window.asked
        ):
            window = await self._window(first, last, makes)
        out: dict[int, str] = {}
        for event, basis in told:
            rows = await self._window_rows(event.subject, window)
            members = self.reader.members(event.subject) if event.subject.kind == "group" else None
            reason = unlike_parts(rows, basis, event.period, members, event.granularity == "year")
            if reason:
                out[id(event)] = reason
        return out

    def _parents(self, model: Subject, catalog: NameBook, month: Month) -> list[Subject]:
        make_key = SubjectKey.parse(model.key).make
        make = Subject("make", SubjectKey.for_make(make_key), catalog.makes.get(make_key, make_key))
        return [make, *self._groups_of(make_key, month)]

    async def _leader(
        self, key: SeriesKey, catalog: Catalog, period: Month, parent_total: int
    ) -> Leader | None:
        answer = await total(self.reader, catalog, key.subject, key.region, period, key.metric)
        if not answer.breakdown or parent_total <= 0:
            return None
        top = answer.breakdown[0]
        return Leader(top.name, top.units, top.units / parent_total)


def _works(
    touched: Mapping[SeriesKey, Month | None], changed: Mapping[SeriesKey, Month] | None
) -> list[_Work]:
    """The touched series in the order detection goes through them (and tells their events)."""
    works = []
    for key, news_from in sorted(touched.items(), key=_item_order):
        subject = key.subject
        work = _Work(
            key,
            (subject.key, key.region, key.metric),
            news_from,
            changed.get(key) if changed else None,
        )
        if subject.kind == "model":
            work.model_keys = _model_keys(subject)
        works.append(work)
    return works


def _wanted(
    works: Sequence[_Work],
) -> tuple[list[tuple[str, str, str, int | None]], list[Triple]]:
    """The recorded milestones the series need, each with its floor, and the models with news
    (whose share levels are wanted)."""
    # a continued series needs only the milestones above its kept peak, and has none
    # unless its state says some fell back below
    milestones = [
        (*w.triple, w.state.peak if w.state else None)
        for w in works
        if w.state is None or w.state.flagged
    ]
    models = [w.triple for w in works if w.key.subject.kind == "model" and w.news_from]
    return milestones, models


def _model_keys(subject: Subject) -> tuple[str, str]:
    key = SubjectKey.parse(subject.key)
    return key.make, key.model


def _next_above(ladders: Sequence[Ladder]) -> Callable[[int], int | None]:
    """`union_next_above` over `ladders`, asked once per series: with the usual one ladder,
    that ladder's own."""
    if len(ladders) == 1:
        return ladders[0].next_above
    return partial(union_next_above, ladders)


def _record(view: SeriesView) -> tuple[int, Month] | None:
    """The previous best month when the view's latest month beats it (a record), else None."""
    units = view.monthly.get(view.latest, 0)
    if view.best is None or units <= view.best[0]:
        return None
    return view.best


def _one_more(
    rows: Sequence[IncRow], state: SeriesState, region: str, priority: Mapping[int, int]
) -> IncRow | None:
    """The one cell after the state's last month, when it is all that continues the series
    and comes from the one region and source the state's year had (the usual poll of a
    model): the series then goes on by that cell's figure, from the same year sources."""
    if len(rows) != 1 or len(state.year_sources) != 1:
        return None
    (row,) = rows
    ((own, source),) = state.year_sources
    if (
        row.region == own == region
        and row.source_id == source
        and source in priority
        and row.month > state.last
    ):
        return row
    return None


def _year_sources(rows: Iterable[IncRow], latest: Month) -> YearSources:
    """The (region, source) of the cells in `latest`'s year up to `latest`."""
    year = latest.year
    return frozenset(
        (r.region, r.source_id) for r in rows if r.month.year == year and r.month <= latest
    )


def _figures_after(
    rows: Sequence[IncRow],
    state: SeriesState,
    region: str,
    priority: Mapping[int, int],
    tree: RegionTree,
) -> dict[Month, int] | None:
    """A series' figures for the months after its state's last, from every cell it has after
    that month (period figures only); None when the cells of the last month's year bring a
    region or source the detected months of that year did not have."""
    out: dict[Month, int] = {}
    if len(state.year_sources) == 1:
        ((own, source),) = state.year_sources
        if own == region and all(r.region == own and r.source_id == source for r in rows):
            # one source, in the series' own region: the figures are the cells' increments
            for row in rows:
                out[row.month] = out.get(row.month, 0) + row.inc
            return out
    year = state.last.year
    if not {(r.region, r.source_id) for r in rows if r.month.year == year} <= state.year_sources:
        return None
    # the year's detected cells still take part in its choices: stand-ins of 0 at the last
    # month, which only the detected part of the series has
    last = state.last
    stand_ins = [IncRow(s, r, "", "", last, 0) for r, s in sorted(state.year_sources)]
    figures = regional_increments([*stand_ins, *rows], priority, tree, region)
    return {m: v for m, v in figures.items() if m > last}


def with_leader(event: MilestoneEvent, leader: Leader | None) -> MilestoneEvent:
    return replace(event, leader=leader)


_KIND_ORDER = {"group": 0, "make": 1, "model": 2, "all": 3, "region": 4}


def series_order(key: SeriesKey) -> tuple[int, str, str, str]:
    return (_KIND_ORDER[key.subject.kind], key.subject.name, key.region, key.metric)


def _item_order(item: tuple[SeriesKey, object]) -> tuple[int, str, str, str]:
    """`series_order` of a (key, value) item."""
    key = item[0]
    return (_KIND_ORDER[key.subject.kind], key.subject.name, key.region, key.metric)
