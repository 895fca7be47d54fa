"""One fact, one line: which events tell the same fact, and which of them a listener hears.

Two events tell the same fact when they have the same kind, metric, threshold (or band) and
period over the same contributing figures: the world that is only its one region, a make with
one model, a group with one member. Equal numbers alone are not enough: the contributing figures
are compared through each event's `basis`, a digest of the (make, model, region, source) cells
it is made of, which the detector computes (`Detector.bases`) for the events whose figures some
other event of the same detection repeats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.periods import Month
from bot.domain.regions import shipped_table
from bot.domain.subjects import SubjectKey

SUBJECT_RANK = {"model": 3, "make": 2, "group": 1, "region": 0, "all": 0}
WORLD = "World"


@lru_cache(maxsize=4096)
def region_rank(region: str) -> int:
    """How specific a region is: the world least, then a continent (told as its countries'
    sum where it has no figure of its own, one fact with its one country's), then the rest."""
    if region.strip().casefold() in ("", "world"):
        return 0
    table = shipped_table()
    found = table.find(region)
    return 1 if found is not None and table.regions[found].kind == "continent" else 2


def event_rank(event: Event) -> tuple[int, int, int]:
    """How specific an event's subject and region are: of one fact, the most specific is told.
    For a share, a make as parent is more specific than a group."""
    parent = SUBJECT_RANK.get(event.parent.kind, 0) if isinstance(event, ShareEvent) else 0
    return (SUBJECT_RANK.get(event.subject.kind, 0), region_rank(event.region), parent)


def basis_of(cells: Iterable[tuple[str, str, str, int]]) -> str:
    """A compact, stable digest of the (make key, model key, region, source id) cells a figure
    is made of."""
    text = "\n".join(f"{a}|{b}|{c}|{d}" for a, b, c, d in sorted(set(cells)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def month_index(month: Month) -> int:
    """A month as one integer, cheap to compare over many cells."""
    return month.year * 12 + month.month - 1


def window(event: Event) -> tuple[tuple[int, int], ...]:
    """The months (as `month_index`, inclusive ranges) whose figures make an event: all up to
    its period, but for year-to-date growth only the months of the two years it compares."""
    end = month_index(event.period)
    if isinstance(event, GrowthEvent):
        first = month_index(Month(event.period.year, 1))
        return ((first - 12, end - 12), (first, end))
    return ((0, end),)


def figures_key(event: Event) -> tuple[Hashable, ...]:
    """What an event says, without whom about: events of the same fact share it (the same
    figures give the same numbers), though equal numbers alone do not make one fact."""
    head: tuple[Hashable, ...] = (event.kind, event.metric, str(event.period))
    if isinstance(event, MilestoneEvent):
        return (*head, event.headline, event.value)
    if isinstance(event, ShareEvent):
        return (*head, event.direction, round(event.boundary, 4), event.units, event.parent_units)
    if isinstance(event, GrowthEvent):
        return (*head, event.value, event.previous)
    assert isinstance(event, RecordEvent)
    return (*head, event.value, event.previous_best, str(event.previous_best_period))


def fact_key(event: Event) -> tuple[Hashable, ...] | None:
    """The fact an event tells; None for an event with no basis (never merged)."""
    if not event.basis:
        return None
    head: tuple[Hashable, ...] = (event.kind, event.metric, str(event.period), event.basis)
    if isinstance(event, MilestoneEvent):
        return (*head, event.headline)
    if isinstance(event, ShareEvent):
        return (*head, event.direction, round(event.boundary, 4))
    return head


def candidate_groups(
    events: Sequence[Event], related: Callable[[str, str], bool]
) -> list[list[int]]:
    """Indices of events that may tell one fact: the same figures, about subjects and regions
    that can share cells (`related` says whether two regions can). Only these need a basis."""
    by_figures: dict[tuple[Hashable, ...], list[int]] = {}
    for i, event in enumerate(events):
        if isinstance(event, CorrectionEvent):
            continue  # told to the channels that got each original, never merged
        by_figures.setdefault(figures_key(event), []).append(i)
    out = []
    makes: dict[str, str] = {}  # subject key -> make key: each parsed once, not once a pair
    for indices in by_figures.values():
        if len(indices) < 2:
            continue
        # a model or make shares cells only with its own make's subjects or with a wider one
        # (all EVs, a group, a region): only those pairs are asked, not every pair of a
        # large group (a poll's like-figured growth events of a thousand makes)
        wide = [i for i in indices if events[i].subject.kind in _WIDE]
        by_make: dict[str, list[int]] = {}
        for i in indices:
            if events[i].subject.kind not in _WIDE:
                by_make.setdefault(_make_of(events[i].subject, makes), []).append(i)
        kept = []
        for i in indices:
            event = events[i]
            others: Iterable[int] = indices
            if event.subject.kind not in _WIDE:
                others = [*wide, *by_make[_make_of(event.subject, makes)]]
            if any(j != i and may_share(event, events[j], related, makes) for j in others):
                kept.append(i)
        if len(kept) > 1:
            out.append(kept)
    return out


_WIDE = frozenset({"all", "group", "region"})  # subjects whose cells may be any make's


def may_share(
    a: Event, b: Event, related: Callable[[str, str], bool], makes: dict[str, str] | None = None
) -> bool:
    """Whether two events' figures may be made of the same cells (`makes` keeps each subject's
    make key between calls)."""
    if makes is None:
        makes = {}
    if not related(a.region, b.region):
        return False
    if (a.subject.key, a.region) == (b.subject.key, b.region):
        return isinstance(a, ShareEvent) and isinstance(b, ShareEvent)
    if a.subject.kind in _WIDE or b.subject.kind in _WIDE:
        return True  # a group's members are not known here; the basis decides
    return _make_of(a.subject, makes) == _make_of(b.subject, makes) and not (
        a.subject.kind == b.subject.kind == "model" and a.subject.key != b.subject.key
    )


def _make_of(subject: Subject, makes: dict[str, str]) -> str:
    make = makes.get(subject.key)
    if make is None:
        make = makes[subject.key] = SubjectKey.parse(subject.key).make
    return make


def mark_same(events: Sequence[Event]) -> list[Event]:
    """The events, each with the (subject, region) of the others telling the same fact."""
    groups: dict[tuple[Hashable, ...], list[int]] = {}
    for i, event in enumerate(events):
        key = fact_key(event)
        if key is not None:
            groups.setdefault(key, []).append(i)
    out = list(events)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        for i in indices:
            own = (events[i].subject, events[i].region)
            others = tuple(
                dict.fromkeys(
                    (events[j].subject, events[j].region)
                    for j in indices
                    if (events[j].subject, events[j].region) != own
                )
            )
            out[i] = replace(out[i], same_as=others)
    return out


def one_per_fact(events: Sequence[Event]) -> list[Event]:
    """Each fact once, told by its most specific event, in the order the facts first came."""
    best: dict[tuple[Hashable, ...], int] = {}
    order: list[tuple[Hashable, ...]] = []
    for i, event in enumerate(events):
        key = fact_key(event) or ("event", i)
        if key not in best:
            best[key] = i
            order.append(key)
        elif event_rank(event) > event_rank(events[best[key]]):
            best[key] = i
    return [events[best[key]] for key in order]
