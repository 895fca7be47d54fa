"""`touched_series` against its definition: every cell moves what `moved_subjects` says, in
every region of its chain, each series from the earliest month any cell moved it and the
earliest a news cell did. The usual cell's inline path and the subjects and series keys kept
between polls (`TouchedMemo`) must give exactly that, in the same order."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from bot.detection.steps import SeriesKey
from bot.detection.touched import (
    KeptNames,
    PollNames,
    TouchedMemo,
    moved_subjects,
    touched_series,
)
from bot.domain.events import Subject
from bot.domain.hierarchy import Hierarchy
from bot.domain.periods import Month
from bot.domain.records import GroupMember, GroupSpec, SourceInfo
from bot.domain.settings import default_config
from bot.domain.subjects import ALL, Catalog
from bot.reading.queries import region_tree

CONFIG = dataclasses.replace(
    default_config(),
    groups=(
        GroupSpec("Duo", (GroupMember("Alpha"), GroupMember("Beta", Month(2020, 7)))),
        GroupSpec("Old", (GroupMember("Beta", None, Month(2020, 3)),)),
    ),
    region_parents={"WA": "USA"},
)
HIERARCHY = Hierarchy.of(CONFIG, region_tree(CONFIG))
SOURCES = {
    1: SourceInfo(1, "monthly", "sales", 100, 1, None),
    2: SourceInfo(2, "stock", "stock", 100, 1, None),
}
MONTHS = [Month(2020, m) for m in range(1, 10)]

Cell = tuple[int, str, str, str, Month, Month | None]


@st.composite
def cells(draw: st.DrawFn) -> Cell:
    earliest = draw(st.sampled_from(MONTHS))
    news = draw(st.none() | st.sampled_from([m for m in MONTHS if m >= earliest]))
    return (
        draw(st.sampled_from([1, 2])),
        draw(st.sampled_from(["World", "WA", "USA", "Chile"])),
        draw(st.sampled_from(["alpha", "beta", "gamma", "delta", ""])),
        draw(st.sampled_from(["a1", "b1", "g1", "g2", ""])),
        # a month equal to another but not the same object, as a store may give
        Month(earliest.year, earliest.month) if draw(st.booleans()) else earliest,
        news,
    )


class Names:
    def __init__(self) -> None:
        self.makes = {"alpha": "Alpha", "beta": "Beta", "gamma": "Gamma"}

    def model(self, make_key: str, model_key: str) -> None:
        return None


def by_definition(
    cells: list[Cell],
) -> tuple[dict[SeriesKey, Month | None], dict[SeriesKey, Month]]:
    subjects: dict[str, Subject] = {ALL.key: ALL}
    touched: dict[SeriesKey, Month | None] = {}
    changed: dict[SeriesKey, Month] = {}
    for source_id, region, make, model, earliest, news_from in cells:
        metric = "stock" if SOURCES[source_id].metric == "stock" else "sales"
        moves = moved_subjects(HIERARCHY, make, model, earliest, news_from, Names(), subjects)
        for subject_key, moved, news in moves:
            for place in HIERARCHY.regions_of(region):
                key = SeriesKey(subjects[subject_key], place, metric)
                changed[key] = min(changed.get(key, moved), moved)
                told = touched.get(key)
                touched[key] = news if told is None else told if news is None else min(told, news)
    return touched, changed


@given(st.lists(cells(), max_size=30), st.lists(cells(), max_size=30))
def test_touched_series_is_its_definition_with_or_without_a_kept_memo(
    first: list[Cell], second: list[Cell]
) -> None:
    memo = TouchedMemo()
    for poll in (first, second):
        want = by_definition(poll)
        for got in (
            touched_series(poll, SOURCES, Names(), HIERARCHY),
            touched_series(poll, SOURCES, Names(), HIERARCHY, memo),  # kept from the last
        ):
            assert [list(d.items()) for d in got] == [list(d.items()) for d in want]
            for mapping in got:  # named as the definition names them
                assert [(k.subject.kind, k.subject.name) for k in mapping] == [
                    (k.subject.kind, k.subject.name) for k in want[0]
                ]


async def no_catalog() -> Catalog:
    raise AssertionError("the poll's names are enough")


def test_a_rename_starts_a_new_memo() -> None:
    kept = KeptNames()
    kept.update(([("alpha", "ALPHA")], [("alpha", "a1", "A1")]), 1)
    cell: Cell = (1, "World", "alpha", "a1", MONTHS[0], MONTHS[0])
    names = PollNames(kept.makes, kept.models, no_catalog)
    touched, _ = touched_series([cell], SOURCES, names, HIERARCHY, kept.memo)
    assert {k.subject.name for k in touched} == {"all EVs", "ALPHA", "Duo", "ALPHA A1"}
    kept.update(([("alpha", "Alpha")], [("alpha", "a1", "A1")]), 2)
    names = PollNames(kept.makes, kept.models, no_catalog)
    touched, _ = touched_series([cell], SOURCES, names, HIERARCHY, kept.memo)
    assert {k.subject.name for k in touched} == {"all EVs", "Alpha", "Duo", "Alpha A1"}


def test_kept_names_give_each_make_its_models_as_stored() -> None:
    kept = KeptNames()
    kept.update(([("alpha", "Alpha")], [("alpha", "a1", "A1"), ("beta", "b1", "B1")]), 1)
    assert kept.models_of == {"alpha": ["a1"], "beta": ["b1"]}
    # a model named later (by this process or another) is a part of its make at once
    kept.update(([("alpha", "Alpha")], [("alpha", "a1", "A1"), ("alpha", "a2", "A2")]), 2)
    assert kept.models_of == {"alpha": ["a1", "a2"]}
