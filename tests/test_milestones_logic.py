from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import overload

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.ladders import parse_ladder
from bot.domain.milestones import (
    Correction,
    Recorded,
    crossing_ranges,
    first_crossings,
    group_new,
    reconcile,
)
from bot.domain.periods import Month
from bot.domain.rungs import RungRange, RungSet, ladder_rungs

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


# crossing ranges and reconcile

SMALL = ladder_rungs(parse_ladder("s", [1_000, 2_500, 5_000, 10_000]))


def rng(lowest: int, highest: int, count: int, period: Month, value: int) -> Recorded:
    return Recorded(lowest, highest, count, period, value)


def test_crossing_ranges_one_per_month_that_reached_some() -> None:
    series = months(900, 1_200, 800, 6_000, 6_100, 12_000)
    assert crossing_ranges(series, SMALL) == [
        rng(1_000, 1_000, 1, Month(2015, 2), 1_200),
        rng(2_500, 5_000, 2, Month(2015, 4), 6_000),
        rng(10_000, 10_000, 1, Month(2015, 6), 12_000),
    ]
    # above a kept peak only
    assert crossing_ranges(series[3:], SMALL, above=5_500) == [
        rng(10_000, 10_000, 1, Month(2015, 6), 12_000)
    ]
    with pytest.raises(ValueError, match="ascend"):
        crossing_ranges([(Month(2015, 2), 10), (Month(2015, 2), 20)], SMALL)


@given(
    st.lists(st.integers(-5_000, 40_000), max_size=40),
    st.one_of(st.none(), st.integers(0, 20_000)),
    st.sampled_from(["default", "every:400", "every:1000"]),
)
@example([399, 400, 800, 1_300], None, "every:400")  # a rung reached exactly
@example([100, 500], 400, "every:400")
def test_crossing_ranges_asks_the_ladder_only_when_a_rung_is_reached(
    values: list[int], above: int | None, ladder: str
) -> None:
    """Each month's crossing counted from the ladder, month by month (the plain reading), is
    what `crossing_ranges` finds by comparing with the next rung above the peak."""
    rungs = ladder_rungs(parse_ladder("d", ladder))
    series = months(*values)
    expected, peak = [], 0 if above is None else above
    for month, value in series:
        if value > peak:
            found = rungs.crossed(peak, value)
            if found is not None:
                expected.append(rng(found.lowest, found.highest, found.count, month, value))
            peak = value
    assert crossing_ranges(series, rungs, above) == expected


def test_a_trillion_is_one_range() -> None:
    rungs = ladder_rungs(parse_ladder("d", "default"))
    (found,) = crossing_ranges(months(10**12), rungs)
    assert (found.lowest, found.highest) == (1_000, 10**12)
    assert found.count == rungs.count(0, 10**12)


def test_reconcile_new_only() -> None:
    result = reconcile({}, crossing_ranges(months(900, 1_200, 2_600), SMALL), SMALL)
    assert result.new == [
        rng(1_000, 1_000, 1, Month(2015, 2), 1_200),
        rng(2_500, 2_500, 1, Month(2015, 3), 2_600),
    ]
    assert result.written == result.new and result.dropped == []
    assert result.corrections == []


def test_reconcile_recorded_is_never_new_again() -> None:
    recorded = {1_000: rng(1_000, 1_000, 1, Month(2015, 2), 1_200)}
    computed = crossing_ranges(months(900, 1_250, 2_000, 2_700), SMALL)
    result = reconcile(recorded, computed, SMALL)
    # same month, different figure: no correction, nothing written, and nothing new but 2,500
    assert result.new == [rng(2_500, 2_500, 1, Month(2015, 4), 2_700)]
    assert result.written == result.new and result.corrections == []


def test_reconcile_splits_a_range_only_where_it_changes() -> None:
    recorded = {1_000: rng(1_000, 5_000, 3, Month(2015, 3), 6_000)}
    # 1,000 is now reached a month earlier; 2,500 and 5,000 stay in March
    result = reconcile(recorded, crossing_ranges(months(900, 1_100, 6_000), SMALL), SMALL)
    assert result.new == [] and result.fell_below == [] and result.restored == []
    assert result.moved == [
        Correction(1_000, 1_000, 1, Month(2015, 3), Month(2015, 2), 6_000, 1_100, "moved")
    ]
    assert sorted(result.recorded.values(), key=lambda r: r.lowest) == [
        rng(1_000, 1_000, 1, Month(2015, 2), 1_100),
        rng(2_500, 5_000, 2, Month(2015, 3), 6_000),
    ]
    assert result.written == sorted(result.recorded.values(), key=lambda r: r.lowest)
    assert result.dropped == []


def test_reconcile_fell_below_then_restored() -> None:
    recorded = {
        1_000: rng(1_000, 1_000, 1, Month(2015, 2), 1_200),
        2_500: rng(2_500, 5_000, 2, Month(2015, 4), 5_600),
    }
    down = reconcile(recorded, crossing_ranges(months(900, 1_200, 2_600), SMALL), SMALL)
    assert down.new == [] and down.restored == []
    # 2,500 now first reached in March, 5,000 no longer: the range splits
    assert down.moved == [
        Correction(2_500, 2_500, 1, Month(2015, 4), Month(2015, 3), 5_600, 2_600, "moved")
    ]
    assert down.fell_below == [
        Correction(5_000, 5_000, 1, Month(2015, 4), None, 5_600, None, "fell_below")
    ]
    assert down.recorded[5_000].below
    # still below: nothing to say a second time
    again = reconcile(down.recorded, crossing_ranges(months(900, 1_200, 2_600), SMALL), SMALL)
    assert again.corrections == [] and again.new == [] and again.written == []

    series = months(900, 1_200, 2_600, 5_100)
    up = reconcile(down.recorded, crossing_ranges(series, SMALL), SMALL)
    assert up.new == [] and up.moved == [] and up.fell_below == []
    assert up.restored == [
        Correction(5_000, 5_000, 1, Month(2015, 4), Month(2015, 4), 5_600, 5_100, "restored")
    ]
    assert up.recorded[5_000] == rng(5_000, 5_000, 1, Month(2015, 4), 5_100)


def test_a_trillion_revised_away_is_one_correction() -> None:
    rungs = ladder_rungs(parse_ladder("d", "default"))
    first = reconcile({}, crossing_ranges(months(900, 10**12), rungs), rungs)
    assert len(first.new) == 1 and first.new[0].count == rungs.count(0, 10**12)
    back = reconcile(first.recorded, crossing_ranges(months(900, 3_000), rungs), rungs)
    # 1,000 and 2,500 stand (still first reached in February); the rest fell back, as one
    assert [(c.lowest, c.highest, c.reason) for c in back.corrections] == [
        (5_000, 10**12, "fell_below")
    ]
    assert [(r.lowest, r.highest, r.below) for r in back.written] == [
        (1_000, 2_500, False),
        (5_000, 10**12, True),
    ]
    assert back.dropped == []


def test_reconcile_keeps_what_lies_at_or_below_the_floor() -> None:
    recorded = {1_000: rng(1_000, 5_000, 3, Month(2015, 3), 6_000)}
    # the part of the series after a kept state whose peak was 6,000: nothing below it changes
    result = reconcile(recorded, crossing_ranges(months(7_000), SMALL, 6_000), SMALL, 6_000)
    assert result.corrections == [] and result.written == [] and result.new == []


def test_group_new_folds_into_one_event_headed_by_the_highest() -> None:
    new = [
        rng(5_000, 10_000, 2, Month(2016, 3), 10_100),
        rng(1_000, 1_000, 1, Month(2014, 1), 1_020),
        rng(2_500, 2_500, 1, Month(2015, 6), 2_700),
    ]
    assert group_new(new, "s") == (RungRange("s", 1_000, 10_000, 4), Month(2016, 3), 10_100)
    assert group_new([], "s") is None


# reconcile over a history of imports, against the per-threshold rules


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

Entry = tuple[Month, int, bool]  # period, value, below


def spread(rungs: RungSet, ranges: Iterable[Recorded]) -> dict[int, Entry]:
    """Recorded ranges one threshold each."""
    out: dict[int, Entry] = {}
    for r in ranges:
        listed = rungs.first(r.lowest - 1, r.highest, r.count)
        assert (listed[0], listed[-1], len(listed)) == (r.lowest, r.highest, r.count)
        for t in listed:
            assert t not in out, f"{t} in two ranges"
            out[t] = (r.period, r.value, r.below)
    return out


def per_threshold(
    recorded: dict[int, Entry], expected: dict[int, tuple[Month, int]]
) -> tuple[dict[int, Entry], set[tuple[int, str]]]:
    """The rules one threshold at a time (as milestones were kept before ranges)."""
    after = dict(recorded)
    said: set[tuple[int, str]] = set()
    for t, (month, value) in expected.items():
        if t not in recorded:
            after[t] = (month, value, False)
            said.add((t, "new"))
        elif recorded[t][2]:
            after[t] = (month, value, False)
            said.add((t, "restored"))
        elif recorded[t][0] != month:
            after[t] = (month, value, False)
            said.add((t, "moved"))
    for t, (month, value, below) in recorded.items():
        if t not in expected and not below:
            after[t] = (month, value, True)
            said.add((t, "fell_below"))
    return after, said


@settings(max_examples=300)
@given(imports, ladder_specs, st.booleans())
@pytest.mark.slow
def test_reconcile_over_revisions_does_what_the_per_threshold_rules_do(
    history: list[list[tuple[int, int | None]]], spec: str, running_total: bool
) -> None:
    ladder = parse_ladder("t", spec)
    rungs = ladder_rungs(ladder)
    store: dict[int, int] = {}
    recorded: dict[int, Recorded] = {}
    oracle_state: dict[int, Entry] = {}
    announced: Counter[int] = Counter()
    for batch in history:
        for index, figure in batch:
            if figure is None:
                store.pop(index, None)
            else:
                store[index] = figure
        series = store_series(store, running_total)
        peak = max((v for _, v in series), default=0)
        expected = oracle(series, ladder.up_to(peak))
        computed = crossing_ranges(series, rungs)
        assert spread(rungs, computed) == {t: (m, v, False) for t, (m, v) in expected.items()}

        result = reconcile(recorded, computed, rungs)
        oracle_state, said = per_threshold(oracle_state, expected)
        got = {(t, "new") for t in spread(rungs, result.new)}
        for c in result.corrections:
            listed = rungs.first(c.lowest - 1, c.highest, c.count)
            got |= {(t, c.reason) for t in listed}
            assert all(recorded_at(recorded, t).period == c.old_period for t in listed)
        assert got == said
        assert spread(rungs, result.recorded.values()) == oracle_state
        announced.update(list(spread(rungs, result.new)))
        # what is written is what changed: a store holding the old ranges, with `written`
        # upserted and `dropped` deleted, holds the new ones
        stored = {r.lowest: r for r in recorded.values()}
        for lowest in result.dropped:
            del stored[lowest]
        stored.update({r.lowest: r for r in result.written})
        assert stored == result.recorded
        recorded = result.recorded
    assert max(announced.values(), default=1) == 1


def recorded_at(recorded: dict[int, Recorded], threshold: int) -> Recorded:
    (found,) = [r for r in recorded.values() if r.lowest <= threshold <= r.highest]
    return found
