"""One pass over a poll's touched series, once their figures are at hand: the milestones,
corrections, growth, records and shares they show, the share levels and series states to keep,
and which events still need more than the views give (a projection's pace, a leading model).

Pure: the detector (`bot.detection.detector`) reads what this needs, and runs it off the loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from bot.detection.steps import (
    SUMMED_KINDS,
    SeriesKey,
    detect_milestones,
    growth_events_from,
    item_order,
    model_keys,
    next_above_of,
    record_of,
    share_event,
    share_step,
)
from bot.domain.corrections import correction_events
from bot.domain.events import Subject
from bot.domain.hierarchy import Hierarchy, NameBook
from bot.domain.kept_basis import KeptBasis
from bot.domain.ladders import Ladder
from bot.domain.milestones import Recorded
from bot.domain.periods import Month
from bot.domain.records import DetectionWrite
from bot.domain.rungs import RungSet
from bot.domain.series import total_as_of
from bot.domain.series_state import SeriesState, SeriesView
from bot.domain.settings import Config


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
Parent = tuple[Subject, SeriesKey, int | None]  # a parent, and its total when a view gave it


@dataclass(slots=True)
class Work:
    """One touched series through a detection."""

    key: SeriesKey
    triple: Triple
    news_from: Month | None
    changed: Month | None
    state: SeriesState | None = None  # set while it may continue from its kept state
    view: SeriesView | None = None
    year_sources: YearSources = frozenset()
    basis: KeptBasis | None = None  # every year's pairs, for the state to keep
    parents: Sequence[Parent] = ()  # a model's, as of its latest month
    model_keys: tuple[str, str] = ("", "")  # a model's make and model keys


def ordered_works(
    touched: Mapping[SeriesKey, Month | None], changed: Mapping[SeriesKey, Month] | None
) -> list[Work]:
    """The touched series in the order detection goes through them (and tells their events)."""
    works = []
    for key, news_from in sorted(touched.items(), key=item_order):
        subject = key.subject
        work = Work(
            key,
            (subject.key, key.region, key.metric),
            news_from,
            changed.get(key) if changed else None,
        )
        if subject.kind == "model":
            work.model_keys = model_keys(subject)
        works.append(work)
    return works


def wanted_of(
    works: Sequence[Work],
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


def unanswered_parents(
    works: Sequence[Work], names: NameBook, hierarchy: Hierarchy
) -> set[SeriesKey]:
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
            for parent in hierarchy.parents(work.key.subject, names, latest):
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


def find(
    works: Sequence[Work],
    wholes: Mapping[SeriesKey, dict[Month, int]],
    recorded_all: Mapping[Triple, dict[int, Recorded]],
    levels: Mapping[tuple[str, str, str, str], float | None],
    source: str,
    fingerprint: str,
    config: Config,
    ladders: Sequence[Ladder],
    rungs: RungSet,
) -> Found:
    """Everything the series' views show: milestones, corrections, events, share levels,
    the states to keep; and which events still need a projection from the whole series
    or a leading model, by their index."""
    detection = Detection(DetectionWrite(ladder=rungs.spec))
    write = detection.write
    states = detection.states
    events = write.events
    share_levels = write.share_levels
    next_above = next_above_of(ladders)
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
            kept = find_milestones(work, recorded or {}, rungs, source, write, pace, leaders)
            if view is not None:
                peak = view.peak
                flagged = sum(r.count for r in kept.values() if r.highest > peak)
        if view is None:
            continue
        kind = key.subject.kind
        states.append(
            view.state(
                *work.triple,
                fingerprint,
                kind in SUMMED_KINDS,
                work.year_sources,
                flagged,
                work.basis,
            )
        )
        if news_from is None:
            continue
        latest = view.latest
        # a model is told of a record month only (no year to date): most months, nothing
        if kind != "model" or record_of(view) is not None:
            events.extend(
                growth_events_from(
                    key,
                    view.monthly,
                    latest,
                    view.first_nonzero or latest,
                    view.total,
                    partial(record_of, view),
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


def find_milestones(
    work: Work,
    recorded: Mapping[int, Recorded],
    rungs: RungSet,
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
        rungs,
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
