"""Every cell behind an event's figure, read to tell which of a detection's events are one
fact (`bot.domain.facts`): the same figures over the same cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.detection.steps import model_keys
from bot.domain.events import Event, ShareEvent, Subject
from bot.domain.facts import basis_of, candidate_groups, mark_same, month_index, window
from bot.domain.hierarchy import Hierarchy
from bot.domain.periods import Month
from bot.domain.subjects import SubjectKey
from bot.ports.store import BotStore
from bot.reading.queries import SeriesReader

# a cell with units, as a fact's basis needs it: month index, month, source, region, make, model
BasisCell = tuple[int, Month, int, str, str, str]


class FactCells:
    """The cells of events' figures, through the series reader of a detection's configuration
    (whose `snapshot` of the sources, set for a poll, these use too)."""

    def __init__(self, store: BotStore, reader: SeriesReader, hierarchy: Hierarchy) -> None:
        self.store = store
        self.reader = reader
        self.hierarchy = hierarchy

    async def bases(
        self, events: Sequence[Event], cache: dict[str, list[BasisCell]] | None = None
    ) -> list[Event]:
        """The events, those whose figures another of them repeats with their basis (the
        cells they are made of: `bot.domain.facts`) and each told which others tell the same fact.
        The rest keep none: nothing in this detection could be the same fact.

        `cache` keeps each subject's cells between calls over an unchanged store (replay)."""
        groups = candidate_groups(events, self.hierarchy.related)
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
                within = inside[where] = region in self.hierarchy.regions_of(where)
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
            rows = await self.store.model_increments(*model_keys(subject))
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
