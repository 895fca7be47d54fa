"""What detection reads through the store port beyond the journal: a series' whole history
and the cells it was made of, the cells of a window of months for events' bases and growth
comparisons, and a make's or group's leading model (every cell behind an event's figure, to
tell which events are one fact: `bot.detection.fact_cells`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

from bot.detection import window as windows
from bot.detection.kept_bases import kept_bases
from bot.detection.parts_gone import KnownParts, makes_gone
from bot.detection.steps import SUMMED_KINDS, SeriesKey, model_keys
from bot.detection.window import Window
from bot.domain.coverage import AlikeMemo, Basis, SourceFacts
from bot.domain.events import Event, GrowthEvent, Leader, Subject
from bot.domain.hierarchy import Hierarchy
from bot.domain.kept_basis import KeptBasis
from bot.domain.like_parts import unlike_parts
from bot.domain.periods import Month
from bot.domain.records import IncRow, SourceInfo
from bot.domain.series import own_region_basis, own_region_basis_of, regional_increments
from bot.domain.subjects import Catalog, SubjectKey
from bot.ports.store import BotStore
from bot.reading.queries import SeriesReader, counted, total


class Reads:
    """Detection's reads of the store, through the series reader of its configuration (whose
    `snapshot` of the sources, set for a poll, these use too)."""

    def __init__(self, store: BotStore, reader: SeriesReader, hierarchy: Hierarchy) -> None:
        self.store = store
        self.reader = reader
        self.hierarchy = hierarchy
        self.tree = reader.tree

    async def read_bases(
        self,
        events: Sequence[Event],
        bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]],
        wholes: dict[SeriesKey, dict[Month, int]],
        known: Sequence[SourceInfo],
        kept: Mapping[SeriesKey, KeptBasis] | None = None,
        facts: SourceFacts | None = None,
        memo: AlikeMemo | None = None,
    ) -> Window | None:
        """Give every event's series its basis where this poll has not read it whole (a series
        continued from its state): the basis its state `kept`, when it kept one (a record
        some earlier year of which is unlike its own is read whole too: it compares months,
        and needs `facts` to know). Without one, records and milestones need every year, so
        their series are read whole; the others need only their event's year and the year
        before, from one read of the makes' cells since then (returned, for
        `unlike_parts_of`)."""
        if kept:
            bases.update(kept_bases(events, bases, kept, facts, memo))
        # a record compares with every like year, a milestone's cumulative figure is as
        # narrow as its narrowest year: both need every year's basis
        wanted = [
            (k, e.kind in ("record", "milestone"))
            for e in events
            for k in (SeriesKey(e.subject, e.region, e.metric),)
            if k not in bases
        ]
        whole = list(dict.fromkeys(k for k, record in wanted if record))
        read_whole = set(whole)
        recent = [k for k in dict.fromkeys(k for k, _ in wanted) if k not in read_whole]
        async for key, monthly, _ in self.read_many(whole, known, bases):
            wholes[key] = monthly
        if not events:
            return None
        periods = [e.period for e in events]
        first, last = Month(min(periods).year - 1, 1), max(periods)
        priority = {
            metric: {s.id: s.priority for s in counted(known, metric, self.reader.samples)}
            for metric in ("sales", "stock")
        }
        # a make's, group's or all EVs' basis is its makes' sums' (region, source) of each year,
        # read as such; only one with cells outside its own region reads the cells themselves
        recent = await self._own_bases(recent, first, last, priority, bases)
        # a model's basis is its own cells' (read by model, not its make's every model's); a
        # make's or group's its makes' sums', as in a whole read (a tenth of their models' cells)
        window = await self._window(
            first,
            last,
            (),
            {m for k in recent if k.subject.kind != "model" for m in self._makes_of(k.subject)},
            everything=any(k.subject.kind == "all" for k in recent),
        )
        window.models = {model_keys(k.subject): [] for k in recent if k.subject.kind == "model"}
        if window.models:
            after = [(*pair, first.plus(-1)) for pair in window.models]
            for row in (await self.store.increments_after(after, [], None))[0]:
                if row.month <= last:
                    window.models[(row.make_key, row.model_key)].append(row)
        for key in recent:
            rows = await self._window_rows(key.subject, window, sums=True)
            found = own_region_basis(rows, priority[key.metric], key.region)
            if found is None:  # sub-regions take part: the whole choice of `regional_increments`
                found = {}
                self._series_of(key, rows, known, found)
            bases[key] = found
        return window

    async def _own_bases(
        self,
        keys: Sequence[SeriesKey],
        first: Month,
        last: Month,
        priority: Mapping[str, Mapping[int, int]],
        bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]],
    ) -> list[SeriesKey]:
        """Give each make, group and all-EVs series in `keys` whose makes' sums from `first` to
        `last` are all in its own region its basis from the (region, source) they have; returns
        the other keys (models, and those with cells elsewhere), whose cells are read."""
        summed = [k for k in keys if k.subject.kind != "model"]
        if not summed:
            return list(keys)
        wanted = {m for k in summed for m in self._makes_of(k.subject)}
        everything = any(k.subject.kind == "all" for k in summed)
        # every make's, in one pass over the months, cost less than looking many up
        many = everything or len(wanted) > windows.MANY_MAKES
        present: dict[str, set[tuple[int, str, int]]] = {}
        for make_key, year, region, source_id in await self.store.pairs_between(
            None if many else sorted(wanted), first, last
        ):
            present.setdefault(make_key, set()).add((year, region, source_id))
        rest = []
        for key in keys:
            found = None
            if key.subject.kind != "model":
                makes = present if key.subject.kind == "all" else self._makes_of(key.subject)
                found = own_region_basis_of(
                    (p for m in makes for p in present.get(m, ())),
                    priority[key.metric],
                    key.region,
                )
            if found is None:
                rest.append(key)
            else:
                bases[key] = found
        return rest

    async def _window(
        self,
        first: Month,
        last: Month,
        makes: Iterable[str],
        sums: Iterable[str] = (),
        *,
        everything: bool = False,
    ) -> Window:
        """The makes' models' cells from `first` to `last`, in one read, and the sums of the
        makes `sums` in another: figures of 0 too, which take part in each year's choice of a
        source as in a whole read. With `everything` (a total of all EVs asks) or many makes,
        every make's sums are read, and `sums` taken from them."""
        window = Window(first, last)
        wanted = sorted(set(makes))
        window.asked.update(wanted)
        if wanted:
            for row in await self.store.parts_between(wanted, first, last):
                window.by_make.setdefault(row.make_key, []).append(row)
        summed = sorted(set(sums))
        # every make's sums, in one pass over the months, cost less than looking many up
        if everything or len(summed) > windows.MANY_MAKES:
            window.everything = await self.store.parts_between(None, first, last)
        if summed:
            window.sums = {m: [] for m in summed}
            if window.everything is not None:
                # the same rows in the same order (by make, source, region, month): not read twice
                for row in window.everything:
                    found = window.sums.get(row.make_key)
                    if found is not None:
                        found.append(row)
            else:
                for row in await self.store.parts_between(summed, first, last, whole_makes=True):
                    window.sums[row.make_key].append(row)
        return window

    def _makes_of(self, subject: Subject) -> list[str]:
        """The makes whose cells a subject's figures are made of (none named for all EVs)."""
        if subject.kind == "model":
            return [model_keys(subject)[0]]
        if subject.kind == "make":
            return [SubjectKey.parse(subject.key).make]
        if subject.kind == "group":
            return sorted(self.reader.members(subject))
        return []

    async def _window_rows(
        self, subject: Subject, window: Window, sums: bool = False
    ) -> list[IncRow]:
        """A subject's cells in the window (all EVs' read once, when first asked); with
        `sums`, a make's or group's are its makes' sums."""
        if subject.kind == "all":
            if window.everything is None:
                window.everything = await self.store.parts_between(None, window.first, window.last)
            return window.everything
        if subject.kind == "model":
            make_key, model_key = model_keys(subject)
            own = window.models.get((make_key, model_key))
            if own is not None:
                return own
            return [r for r in window.by_make.get(make_key, ()) if r.model_key == model_key]
        cells = window.sums if sums else window.by_make
        return [r for m in self._makes_of(subject) for r in cells.get(m, ())]

    async def read_series(
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
            rows = await self.store.model_increments(*model_keys(subject))
        elif subject.kind == "make":
            rows = await self.store.make_increments([SubjectKey.parse(subject.key).make])
        elif subject.kind == "group":
            rows = await self.store.make_increments(sorted(self.reader.members(subject)))
        else:
            rows = await self.store.all_increments()
        return self._series_of(key, rows, sources, basis)

    async def read_many(
        self,
        keys: Sequence[SeriesKey],
        sources: Sequence[SourceInfo],
        bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]],
    ) -> AsyncIterator[tuple[SeriesKey, dict[Month, int], list[IncRow]]]:
        """`read_series` of many series, in their order, each one's basis into `bases`: the
        models' cells in one read and the makes' in another for each `READ_AT_ONCE` series (a
        statement each cost a poll of 100 revised models more than their rows; a whole store's
        cells at once would cost a catch-up its memory)."""
        for at in range(0, len(keys), windows.READ_AT_ONCE):
            chunk = keys[at : at + windows.READ_AT_ONCE]
            # once each: a subject read in several regions has its cells read once
            models = dict.fromkeys(
                model_keys(k.subject) for k in chunk if k.subject.kind == "model"
            )
            makes = dict.fromkeys(
                SubjectKey.parse(k.subject.key).make for k in chunk if k.subject.kind == "make"
            )
            batch_models, batch_makes = len(models) > 1, len(makes) > 1
            by_model: dict[tuple[str, str], list[IncRow]] = {}
            by_make: dict[str, list[IncRow]] = {}
            if batch_models or batch_makes:
                model_rows, make_rows, _ = await self.store.increments_after(
                    [(*m, windows.BEFORE_ANY) for m in models] if batch_models else [],
                    [(m, windows.BEFORE_ANY) for m in makes] if batch_makes else [],
                    None,
                )
                # in no promised order (PostgreSQL gives none): what reads them sorts or sets them
                for row in model_rows:
                    by_model.setdefault((row.make_key, row.model_key), []).append(row)
                for row in make_rows:
                    by_make.setdefault(row.make_key, []).append(row)
                for rows in by_make.values():  # in month order, as `make_increments`
                    rows.sort(key=windows.month_order)
            for key in chunk:
                basis = bases[key] = {}
                kind = key.subject.kind
                if kind == "model" and batch_models:
                    rows = by_model.get(model_keys(key.subject), [])
                    monthly, rows = self._series_of(key, rows, sources, basis)
                elif kind == "make" and batch_makes:
                    rows = by_make.get(SubjectKey.parse(key.subject.key).make, [])
                    monthly, rows = self._series_of(key, rows, sources, basis)
                else:
                    monthly, rows = await self.read_series(key, sources, basis)
                yield key, monthly, rows

    def _series_of(
        self,
        key: SeriesKey,
        rows: Iterable[IncRow],
        sources: Sequence[SourceInfo],
        basis: dict[int, set[tuple[str, int]]] | None = None,
    ) -> tuple[dict[Month, int], list[IncRow]]:
        """`read_series` from cells already read (a group's: its members' in their months)."""
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
        own = windows.own_figures(kept, key.region, levels)
        if own is None:
            figures = regional_increments(
                kept, priority, self.tree, key.region, None, levels, basis
            )
            return figures, kept
        if basis is not None:
            for year, pairs in own[1].items():
                basis.setdefault(year, set()).update(pairs)
        return own[0], kept

    async def unlike_parts(self, event: GrowthEvent, basis: Basis) -> str:
        """Why a growth event of a make, group or all EVs compares unlike parts (a model with
        figures in one window and none in the other); "" when they are alike."""
        return (await self.unlike_parts_of([(event, basis)])).get(id(event), "")

    async def unlike_parts_of(
        self,
        growth: Sequence[tuple[GrowthEvent, Basis]],
        window: Window | None = None,
        known: KnownParts | None = None,
    ) -> dict[int, str]:
        """`unlike_parts` of many growth events, by `id` of each event that compares unlike;
        the cells are read once for all of them (or taken from `window`, read already), and
        a make's models `known` to have units in its event's month are not asked of."""
        told = [(e, b) for e, b in growth if e.subject.kind in SUMMED_KINDS]
        if not told:
            return {}
        out: dict[int, str] = {}
        told = await makes_gone(self.store, told, out, known)
        if not told:
            return out
        # `unlike_parts` compares the month (or year) before each event's with the event's
        # own: the cells of those months are all it needs
        first = min(
            Month(e.period.year - 1, 12) if e.granularity == "year" else e.period.plus(-1)
            for e, _ in told
        )
        last = max(e.period for e, _ in told)
        makes = {m for e, _ in told for m in self._makes_of(e.subject)}
        # all EVs' makes' sums: the bases' window has them only when they were read for it
        # (its months may be years where these events need two)
        wants_all = window is not None and window.everything is None
        wants_all = wants_all and any(e.subject.kind == "all" for e, _ in told)
        if (
            window is None
            or first < window.first
            or last > window.last
            or not makes <= window.asked
            or wants_all
        ):
            wider = window
            window = await self._window(first, last, makes)
            window.everything = windows.everything_within(wider, first, last)
        for event, basis in told:
            rows = await self._window_rows(event.subject, window)
            members = self.reader.members(event.subject) if event.subject.kind == "group" else None
            reason = unlike_parts(rows, basis, event.period, members, event.granularity == "year")
            if reason:
                out[id(event)] = reason
        return out

    async def leader(
        self, key: SeriesKey, catalog: Catalog, period: Month, parent_total: int
    ) -> Leader | None:
        answer = await total(self.reader, catalog, key.subject, key.region, period, key.metric)
        if not answer.breakdown or parent_total <= 0:
            return None
        top = answer.breakdown[0]
        return Leader(top.name, top.units, top.units / parent_total)
