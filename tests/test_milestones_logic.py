from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import overload

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ladders import parse_ladder
from bot.milestones import (
    Correction,
    Reconciliation,
    Recorded,
    apply_reconciliation,
    first_crossings,
    group_new,
    reconcile,
)
from bot.periods import Month

Series = list[tuple[Month, int]]
START = Month(2015, 1)


def months(*values: int, start: Month = START) -> Series:
    return [(start.plus(i), v) for i, v in enumerate(values)]


def oracle(series: Series, thresholds: Iterable[int]) -> dict[int, tuple[Month, int]]:
    """Brute force: scan the series for each threshold."""
    found: dict[int, tuple[Month, int]] = {}
    for t in thresholds:
        for month, value in series:
            if value >= t:
                found[t] = (month, value)
                break
    return found


# first_crossings


def test_first_crossings_examples() -> None:
    series = months(400, 900, 1_200, 800, 2_600, 2_400, 5_000)
    got = first_crossings(series, [1_000, 2_500, 5_000, 10_000, 500])
    assert got == {
        500: (Month(2015, 2), 900),
        1_000: (Month(2015, 3), 1_200),
        2_500: (Month(2015, 5), 2_600),
        5_000: (Month(2015, 7), 5_000),
    }


def test_first_crossings_after_a_dip_keeps_the_first_month() -> None:
    series = months(1_100, 700, 1_300)
    assert first_crossings(series, [1_000]) == {1_000: (Month(2015, 1), 1_100)}
    assert first_crossings(series, [1_200]) == {1_200: (Month(2015, 3), 1_300)}


def test_first_crossings_empty_inputs() -> None:
    assert first_crossings([], [1_000]) == {}
    assert first_crossings(months(5_000), []) == {}
    assert first_crossings(months(5_000), iter([1_000, 1_000])) == {1_000: (Month(2015, 1), 5_000)}


def test_first_crossings_refuses_unordered_series() -> None:
    series = [(Month(2015, 2), 10), (Month(2015, 1), 20)]
    with pytest.raises(ValueError, match="2015-01 follows 2015-02"):
        first_crossings(series, [5])
    with pytest.raises(ValueError, match="ascend"):
        first_crossings([(Month(2015, 2), 10), (Month(2015, 2), 20)], [5])


class CountingSeries(Sequence[tuple[Month, int]]):
    """A series that counts how many of its items are read."""

    def __init__(self, items: Series) -> None:
        self.items = items
        self.reads = 0

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> tuple[Month, int]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Month, int]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Month, int] | Sequence[tuple[Month, int]]:
        if isinstance(index, slice):
            picked = self.items[index]
            self.reads += len(picked)
            return picked
        self.reads += 1
        return self.items[index]


def test_first_crossings_reads_the_series_a_linear_number_of_times() -> None:
    n = 3_000
    series = CountingSeries(months(*range(0, n * 10, 10)))
    thresholds = list(range(5, n * 10, 10))
    got = first_crossings(series, thresholds)
    assert len(got) == n - 1
    assert got[n * 10 - 15] == (START.plus(n - 1), n * 10 - 10)
    # An O(n*m) scan would read millions of items; a linear pass plus one look-up each, ~2n.
    assert series.reads <= 3 * (n + len(thresholds))


series_values = st.lists(st.integers(0, 200), max_size=40)


@given(series_values, st.lists(st.integers(-5, 220), max_size=40), st.integers(0, 3))
def test_first_crossings_matches_brute_force(
    values: list[int], thresholds: list[int], gap: int
) -> None:
    # Months with gaps between them, as a sparse store gives.
    series = [(START.plus(i * (gap + 1)), v) for i, v in enumerate(values)]
    assert first_crossings(series, thresholds) == oracle(series, thresholds)


# reconcile


def rec(threshold: int, period: Month, value: int, below: bool = False) -> Recorded:
    return Recorded(threshold, period, value, below)


def test_reconcile_new_only() -> None:
    computed = first_crossings(months(900, 1_200, 2_600), [1_000, 2_500, 5_000])
    result = reconcile({}, computed)
    assert result == Reconciliation(
        new=[(1_000, Month(2015, 2), 1_200), (2_500, Month(2015, 3), 2_600)]
    )
    assert result.corrections == []


def test_reconcile_recorded_is_never_new_again() -> None:
    recorded = {1_000: rec(1_000, Month(2015, 2), 1_200)}
    computed = {1_000: (Month(2015, 2), 1_250), 2_500: (Month(2015, 4), 2_700)}
    result = reconcile(recorded, computed)
    # Same month, different figure: no correction, and nothing new but 2,500.
    assert result == Reconciliation(new=[(2_500, Month(2015, 4), 2_700)])


def test_reconcile_moved() -> None:
    recorded = {1_000: rec(1_000, Month(2015, 3), 1_100)}
    result = reconcile(recorded, {1_000: (Month(2015, 2), 1_050)})
    assert result.new == []
    assert result.moved == [
        Correction(1_000, Month(2015, 3), Month(2015, 2), 1_100, 1_050, "moved")
    ]
    assert result.fell_below == [] and result.restored == []
    assert apply_reconciliation(recorded, result) == {1_000: rec(1_000, Month(2015, 2), 1_050)}


def test_reconcile_fell_below_then_restored() -> None:
    recorded = {
        1_000: rec(1_000, Month(2015, 2), 1_200),
        2_500: rec(2_500, Month(2015, 4), 2_600),
    }
    down = reconcile(recorded, first_crossings(months(900, 1_200, 2_400), [1_000, 2_500]))
    assert down.new == [] and down.moved == [] and down.restored == []
    assert down.fell_below == [Correction(2_500, Month(2015, 4), None, 2_600, None, "fell_below")]
    after_down = apply_reconciliation(recorded, down)
    assert after_down[2_500] == rec(2_500, Month(2015, 4), 2_600, below=True)
    assert after_down[1_000] == recorded[1_000]

    # Still below: nothing to say a second time.
    assert reconcile(after_down, {1_000: (Month(2015, 2), 1_200)}) == Reconciliation()

    up = reconcile(after_down, first_crossings(months(900, 1_200, 2_400, 2_550), [1_000, 2_500]))
    assert up.new == [] and up.moved == [] and up.fell_below == []
    assert up.restored == [
        Correction(2_500, Month(2015, 4), Month(2015, 4), 2_600, 2_550, "restored")
    ]
    assert apply_reconciliation(after_down, up)[2_500] == rec(2_500, Month(2015, 4), 2_550)


def test_reconcile_lists_are_sorted_and_corrections_merge() -> None:
    recorded = {
        5: rec(5, Month(2015, 5), 5),
        3: rec(3, Month(2015, 3), 3, below=True),
        1: rec(1, Month(2015, 1), 1),
    }
    computed = {9: (Month(2015, 9), 9), 7: (Month(2015, 7), 7), 3: (Month(2015, 4), 4)}
    result = reconcile(recorded, computed)
    assert [t for t, _, _ in result.new] == [7, 9]
    assert [c.threshold for c in result.fell_below] == [1, 5]
    assert [(c.threshold, c.reason) for c in result.corrections] == [
        (1, "fell_below"),
        (3, "restored"),
        (5, "fell_below"),
    ]


def test_apply_reconciliation_does_not_mutate_its_input() -> None:
    recorded = {1_000: rec(1_000, Month(2015, 3), 1_100)}
    apply_reconciliation(recorded, reconcile(recorded, {2_000: (Month(2015, 4), 2_000)}))
    assert recorded == {1_000: rec(1_000, Month(2015, 3), 1_100)}


# group_new


def test_group_new_folds_into_one_event_headed_by_the_highest() -> None:
    new = [
        (5_000, Month(2016, 3), 5_100),
        (1_000, Month(2014, 1), 1_020),
        (2_500, Month(2015, 6), 2_700),
    ]
    assert group_new(new) == [((1_000, 2_500, 5_000), Month(2016, 3), 5_100)]
    assert group_new([(1_000, Month(2014, 1), 1_020)]) == [((1_000,), Month(2014, 1), 1_020)]
    assert group_new([]) == []


# reconcile over a history of imports


def store_series(store: dict[int, int], running_total: bool) -> Series:
    """The cumulative series a store gives: stored totals, or running sums of monthly units."""
    series: Series = []
    total = 0
    for index in sorted(store):
        total = total + store[index] if running_total else store[index]
        series.append((START.plus(index), total))
    return series


# One import: (month offset, new figure or None to withdraw it), in any month order.
imports = st.lists(
    st.lists(st.tuples(st.integers(0, 23), st.none() | st.integers(0, 60)), min_size=1, max_size=6),
    min_size=1,
    max_size=25,
)
ladder_specs = st.one_of(
    st.integers(5, 40).map(lambda n: f"every:{n}"),
    st.lists(st.integers(1, 400), min_size=1, max_size=12).map(lambda xs: ",".join(map(str, xs))),
)


@settings(max_examples=300)
@given(imports, ladder_specs, st.booleans())
def test_reconcile_over_revisions_announces_each_milestone_once(
    history: list[list[tuple[int, int | None]]], spec: str, running_total: bool
) -> None:
    ladder = parse_ladder("t", spec)
    store: dict[int, int] = {}
    recorded: dict[int, Recorded] = {}
    announced: Counter[int] = Counter()
    ever_reached: set[int] = set()
    series: Series = []
    for batch in history:
        for index, figure in batch:
            if figure is None:
                store.pop(index, None)
            else:
                store[index] = figure
        series = store_series(store, running_total)
        peak = max((v for _, v in series), default=0)
        thresholds = set(ladder.up_to(peak)) | recorded.keys()
        computed = first_crossings(series, thresholds)
        expected = oracle(series, thresholds)
        assert computed == expected

        result = reconcile(recorded, computed)
        assert [t for t, _, _ in result.new] == sorted(expected.keys() - recorded.keys())
        for threshold, month, value in result.new:
            assert threshold not in recorded
            assert (month, value) == expected[threshold]
            announced[threshold] += 1
        for c in result.moved:
            old = recorded[c.threshold]
            assert not old.below and c.old_period == old.period != c.new_period
            assert (c.new_period, c.new_value) == expected[c.threshold]
        for c in result.fell_below:
            assert not recorded[c.threshold].below and c.threshold not in expected
        for c in result.restored:
            assert recorded[c.threshold].below
            assert (c.new_period, c.new_value) == expected[c.threshold]
        ever_reached |= expected.keys()
        recorded = apply_reconciliation(recorded, result)

    final = oracle(series, ladder.up_to(10_000))
    assert all(announced[t] == 1 for t in final)
    assert set(announced) == ever_reached
    assert max(announced.values(), default=1) == 1
    assert set(recorded) == ever_reached
    for threshold, entry in recorded.items():
        if threshold in final:
            assert not entry.below
            assert entry.period == final[threshold][0]
        else:
            assert entry.below
