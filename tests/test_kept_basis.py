"""A series' basis kept in its state (issue 19): a series continued from its state tells its
events from the basis it kept (and the new years' pairs), with no read of its history; the basis
it keeps is, after every poll, the one a whole read of the series gives, on both backends, with
several sources and regions and across year ends."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.detection.detector import Detector
from bot.detection.steps import SeriesKey
from bot.domain.coverage import (
    AlikeMemo,
    SourceFacts,
    alike,
    dressed,
    earlier_alike,
    source_facts,
    tell,
)
from bot.domain.events import Event, GrowthEvent, MilestoneEvent, RecordEvent, Subject
from bot.domain.kept_basis import (
    basis_dict,
    decode_basis,
    encode_basis,
    kept_basis,
    with_year,
    with_years,
)
from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.rungs import RungRange
from bot.domain.series_state import whole_view
from bot.domain.settings import default_config
from bot.domain.subjects import ALL, SubjectKey
from bot.ports.store import BotStore

SOURCES = (SourceSpec("monthly"), SourceSpec("press", priority=10))
MAKES = ("Nissan", "Renault", "Tesla")
FIRST, CUT = Month(2019, 1), Month(2020, 10)  # history up to CUT, then month by month
LAST = Month(2021, 3)  # across a year end


# -- the kept form ----------------------------------------------------------------------------


def test_a_kept_basis_round_trips_and_is_shared() -> None:
    basis = {2019: {("World", 1)}, 2020: {("Norway", 2), ("World, rest", 1)}, 2021: set()}
    kept = kept_basis(basis)
    assert kept == ((2019, {("World", 1)}), (2020, {("Norway", 2), ("World, rest", 1)}))
    assert basis_dict(kept) == {y: p for y, p in basis.items() if p}
    text = encode_basis(kept)
    assert decode_basis(text) == kept
    # a run of years taken alike is one item
    run = kept_basis({y: {("World", 1)} for y in range(2010, 2019)} | {2020: {("World", 1)}})
    assert encode_basis(run) == '[[2010,2018,[["World",1]]],[2020,2020,[["World",1]]]]'
    assert decode_basis(encode_basis(run)) == run
    assert decode_basis(text) is kept_basis(dict(basis))  # one shared value, not a copy each
    assert with_year(kept, 2021, ("World", 1)) == ((*kept, (2021, frozenset({("World", 1)}))))
    assert with_year(with_year(kept, 2021, ("World", 1)), 2021, ("World", 1)) == with_years(
        kept, {2021: {("World", 1)}}
    )
    assert with_years(kept, {2020: {("World", 1)}})[1] == (2020, frozenset({("World", 1)}))


@pytest.mark.parametrize(
    "text", ["", "[[2020]]", '[["x", 2020, [["World", 1]]]]', "[[2020, 2020, [1]]]"]
)
def test_an_unreadable_basis_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="series state"):
        decode_basis(text)


# -- a record told without the months when every earlier year is alike -------------------------

FACTS = SourceFacts(
    {1: frozenset(), 2: frozenset(), 3: frozenset(range(2019, 2023))}, {1: "A", 2: "B", 3: "C"}, {}
)
PAIRS = (("World", 1), ("World", 2), ("Norway", 1), ("World", 3))


def like_record(
    event: RecordEvent, basis: dict[int, set[tuple[str, int]]], monthly: dict[Month, int]
) -> RecordEvent | None:
    """The record's definition: the best earlier month of a like year, beaten."""
    year = event.period.year
    like = {y for y in basis if y == year or alike(basis, y, year, FACTS)}
    earlier = [(v, m) for m, v in monthly.items() if m < event.period and m.year in like and v]
    if not earlier:
        return None
    best, when = max(earlier, key=lambda item: (item[0], -item[1].index))
    if event.value <= best:
        return None
    return replace(event, previous_best=best, previous_best_period=when)


@given(
    st.lists(st.integers(0, 400), min_size=2, max_size=40),
    st.lists(st.sampled_from(PAIRS), min_size=1, max_size=4),
    st.integers(0, 3),
)
def test_a_record_told_from_its_kept_basis_is_the_record_of_its_months(
    units: list[int], pairs: list[tuple[str, int]], unlike_year: int
) -> None:
    monthly = {FIRST.plus(i): u for i, u in enumerate(units)}
    view = whole_view(monthly)
    assert view is not None
    years = sorted({m.year for m in monthly})
    # every year alike but (maybe) one, taken from another pair
    basis = {y: {pairs[0]} for y in years}
    if unlike_year < len(years) - 1:
        basis[years[unlike_year]] = {pairs[-1]}
    if view.best is None or monthly[view.latest] <= view.best[0]:
        return  # detection finds no record here
    found = RecordEvent(ALL, "World", "sales", view.latest, monthly[view.latest], *view.best, "A")
    expected = like_record(found, basis, monthly)
    told = tell(found, basis, monthly, FACTS)
    assert told == (None if expected is None else dressed(expected, basis, FACTS))
    if earlier_alike(basis, view.latest.year, FACTS):
        # the months are not needed: a continued series is told from its basis alone
        assert tell(found, basis, {}, FACTS) == told


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # which basis
            st.integers(2019, 2022),  # the event's year
            st.sampled_from(("growth", "record", "milestone")),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(
        st.dictionaries(
            st.integers(2018, 2022), st.sets(st.sampled_from(PAIRS), min_size=1, max_size=2)
        ),
        min_size=4,
        max_size=4,
    ),
)
def test_telling_with_a_memo_is_telling_without(
    drawn_events: list[tuple[int, int, str]], bases: list[dict[int, set[tuple[str, int]]]]
) -> None:
    """One memo across a poll's events, whose series share a few bases, tells each as `tell`
    alone does (`AlikeMemo` remembers by the basis and both years)."""
    memo = AlikeMemo(FACTS)
    monthly = {Month(y, m): 10 * m for y in range(2018, 2023) for m in range(1, 13)}
    for which, year, kind in drawn_events:
        basis = bases[which]
        period = Month(year, 6)
        event: Event
        if kind == "growth":
            event = GrowthEvent(ALL, "World", "sales", period, 120, 100)
        elif kind == "record":
            event = RecordEvent(ALL, "World", "sales", period, 60, 50, Month(year - 1, 5), "A")
        else:
            event = MilestoneEvent(
                ALL, "World", "sales", RungRange("1,2,5", 1000, 1000, 1), period, 1200
            )
        assert tell(event, basis, monthly, FACTS, memo) == tell(event, basis, monthly, FACTS)
        assert earlier_alike(basis, year, FACTS, memo) == earlier_alike(basis, year, FACTS)


# -- kept bases are the whole reads' ----------------------------------------------------------


def drawn(seed: int, months: Sequence[Month]) -> list[tuple[SourceSpec, list[SalesRecord]]]:
    rng = random.Random(seed)
    out: dict[SourceSpec, list[SalesRecord]] = {s: [] for s in SOURCES}
    for make in MAKES:
        regions = rng.choice((("World",), ("World",), ("World", "Norway")))
        source_of = rng.choice((SOURCES[:1], SOURCES[:1], SOURCES))
        for month in months:
            for model in ("A", "B"):
                if rng.random() < 0.85:
                    source = rng.choice(source_of)
                    region = rng.choice(regions)
                    units = rng.choice((0, rng.randint(1, 400), rng.randint(1, 400)))
                    out[source].append(SalesRecord(str(month), region, make, model, units))
    return [(s, rows) for s, rows in out.items() if rows]


def months_between(first: Month, last: Month) -> list[Month]:
    return [Month.from_index(i) for i in range(first.index, last.index + 1)]


@pytest.mark.parametrize("seed", range(5))
async def test_every_kept_basis_is_the_whole_read_s_after_every_poll(
    any_store: BotStore, seed: int
) -> None:
    config = default_config()
    await any_store.sync_groups(config.groups)
    detector = Detector(any_store, config)
    for source, records in drawn(seed, months_between(FIRST, CUT)):
        await any_store.import_records([(source, records)])
    await detector.poll()
    continued = 0
    for month in months_between(CUT.plus(1), LAST):
        for source, records in drawn(seed * 100 + month.index, [month]):
            await any_store.import_records([(source, records)])
        await detector.poll()
        continued += detector.continued
        known = await any_store.sources()
        subjects = [Subject("make", SubjectKey.for_make(m.lower()), m) for m in MAKES]
        subjects += [
            Subject("model", SubjectKey.for_model(m.lower(), x.lower()), f"{m} {x}")
            for m in MAKES
            for x in ("A", "B")
        ]
        subjects.append(ALL)
        keys = [SeriesKey(s, region, "sales") for s in subjects for region in ("World",)]
        states = await any_store.series_states([(k.subject.key, k.region, k.metric) for k in keys])
        assert states, "the polls keep states"
        for key in keys:
            state = states.get((key.subject.key, key.region, key.metric))
            if state is None:
                continue
            whole: dict[int, set[tuple[str, int]]] = {}
            await detector.reads.read_series(key, known, whole)
            assert state.basis == kept_basis(whole), (key.subject.name, month)
    assert continued, "series were continued from their states"


LEAF = Subject("model", SubjectKey.for_model("nissan", "leaf"), "Nissan Leaf")
NOVEMBER = CUT.plus(1)


async def bases_read(
    store: BotStore, events: Sequence[Event]
) -> tuple[
    dict[SeriesKey, dict[int, set[tuple[str, int]]]], dict[SeriesKey, dict[Month, int]], int
]:
    """`read_bases` of `events` on the Leaf's series with the basis a whole read gives kept for
    it: (the bases given, the series read whole, cell rows read)."""
    config = default_config()
    detector = Detector(store, config)
    known = await store.sources()
    key = SeriesKey(LEAF, "World", "sales")
    whole: dict[int, set[tuple[str, int]]] = {}
    await detector.reads.read_series(key, known, whole)
    bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
    wholes: dict[SeriesKey, dict[Month, int]] = {}
    read = dict(store.stats.rows_read)
    await detector.reads.read_bases(
        events, bases, wholes, known, {key: kept_basis(whole)}, source_facts(known, config)
    )
    cells = sum(
        store.stats.rows_read.get(t, 0) - read.get(t, 0)
        for t in ("cells", "make_cells", "all_cells")
    )
    assert bases[key] == whole
    return bases, wholes, cells


def leaf_events() -> list[Event]:
    return [
        MilestoneEvent(LEAF, "World", "sales", (100_000,), NOVEMBER, 108_000),
        GrowthEvent(LEAF, "World", "sales", NOVEMBER, 58_500, 27_000),
        RecordEvent(LEAF, "World", "sales", NOVEMBER, 9_000, 4_500, FIRST),
    ]


async def test_a_kept_basis_tells_milestones_records_and_growth_with_no_read(
    any_store: BotStore,
) -> None:
    history = [
        SalesRecord(str(m), "World", "Nissan", "Leaf", 4_500)
        for m in months_between(FIRST, NOVEMBER)
    ]
    await any_store.import_records([(SOURCES[0], history)])
    _, wholes, cells = await bases_read(any_store, leaf_events())
    assert (wholes, cells) == ({}, 0)


async def test_a_record_after_an_unlike_year_reads_its_series_whole(any_store: BotStore) -> None:
    """2019 from the press, 2020 from the monthly source: a record of 2020 compares with 2020's
    months only, so its months are read; a milestone of the same series still reads nothing."""
    months = months_between(FIRST, NOVEMBER)
    press = [
        SalesRecord(str(m), "World", "Nissan", "Leaf", 4_500) for m in months if m.year == 2019
    ]
    monthly = [
        SalesRecord(str(m), "World", "Nissan", "Leaf", 4_500) for m in months if m.year == 2020
    ]
    await any_store.import_records([(SOURCES[1], press), (SOURCES[0], monthly)])
    _, wholes, cells = await bases_read(any_store, leaf_events()[:1])
    assert (wholes, cells) == ({}, 0)
    _, wholes, cells = await bases_read(any_store, leaf_events())
    assert list(wholes) == [SeriesKey(LEAF, "World", "sales")]
    assert cells == len(months)
