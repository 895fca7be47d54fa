from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.ladders import (
    DEFAULT_LADDER,
    DEFAULT_LADDER_SPEC,
    Ladder,
    LadderError,
    parse_ladder,
    union_next_above,
)
from bot.domain.rungs import (
    Progression,
    RungRange,
    ladder_rungs,
    listed_range,
    rungs_of,
    union_rungs,
)

DEFAULT_START = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 75_000, 100_000, 150_000, 200_000]


def materialise(ladder: Ladder, limit: int) -> list[int]:
    """Brute force: every threshold <= limit, by walking the ladder's own definition."""
    out = [t for t in ladder.prefix if t <= limit]
    if ladder.step is not None:
        t = (ladder.prefix[-1] if ladder.prefix else 0) + ladder.step
        while t <= limit:
            out.append(t)
            t += ladder.step
    return out


def test_default_ladder_shape() -> None:
    ladder = parse_ladder("d", DEFAULT_LADDER_SPEC)
    assert ladder.up_to(200_000) == DEFAULT_START
    everything = ladder.up_to(8_000_000)
    assert everything[: len(DEFAULT_START)] == DEFAULT_START
    assert [t for t in everything if 100_000 < t <= 1_000_000] == list(
        range(150_000, 1_000_001, 50_000)
    )
    assert [t for t in everything if 1_000_000 < t <= 5_000_000] == list(
        range(1_250_000, 5_000_001, 250_000)
    )
    assert [t for t in everything if t > 5_000_000] == [6_000_000, 7_000_000, 8_000_000]
    assert len(everything) == 8 + 18 + 16 + 3


def test_default_ladder_is_unbounded() -> None:
    assert DEFAULT_LADDER.next_above(10**12) == 10**12 + 1_000_000
    assert DEFAULT_LADDER.next_above(10**12 + 1) == 10**12 + 1_000_000
    assert DEFAULT_LADDER.next_above(5_000_000) == 6_000_000
    assert DEFAULT_LADDER.next_above(4_999_999) == 5_000_000
    assert DEFAULT_LADDER.next_above(0) == 1_000
    assert DEFAULT_LADDER.next_above(-5) == 1_000
    assert DEFAULT_LADDER.crossed(10**12 - 1, 10**12 + 2_000_000) == [
        10**12,
        10**12 + 1_000_000,
        10**12 + 2_000_000,
    ]


def test_crossed_examples() -> None:
    assert DEFAULT_LADDER.crossed(999, 1_000) == [1_000]
    assert DEFAULT_LADDER.crossed(1_000, 2_499) == []
    assert DEFAULT_LADDER.crossed(900, 11_000) == [1_000, 2_500, 5_000, 10_000]
    assert DEFAULT_LADDER.crossed(11_000, 900) == []
    assert DEFAULT_LADDER.crossed(5_000, 5_000) == []
    assert DEFAULT_LADDER.crossed(4_900_000, 6_500_000) == [5_000_000, 6_000_000]


def test_contains() -> None:
    assert 2_500 in DEFAULT_LADDER
    assert 2_600 not in DEFAULT_LADDER
    assert 5_750_000 not in DEFAULT_LADDER
    assert 1_250_000 in DEFAULT_LADDER
    assert 9_000_000 in DEFAULT_LADDER
    assert 9_500_000 not in DEFAULT_LADDER
    assert 0 not in DEFAULT_LADDER
    assert -1_000_000 not in DEFAULT_LADDER
    assert "1000" not in DEFAULT_LADDER
    assert True not in parse_ladder("one", [1])
    every = parse_ladder("e", "every:300")
    assert 300 in every and 900 in every and 0 not in every and 450 not in every


def test_every() -> None:
    ladder = parse_ladder("e", "every:5000")
    assert ladder.name == "e"
    assert ladder.up_to(20_000) == [5_000, 10_000, 15_000, 20_000]
    assert ladder.up_to(4_999) == []
    assert ladder.crossed(4_999, 15_001) == [5_000, 10_000, 15_000]
    assert ladder.next_above(15_000) == 20_000
    assert ladder.next_above(-1) == 5_000
    assert parse_ladder("e", " Every: 7 ").up_to(21) == [7, 14, 21]


def test_explicit_lists_are_normalised() -> None:
    from_list = parse_ladder("x", [10_000, 1_000, 5_000, 1_000])
    from_text = parse_ladder("x", " 5000, 1000 ,10000,1000")
    assert from_list == from_text
    assert from_list.up_to(10**9) == [1_000, 5_000, 10_000]
    assert from_list.next_above(9_999) == 10_000
    assert from_list.next_above(10_000) is None
    assert from_list.crossed(0, 7_000) == [1_000, 5_000]
    assert parse_ladder("one", "250").up_to(1_000) == [250]


def test_spec_round_trips() -> None:
    for spec in ("default", "every:250", "1000,5000,10000"):
        assert parse_ladder("n", spec).spec == spec
        assert parse_ladder("n", parse_ladder("n", spec).spec) == parse_ladder("n", spec)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("every:0", "'every:0' must be every:N with N a positive whole number"),
        ("every:-5", "'every:-5' must be every:N with N a positive whole number"),
        ("every:", "must be every:N"),
        ("every:1.5", "must be every:N"),
        ("every:abc", "must be every:N"),
        ("", "empty"),
        ("   ", "empty"),
        ("1000,0", "0 in '1000,0' is not positive"),
        ("1000,-5", "'-5' in '1000,-5' is not a whole number"),
        ("1000,,5000", "'' in '1000,,5000' is not a whole number"),
        ("1000,2.5", "'2.5' in '1000,2.5' is not a whole number"),
        ("fast", "'fast' in 'fast' is not a whole number"),
        ([], "empty"),
        ([1000, 0], "0 in [1000, 0] is not positive"),
        ([1000, -1], "-1 in [1000, -1] is not positive"),
        ([1000, 2.5], "2.5 in [1000, 2.5] is not a whole number"),
        ([1000, True], "True in [1000, True] is not a whole number"),
        ([1000, "x"], "'x' in [1000, 'x'] is not a whole number"),
    ],
)
def test_bad_specs_are_refused_with_reasons(spec: object, fragment: str) -> None:
    with pytest.raises(LadderError) as caught:
        parse_ladder("mine", spec)  # type: ignore[arg-type]
    assert str(caught.value).startswith("ladder 'mine': ")
    assert fragment in str(caught.value)


def test_non_spec_types_are_refused() -> None:
    with pytest.raises(LadderError, match="expected 'default', 'every:N' or a list"):
        parse_ladder("mine", 1000)  # type: ignore[arg-type]
    assert issubclass(LadderError, ValueError)


def test_exact_error_message() -> None:
    with pytest.raises(LadderError) as caught:
        parse_ladder("x", "every:0")
    assert (
        str(caught.value) == "ladder 'x': 'every:0' must be every:N with N a positive whole number"
    )


ladders = st.one_of(
    st.just(DEFAULT_LADDER),
    st.integers(500, 400_000).map(lambda n: parse_ladder("e", f"every:{n}")),
    st.lists(st.integers(1, 3_000_000), min_size=1, max_size=30).map(
        lambda xs: parse_ladder("l", xs)
    ),
)
values = st.integers(-1_000, 12_000_000)


@given(ladders, values, values)
def test_crossed_matches_brute_force(ladder: Ladder, old: int, new: int) -> None:
    every = materialise(ladder, 12_000_000)
    assert ladder.crossed(old, new) == [t for t in every if old < t <= new]


@given(ladders, values)
def test_up_to_next_above_and_contains_agree(ladder: Ladder, value: int) -> None:
    every = materialise(ladder, 13_000_000)
    assert ladder.up_to(value) == [t for t in every if t <= value]
    above = [t for t in every if t > value]
    assert ladder.next_above(value) == (above[0] if above else None)
    assert (value in ladder) == (value in every)


@given(st.lists(ladders, max_size=4), values, values)
def test_unions_count_by_arithmetic(group: list[Ladder], low: int, high: int) -> None:
    every = sorted({t for ladder in group for t in materialise(ladder, 13_000_000)})
    rungs = union_rungs(group)
    inside = [t for t in every if low < t <= high]
    assert rungs.count(low, high) == len(inside)
    assert rungs.first(low, high, 3) == inside[:3]
    above = [t for t in every if t > low]
    assert union_next_above(group, low) == (above[0] if above else None)
    assert rungs.next_above(low) == (above[0] if above else None)
    below = [t for t in every if t <= high]
    assert rungs.at_or_below(high) == (below[-1] if below else None)
    assert (low in rungs) == (low in every)
    crossed = rungs.crossed(low, high)
    if inside:
        assert crossed == RungRange(rungs.spec, inside[0], inside[-1], len(inside))
        assert crossed.rungs(len(inside)) == inside
    else:
        assert crossed is None
    # the spec names the same rungs again (how a stored range is read back)
    if group:
        assert rungs_of(rungs.spec).count(low, high) == len(inside)


@given(ladders, st.lists(ladders, min_size=1, max_size=3), values, values)
def test_a_subscription_ladder_keeps_its_rungs_of_a_range(
    mine: Ladder, group: list[Ladder], low: int, high: int
) -> None:
    every = {t for ladder in group for t in materialise(ladder, 13_000_000)}
    own = set(materialise(mine, 13_000_000))
    crossed = union_rungs(group).crossed(low, high)
    if crossed is None:
        return
    kept = sorted(t for t in own & every if low < t <= high)
    found = crossed.within(mine)
    if not kept:
        assert found is None
    else:
        assert found is not None
        assert (found.lowest, found.highest, found.count) == (kept[0], kept[-1], len(kept))
        assert found.rungs(4) == kept[:4]


@given(st.integers(1, 50), st.integers(1, 12), st.integers(1, 50), st.integers(1, 12), values)
def test_progressions_meet_where_both_have_rungs(
    a: int, s: int, b: int, t: int, value: int
) -> None:
    p, q = Progression(a, s), Progression(b, t)
    both = [x for x in range(0, 2_000) if x in p and x in q]
    met = p.meet(q)
    if not both:
        assert met is None
    else:
        assert met is not None and met.first == both[0]
        assert [x for x in range(0, 2_000) if x in met] == both


def test_a_figure_of_a_trillion_is_counted_not_walked() -> None:
    rungs = ladder_rungs(DEFAULT_LADDER)
    # 8 + 18 + 16 rungs up to 5,000,000, then one a million
    assert rungs.count(0, 10**12) == 42 + (10**12 - 5_000_000) // 1_000_000
    assert rungs.count(0, 10**30) == 42 + (10**30 - 5_000_000) // 1_000_000
    crossed = rungs.crossed(999, 10**30)
    assert crossed is not None
    assert (crossed.lowest, crossed.highest) == (1_000, 10**30)
    assert crossed.rungs(3) == [1_000, 2_500, 5_000]
    assert crossed.describe() == f"1,000 to {10**30:,} ({crossed.count:,} thresholds)"
    headline = crossed.within(parse_ladder("h", [100_000, 250_000, 500_000, 1_000_000]))
    assert headline is not None
    assert (headline.lowest, headline.highest, headline.count) == (100_000, 1_000_000, 4)


def test_listed_ranges_and_unreadable_ladders() -> None:
    assert listed_range([500, 100, 200, 100]) == RungRange("100,200,500", 100, 500, 3)
    assert listed_range([500, 100, 200]).rungs(2) == [100, 200]
    # a ladder no version can read any more still gives the ends
    assert RungRange("nonsense", 10, 90, 5).rungs(4) == [10, 90]
    with pytest.raises(LadderError):
        listed_range([])


def test_union_examples() -> None:
    group = [parse_ladder("a", "every:3000"), parse_ladder("b", [1000, 3000, 3500])]
    rungs = union_rungs(group)
    assert rungs.first(0, 6_000, 10) == [1_000, 3_000, 3_500, 6_000]
    assert rungs.spec == "every:3000;1000,3000,3500"
    assert union_next_above(group, 3_000) == 3_500
    assert union_next_above(group, 3_500) == 6_000
    assert union_next_above([parse_ladder("b", [1000])], 1_000) is None
    assert union_next_above([], 0) is None
    assert rungs.count(0, 999) == 0
