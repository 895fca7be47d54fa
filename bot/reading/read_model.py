"""An in-memory read model for commands: every series' cumulative figures, kept current from the
change journal, so that a question is a few bisects and never a database read.

`load` reads every model's, make's and the all-EVs series' monthly increments once (the store's
kept aggregates, not its sales rows), a few makes at a time, and holds them as columns
(`bot.reading.held_rows`). A subject's series in a region is computed on first use with the same
rules as `bot.reading.queries.SeriesReader` (`bot.domain.series.regional_increments`) and kept as
cumulative arrays; `refresh` reads the journal since its watermark, re-reads only the subjects
the entries touch and recomputes the series that were in use.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence

from bot.domain.bulk import settle_long_lived
from bot.domain.coverage import SourceFacts, source_facts
from bot.domain.events import Subject
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.powertrains import split_measure
from bot.domain.records import GroupMember, IncRow, JournalEntry, SourceInfo
from bot.domain.series import WORLD, RegionTree, regional_increments
from bot.domain.settings import Config
from bot.domain.subjects import ALL, Catalog, SubjectKey
from bot.ports.store import SalesStore
from bot.reading import held_rows
from bot.reading.held_rows import HeldRows
from bot.reading.powertrain_split import PowertrainSplit
from bot.reading.queries import (
    ModelShare,
    PeriodAnswer,
    SeriesReader,
    TotalAnswer,
    counted,
    load_catalog,
    member_filter,
    region_tree,
    sample_sources,
)
from bot.reading.series_arrays import EMPTY, Series

__all__ = ["EMPTY", "ReadModel", "Series"]  # Series is read from here, as it always was

SeriesKey = tuple[str, str, str]  # (subject key, region, metric)
SETTLE_ROWS = 200_000  # from this many loaded increments on, the model is kept out of GC passes


class ReadModel:
    """Totals, breakdowns, shares and windows from memory, current as of `watermark`."""

    def __init__(self, store: SalesStore, config: Config) -> None:
        self.store = store
        self.config = config
        self.tree: RegionTree = region_tree(config)
        self.groups = {SubjectKey.for_group(g.name): g for g in config.groups}
        self._reader = SeriesReader(store, self.tree, list(config.groups), sample_sources(config))
        self.catalog = Catalog()
        self.watermark = 0
        # bumped by every load and every refresh that applied entries: whatever was derived
        # from an older version (names, answers) is stale
        self.version = 0
        self._sources: list[SourceInfo] = []
        self._rows = HeldRows()
        self.split = PowertrainSplit()  # powertrain:bev|phev|fcev
        self._series: dict[str, dict[tuple[str, str], Series]] = {}
        self._parts: dict[str, dict[tuple[str, str], list[tuple[str, Series]]]] = {}
        self._totals: dict[tuple[str, str, str, Month | None], TotalAnswer] = {}
        self._size = 0  # increment rows loaded
        # a refresh and a powertrain's first read take turns: a big store's powertrain is read a
        # make at a time, and a refresh landing between two makes would leave the makes read
        # before it stale for good (the powertrain is kept current only once it is held)
        self._changing = asyncio.Lock()

    @property
    def facts(self) -> SourceFacts:
        """What telling the figures needs to know of the store's sources."""
        return source_facts(self._sources, self.config)

    # -- loading and refreshing -------------------------------------------------------------

    async def load(self) -> None:
        """Read every series' increments and the names once."""
        head = await self.store.journal_head()  # first: later changes are caught by refresh
        sources = await self.store.sources()
        catalog = await load_catalog(self.store, self.config)
        rows = await held_rows.load(self.store, catalog)
        self._sources, self.catalog, self._rows = sources, catalog, rows
        self.split = PowertrainSplit()  # each powertrain read on its first question
        self._series.clear()
        self._parts.clear()
        self._totals.clear()
        self.watermark = head
        self.version += 1
        self._size = rows.size
        self._settle()

    async def refresh(self, page: int = 50_000) -> int:
        """Apply the journal since the watermark; returns how many entries were read."""
        async with self._changing:
            return await self._refresh(page)

    async def _refresh(self, page: int) -> int:
        entries: list[JournalEntry] = []
        cursor = self.watermark
        while True:
            batch = await self.store.journal_since(cursor, page)
            entries.extend(batch)
            if len(batch) < page:
                break
            cursor = batch[-1].seq
        if not entries:
            return 0
        models = sorted({(e.make_key, e.model_key) for e in entries if e.model_key})
        makes = sorted({e.make_key for e in entries if e.make_key} | {m for m, _ in models})
        sources = await self.store.sources()
        catalog = await load_catalog(self.store, self.config)
        held = self._rows
        model_rows = {m: held.pack(*m, await self.store.model_increments(*m)) for m in models}
        make_rows = {m: held.pack(m, "", []) for m in makes}
        make_rows.update(held.pack_makes(await self.store.make_increments(makes)))
        all_rows = held.pack("", "", await self.store.all_increments())
        pairs = {(e.make_key, e.model_key) for e in entries}
        split = await self.split.read(self.store, pairs, self._by_make(catalog))
        # no await below: readers never see half an update
        sources_changed = [(s.id, s.metric, s.priority, s.running) for s in sources] != [
            (s.id, s.metric, s.priority, s.running) for s in self._sources
        ]
        self._sources, self.catalog, held.every = sources, catalog, all_rows
        held.models.update(model_rows)
        held.makes.update(make_rows)
        self.split.update(split)
        touched = {ALL.key, *(SubjectKey.for_model(a, b) for a, b in models)}
        touched |= {SubjectKey.for_make(m) for m in makes}
        touched |= {key for key, g in self.groups.items() if _has_member(g.members, makes)}
        if sources_changed:
            touched |= set(self._series) | set(self._parts)
        self._totals.clear()
        self._recompute(touched)
        self.watermark = entries[-1].seq
        self.version += 1
        return len(entries)

    async def ensure_powertrain(self, powertrain: str) -> None:
        """Hold a powertrain's rows before its first question ("": electric cars, always held)."""
        if not powertrain or powertrain in self.split.loaded:
            return  # held: asked of every question about a powertrain, and of empty totals
        async with self._changing:
            read = await self.split.ensure(self.store, powertrain, self._by_make(self.catalog))
        if read:
            self._size += read
            self._settle()

    def _by_make(self, catalog: Catalog) -> list[str] | None:
        """In a big store, the makes whose powertrain rows are read one make at a time (with
        "", the country totals'); None: a small store's are read at once."""
        if self._size <= held_rows.BATCH_ROWS:
            return None
        return sorted({"", *catalog.makes, *(m.make_key for m in catalog.models)})

    def _recompute(self, touched: Iterable[str]) -> None:
        """Drop the touched subjects' series and recompute those that were in use."""
        dropped = [(key, self._series.pop(key, {}), self._parts.pop(key, {})) for key in touched]
        for key, used, parts in dropped:
            subject = self._subject_of(key)
            if subject is None:
                continue
            for region, metric in used:
                self.series(subject, region, metric)
            for region, metric in parts:
                self._model_parts(subject, region, metric)

    def _subject_of(self, key: str) -> Subject | None:
        if key == ALL.key:
            return ALL
        try:
            parsed = SubjectKey.parse(key)
        except ValueError:
            return None
        if parsed.kind == "model":
            return Subject("model", key, f"{parsed.make}/{parsed.model}")
        if parsed.kind == "make":
            return Subject("make", key, self.catalog.makes.get(parsed.make, parsed.make))
        if parsed.kind == "group" and key in self.groups:
            return Subject("group", key, self.groups[key].name)
        return None

    def _settle(self) -> None:
        """Exempt a big loaded model, and what the commands keep from it, from most garbage
        collection passes (`settle_long_lived`); a small one (tests, the demo), cheap to walk
        anyway, is left alone: only garbage cycles among what is frozen would stay."""
        if self._size >= SETTLE_ROWS:
            settle_long_lived()

    def subjects(self) -> list[Subject]:
        """Every subject the figures hold: all EVs, each model, make and group."""
        subjects: list[Subject] = [ALL]
        subjects += [
            Subject("model", SubjectKey.for_model(m.make_key, m.model_key), f"{m.make} {m.model}")
            for m in self.catalog.models
        ]
        subjects += [
            Subject("make", SubjectKey.for_make(k), v) for k, v in self.catalog.makes.items()
        ]
        subjects += [Subject("group", k, g.name) for k, g in self.groups.items()]
        return subjects

    async def world_sales(self, chunk: int = 50) -> dict[str, int]:
        """Each subject's sales to date in the world, by subject key: what ranks names of one
        kind. A cold model computes its series here (seconds at ten thousand models), so the
        loop is given back every `chunk` subjects."""
        sizes: dict[str, int] = {}
        for i, subject in enumerate(self.subjects()):
            if i and i % chunk == 0:
                await asyncio.sleep(0)
            sizes[subject.key] = self.world_sales_of(subject)
        return sizes

    def world_sales_of(self, subject: Subject) -> int:
        """A subject's sales to date in the world (0 without figures)."""
        cum = self.series(subject).cum
        return cum[-1] if cum else 0

    def warm(self, regions: Sequence[str] = (WORLD,), metric: str = "sales") -> int:
        """Compute every subject's series (and breakdowns) in `regions` ahead of questions."""
        subjects = self.subjects()
        for region in regions:
            for subject in subjects:
                self.series(subject, region, metric)
                if subject.kind in ("make", "group"):
                    self._model_parts(subject, region, metric)
        self._settle()
        return len(subjects) * len(regions)

    # -- series -----------------------------------------------------------------------------

    def series(self, subject: Subject, region: str = WORLD, metric: str = "sales") -> Series:
        """The subject's cumulative series in a region (computed once, then kept)."""
        per_subject = self._series.get(subject.key)
        if per_subject is not None:
            found = per_subject.get((region, metric))
            if found is not None:
                return found
        basis: dict[int, set[tuple[str, int]]] = {}
        monthly = self.monthly(subject, region, metric, basis)
        series = Series.of(monthly, basis) if monthly else EMPTY
        self._series.setdefault(subject.key, {})[(region, metric)] = series
        return series

    def monthly(
        self,
        subject: Subject,
        region: str,
        metric: str = "sales",
        chosen: dict[int, set[tuple[str, int]]] | None = None,
    ) -> dict[Month, int]:
        """Units added in each month, exactly as `SeriesReader.monthly` computes them;
        `metric` may name a powertrain (`bot.domain.powertrains.measure`)."""
        metric, powertrain = split_measure(metric)
        sources = counted(self._sources, metric, self._reader.samples)
        priority = {s.id: s.priority for s in sources}
        levels: bool | set[int] = metric == "stock" or {s.id for s in sources if s.running}
        keep: Callable[[IncRow], bool] | None = None
        rows: list[IncRow]
        if powertrain:
            members = self.members(subject) if subject.kind == "group" else {}
            rows, keep = self.split.rows(subject, powertrain, members)
        elif subject.kind == "model":
            key = SubjectKey.parse(subject.key)
            rows = self._rows.model_rows(key.make, key.model)
        elif subject.kind == "make":
            rows = self._rows.make_rows(SubjectKey.parse(subject.key).make)
        elif subject.kind == "group":
            members = self.members(subject)
            rows = [r for make in sorted(members) for r in self._rows.make_rows(make)]
            keep = member_filter(members)
        else:
            rows = self._rows.all_rows()
        return regional_increments(rows, priority, self.tree, region, keep, levels, chosen)

    def members(self, subject: Subject) -> dict[str, list[GroupMember]]:
        """A group's makes by key, each with its validity periods."""
        return self._reader.members(subject)

    def _model_parts(self, subject: Subject, region: str, metric: str) -> list[tuple[str, Series]]:
        """Each model of a make or group with its series there (a group's limited to the
        months its make belonged to the group)."""
        per_subject = self._parts.get(subject.key)
        if per_subject is not None and (region, metric) in per_subject:
            return per_subject[(region, metric)]
        members: dict[str, list[GroupMember]] | None = None
        if subject.kind == "make":
            makes: Mapping[str, object] = {SubjectKey.parse(subject.key).make: None}
        else:
            members = self.members(subject)
            makes = members
        parts: list[tuple[str, Series]] = []
        for m in self.catalog.models:
            if m.make_key not in makes:
                continue
            model = Subject(
                "model", SubjectKey.for_model(m.make_key, m.model_key), f"{m.make} {m.model}"
            )
            series = self.series(model, region, metric)
            if members is not None:
                spans = members[m.make_key]
                series = Series.of(
                    {k: v for k, v in series.monthly.items() if any(s.covers(k) for s in spans)}
                )
            parts.append((model.name, series))
        self._parts.setdefault(subject.key, {})[(region, metric)] = parts
        return parts

    # -- answers ----------------------------------------------------------------------------

    def total(
        self,
        subject: Subject,
        region: str = WORLD,
        as_of: Month | None = None,
        metric: str = "sales",
    ) -> TotalAnswer:
        """As `bot.reading.queries.total`: the cumulative figure and, for a make or group, its
        models."""
        key = (subject.key, region, metric, as_of)
        found = self._totals.get(key) if as_of is None or subject.kind != "model" else None
        if found is not None and found.subject == subject:
            return found
        value, last = self.series(subject, region, metric).at(as_of)
        breakdown: list[ModelShare] = []
        if subject.kind in ("make", "group"):
            breakdown = self.breakdown(subject, region, None, as_of, metric, value)
        plain, powertrain = split_measure(metric)
        answer = TotalAnswer(subject, region, plain, last, value, breakdown, powertrain=powertrain)
        # kept: answers to date (one a series at most) and breakdowns; a model's as of a month
        # is a bisect to make again (a million could be asked): neither kept nor looked for
        if as_of is None or breakdown:
            if len(self._totals) > 200_000:
                self._totals.clear()
            self._totals[key] = answer
        return answer

    def breakdown(
        self,
        subject: Subject,
        region: str,
        first: Month | None,
        last: Month | None,
        metric: str = "sales",
        parent_total: int | None = None,
    ) -> list[ModelShare]:
        """Each model's units from `first` to `last` (None: open) and share of the parent's,
        biggest first; models with no units are left out."""
        if parent_total is None:
            parent_total = self.series(subject, region, metric).window(first, last)
        found = []
        # Series.window inlined: a make's or group's models are many, and this is per command
        lo_index = None if first is None else first.index
        hi_index = None if last is None else last.index
        for name, series in self._model_parts(subject, region, metric):
            index, cum = series.index, series.cum
            lo = 0 if lo_index is None else bisect_left(index, lo_index)
            hi = len(index) if hi_index is None else bisect_right(index, hi_index)
            if hi <= lo:
                continue
            units = cum[hi - 1] - (cum[lo - 1] if lo else 0)
            if units > 0:
                found.append((-units, name))
        # biggest first, then by name: sorted as plain tuples, with no key called per model
        found.sort()
        return [
            ModelShare(name, -minus, -minus / parent_total if parent_total else 0)
            for minus, name in found
        ]

    def period_total(
        self, subject: Subject, region: str, first: Month, last: Month, metric: str = "sales"
    ) -> PeriodAnswer:
        """As `bot.reading.queries.period_total`: a window and the same window a year earlier."""
        series = self.series(subject, region, metric)
        return PeriodAnswer(
            subject,
            region,
            first,
            last,
            series.window(first, last),
            series.window(first.plus(-12), last.plus(-12)),
        )


def _has_member(members: Iterable[GroupMember], makes: Iterable[str]) -> bool:
    wanted = set(makes)
    return any(name_key(m.make) in wanted for m in members)
