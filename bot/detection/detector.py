"""The crossing detector: from the change journal to recorded milestones and events.

`Detector.poll` reads the journal since its watermark, recomputes only the series the changes
touch (a model's change moves its make, the groups it belonged to from that month on, its
region's parents and the world: `bot.detection.touched`), and records what it found with the
watermark in one transaction. A series whose changes all lie after the month it was last
detected at continues from its kept state (`bot.detection.continuing`) with the new months'
figures; any other change re-reads its whole history (`bot.detection.reading`). One pure pass
then finds everything the series show (`bot.detection.finding`, by the per-series steps of
`bot.detection.steps`).
`replay` runs the same per-series detection over the whole store, month by month, from an empty
state: what it shows is what a running bot would have announced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from bot.detection.continuing import continue_with, fingerprints, reads_after, year_sources
from bot.detection.fact_cells import FactCells
from bot.detection.finding import (
    Detection,
    Found,
    Triple,
    Work,
    find,
    ordered_works,
    unanswered_parents,
    wanted_of,
)
from bot.detection.parts_gone import KnownParts, UnitCells, units_of
from bot.detection.reading import Reads
from bot.detection.steps import SeriesKey, with_leader
from bot.detection.touched import KeptNames, PollNames, touched_series
from bot.domain.bulk import gc_paused, without_gc
from bot.domain.coverage import AlikeMemo, source_facts, tell
from bot.domain.events import Event, GrowthEvent, MilestoneEvent
from bot.domain.hierarchy import Hierarchy
from bot.domain.kept_basis import kept_basis
from bot.domain.ladders import configured_ladders
from bot.domain.periods import Month
from bot.domain.plausibility import Hold
from bot.domain.projection import project
from bot.domain.records import SourceInfo, StoredEvent
from bot.domain.rungs import union_rungs
from bot.domain.series import cumulative
from bot.domain.series_state import SeriesState, whole_view
from bot.domain.settings import Config
from bot.domain.subjects import Catalog
from bot.domain.subscriptions import FanoutPlan, Subscription, ladder_objects, plan_fanout
from bot.ports.store import BotStore
from bot.reading.queries import SeriesReader, counted, load_catalog, region_tree, sample_sources

WATERMARK = "detector"


class Detector:
    """Incremental detection over the store's change journal.

    `hierarchy` (which subjects and regions cover which) is the configuration's unless given.
    """

    def __init__(
        self,
        store: BotStore,
        config: Config,
        clock: Callable[[], float] = time.time,
        hierarchy: Hierarchy | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.subscription_ladders = ladder_objects(config.ladders)
        self.hierarchy = (
            hierarchy if hierarchy is not None else Hierarchy.of(config, region_tree(config))
        )
        tree = self.hierarchy.tree
        self.reader = SeriesReader(store, tree, list(config.groups), sample_sources(config))
        self.reads = Reads(store, self.reader, self.hierarchy)
        self.facts = FactCells(store, self.reader, self.hierarchy)
        self.ladders = configured_ladders(config)
        self.rungs = union_rungs(self.ladders)  # what milestones are detected over
        self.continued = 0  # series the last poll continued from their kept state
        self.names = KeptNames()  # checked against the store's at every poll

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
        # the version first: rows read after it hold every change it counts
        version = await self.store.names_version()
        name_rows = None if self.names.current(version) else await self.store.name_rows()
        sources = {s.id: s for s in await self.store.sources()}

        def touched_by() -> tuple[
            PollNames, dict[SeriesKey, Month | None], dict[SeriesKey, Month], str
        ]:
            if name_rows is not None:
                self.names.update(name_rows, version)
            kept = self.names
            names = PollNames(
                kept.makes, kept.models, lambda: load_catalog(self.store, self.config)
            )
            touched, changed = touched_series(cells, sources, names, self.hierarchy, kept.memo)
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
        write.events[:] = await self.facts.bases(write.events)
        write.event_keys = await asyncio.to_thread(
            without_gc, lambda: [self.hierarchy.covering(e.subject, e.period) for e in write.events]
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

    def held_by(self, events: Sequence[Event], holds: Sequence[Hold]) -> list[tuple[int, ...]]:
        """The holds each event depends on (`Hierarchy.held_by`)."""
        return self.hierarchy.held_by(events, holds)

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
        works = await asyncio.to_thread(without_gc, ordered_works, touched, changed)
        units: UnitCells = {}  # the model cells with units the continuing read
        if changed:
            await self._continuable(works, valid, known)
            units = await self._continue(works, known)
        wanted, told_models = await asyncio.to_thread(without_gc, wanted_of, works)
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
        # read in runs of series, each run's cells let go once its series are figured
        whole = {w.key: w for w in works if w.view is None}
        async for key, monthly, rows in self.reads.read_many(list(whole), known, bases):
            work = whole[key]
            wholes[key] = monthly
            work.view = whole_view(monthly)
            if work.view is not None:
                work.basis = kept_basis(bases[key])
                moves = self.hierarchy.moving(key.region)
                work.year_sources = year_sources(
                    [r for r in rows if moves(r.region)], work.view.latest
                )

        def find_all() -> Found:
            return find(
                works,
                wholes,
                recorded_all,
                levels,
                source,
                fingerprint,
                self.config,
                self.ladders,
                self.rungs,
            )

        def parents_then_find() -> tuple[set[SeriesKey], Found | None]:
            # one step off the event loop when every parent's total is at hand (the usual poll)
            missing = unanswered_parents(works, names, self.hierarchy)
            return missing, None if missing else find_all()

        missing, found = await asyncio.to_thread(without_gc, parents_then_find)
        for pkey in missing:
            wholes[pkey], _ = await self.reads.read_series(pkey, known)
        if found is None:
            found = await asyncio.to_thread(without_gc, find_all)
        detection, pace, leaders = found
        detection.continued = continued
        events = detection.write.events
        for index, key in pace:  # the pace needs months from before the kept state's window
            event = events[index]
            assert isinstance(event, MilestoneEvent) and event.next_threshold is not None
            if key not in wholes:
                wholes[key], _ = await self.reads.read_series(key, known)
            points = cumulative(wholes[key])
            events[index] = replace(event, projected=project(points, event.next_threshold))
        for index, key in leaders:
            event = events[index]
            assert isinstance(event, MilestoneEvent)
            catalog = names if isinstance(names, Catalog) else await names.catalog()
            leader = await self.reads.leader(key, catalog, event.period, event.value)
            events[index] = with_leader(event, leader)
        # what each event's figure is made of: its granularity, coverage and sources, and
        # whether its comparison is like with like (a continued series reads its whole for it)
        facts = source_facts(known, self.config)
        # the kept bases of the series told of (by triple: a poll's every key hashed again
        # cost more than the events' few)
        told = {(e.subject.key, e.region, e.metric) for e in events}
        kept = {
            w.key: w.basis
            for w in works
            if w.state is not None and w.basis is not None and w.triple in told
        }
        memo = AlikeMemo(facts)
        window = await self.reads.read_bases(events, bases, wholes, known, kept, facts, memo)
        dressed_all = [
            tell(e, bases[k], wholes.get(k, {}), facts, memo)
            for e in events
            for k in (SeriesKey(e.subject, e.region, e.metric),)
        ]
        growth = [
            (e, bases[SeriesKey(e.subject, e.region, e.metric)])
            for e in dressed_all
            if isinstance(e, GrowthEvent)
        ]
        # a poll's names are the kept ones (a replay's catalog is not: it asks of every model)
        parts = KnownParts(self.names.models_of, units) if isinstance(names, PollNames) else None
        unlike = await self.reads.unlike_parts_of(growth, window, parts)
        events[:] = [e for e in dressed_all if e is not None and id(e) not in unlike]
        return detection

    async def _continuable(
        self, works: Sequence[Work], valid: frozenset[str], sources: Sequence[SourceInfo]
    ) -> None:
        """Give each series that may continue from its kept state that state: changed only
        after its last detected month, under the same configuration and sources, of a
        metric whose figures are period figures (a level carries its whole history), and
        with its basis kept (a state from before bases were is read whole once)."""
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
                    and state.basis is not None
                ):
                    work.state = state

        wanted = await asyncio.to_thread(without_gc, candidates)
        if wanted:
            states = await self.store.series_states(wanted)
            await asyncio.to_thread(without_gc, give, states)

    async def _continue(self, works: Sequence[Work], sources: Sequence[SourceInfo]) -> UnitCells:
        """Continue each series that has a state from one read of the cells after its last
        detected month (one read per kind of series); a series those cells cannot continue
        exactly loses its state, to be read whole.

        Within a calendar year one source is chosen per region, and a region's own figures
        or its sub-regions' are taken, from that year's cells only. Cells after the last month
        that bring no (region, source) the year's detected cells did not have therefore leave
        the detected months as they were, and give the new months as the whole read would.
        Returns the model cells with units that were read.
        """
        going, models, makes, everything, members = await asyncio.to_thread(
            without_gc, reads_after, works, self.reader.members
        )
        if not going:
            return {}
        rows = await self.store.increments_after(models, makes, everything)
        counted_sales = counted(sources, "sales", self.reader.samples)
        priority = {s.id: s.priority for s in counted_sales}
        tree, moving = self.reader.tree, self.hierarchy.moving

        def go_on() -> UnitCells:
            continue_with(going, rows, members, priority, tree, moving)
            return units_of(rows[0])

        return await asyncio.to_thread(without_gc, go_on)
