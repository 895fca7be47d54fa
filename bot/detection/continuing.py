"""Continuing a series from its kept state (`bot.domain.series_state`) with the cells after
the month it was last detected at, instead of reading its whole history; and the fingerprint
that says whether a kept state still holds.

Pure: the detector (`bot.detection.detector`) reads the kept states and the cells.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from bot.detection.finding import Work, YearSources
from bot.detection.steps import SeriesKey
from bot.domain.events import Subject
from bot.domain.kept_basis import with_year, with_years
from bot.domain.ladders import Ladder
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.records import GroupMember, IncRow, SourceInfo
from bot.domain.series import RegionTree, regional_increments
from bot.domain.series_state import SeriesState, continue_one, continue_view
from bot.domain.settings import Config
from bot.domain.subjects import SubjectKey


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


def reads_after(
    works: Sequence[Work], members_of: Callable[[Subject], dict[str, list[GroupMember]]]
) -> tuple[
    list[Work],
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
                members[work.key] = members_of(work.key.subject)
                wanted = list(members[work.key])
            for make_key in wanted:
                was = makes.get(make_key)
                makes[make_key] = after if was is None or after < was else was
        else:
            everything = after if everything is None else min(everything, after)
    return going, [(*k, m) for k, m in models.items()], list(makes.items()), everything, members


def continue_with(
    going: Sequence[Work],
    rows: tuple[list[IncRow], list[IncRow], list[IncRow]],
    members: Mapping[SeriesKey, dict[str, list[GroupMember]]],
    priority: Mapping[int, int],
    tree: RegionTree,
    moving: Callable[[str], Callable[[str], bool]],
) -> None:
    """Continue each series in `going` from its state with the cells read after it
    (`reads_after`): its view, and the year sources its state will keep; a series those cells
    cannot continue exactly loses its state, to be read whole."""
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
            one = one_more(found, state, work.key.region, priority)
            if one is not None:
                # the usual poll, made as the general path below would make it
                work.view = continue_one(state, one.month, one.inc)
                work.year_sources = state.year_sources
                basis = state.basis
                if basis is not None and one.month.year != state.last.year:
                    basis = with_year(basis, one.month.year, (one.region, one.source_id))
                work.basis = basis
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
        moves = moving(work.key.region)
        kept = [r for r in found if r.month > last and r.source_id in priority and moves(r.region)]
        chosen: dict[int, set[tuple[str, int]]] = {}
        figures = figures_after(kept, state, work.key.region, priority, tree, chosen)
        if figures is None:
            work.state = None
            continue
        work.view = continue_view(state, figures)
        if state.basis is not None:
            # the detected year's pairs are the state's (its cells bring no new pair), so its
            # choice stands; a later year's is the new cells' own, as in a whole read
            last_year = state.last.year
            work.basis = with_years(state.basis, {y: p for y, p in chosen.items() if y > last_year})
        latest = work.view.latest
        if latest == last or (
            len(state.year_sources) == 1
            and all((r.region, r.source_id) in state.year_sources for r in kept)
        ):
            # nothing new, or all from the one region and source the state had
            work.year_sources = state.year_sources
        else:
            work.year_sources = year_sources(kept, latest)
            if latest.year == last.year:
                work.year_sources |= state.year_sources


def one_more(
    rows: Sequence[IncRow], state: SeriesState, region: str, priority: Mapping[int, int]
) -> IncRow | None:
    """The one cell after the state's last month, when it is all that continues the series
    and comes from the one region and source the state's year had (the usual poll of a
    model): the series then goes on by that cell's figure, from the same year sources."""
    if len(rows) != 1 or len(state.year_sources) != 1:
        return None
    (row,) = rows
    ((own, source),) = state.year_sources
    if row.region == own == region and row.source_id == source and source in priority:
        # months by number: Month's own comparisons are Python calls, one per touched model
        month, last = row.month, state.last
        if month.year * 12 + month.month > last.year * 12 + last.month:
            return row
    return None


def year_sources(rows: Iterable[IncRow], latest: Month) -> YearSources:
    """The (region, source) of the cells in `latest`'s year up to `latest`."""
    year = latest.year
    return frozenset(
        (r.region, r.source_id) for r in rows if r.month.year == year and r.month <= latest
    )


def figures_after(
    rows: Sequence[IncRow],
    state: SeriesState,
    region: str,
    priority: Mapping[int, int],
    tree: RegionTree,
    chosen: dict[int, set[tuple[str, int]]] | None = None,
) -> dict[Month, int] | None:
    """A series' figures for the months after its state's last, from every cell it has after
    that month (period figures only); None when the cells of the last month's year bring a
    region or source the detected months of that year did not have. `chosen` receives each
    year's (region, source) pairs, as `regional_increments` gives them."""
    out: dict[Month, int] = {}
    if len(state.year_sources) == 1:
        ((own, source),) = state.year_sources
        if own == region and all(r.region == own and r.source_id == source for r in rows):
            # one source, in the series' own region: the figures are the cells' increments
            for row in rows:
                out[row.month] = out.get(row.month, 0) + row.inc
            if chosen is not None:
                for year in {row.month.year for row in rows}:
                    chosen[year] = {(own, source)}
            return out
    year = state.last.year
    if not {(r.region, r.source_id) for r in rows if r.month.year == year} <= state.year_sources:
        return None
    # the year's detected cells still take part in its choices: stand-ins of 0 at the last
    # month, which only the detected part of the series has
    last = state.last
    stand_ins = [IncRow(s, r, "", "", last, 0) for r, s in sorted(state.year_sources)]
    figures = regional_increments([*stand_ins, *rows], priority, tree, region, chosen=chosen)
    return {m: v for m, v in figures.items() if m > last}
