from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.periods import Month
from bot.domain.projection import project

START = Month(2020, 1)


def months(*values: int, start: Month = START) -> list[tuple[Month, int]]:
    return [(start.plus(i), v) for i, v in enumerate(values)]


def test_steady_pace() -> None:
    series = months(*range(0, 13_000, 1_000))  # 2020-01 .. 2021-01, +1,000 a month
    assert series[-1] == (Month(2021, 1), 12_000)
    assert project(series, 15_000) == Month(2021, 4)
    assert project(series, 14_001) == Month(2021, 4)  # reached in the month it is passed
    assert project(series, 12_001) == Month(2021, 2)


def test_only_the_trailing_window_sets_the_pace() -> None:
    # Fast early growth, then 100 a month for the last 12 months.
    series = months(0, 50_000, *range(50_100, 51_300, 100))
    assert len(series) == 14
    assert project(series, 51_200 + 1_000) == series[-1][0].plus(10)
    assert project(series, 51_200 + 1_000, window=13) != series[-1][0].plus(10)
    assert project(series, 51_200 + 300, window=3) == series[-1][0].plus(3)


def test_short_series_uses_what_exists() -> None:
    assert project(months(100, 300), 1_000) == START.plus(1 + 4)  # 200 a month, 700 to go
    assert project(months(100, 300, 400), 1_000) == START.plus(2 + 4)  # 150 a month


def test_gaps_between_points_count_as_months() -> None:
    series = [(Month(2020, 1), 0), (Month(2020, 11), 1_000)]  # 100 a month over 10 months
    assert project(series, 1_500) == Month(2021, 4)


def test_none_cases() -> None:
    assert project([], 10) is None
    assert project(months(500), 1_000) is None  # one point: no pace
    assert project(months(500, 500, 500), 1_000) is None  # flat
    assert project(months(900, 800, 700), 1_000) is None  # falling
    assert project(months(100, 1_000), 1_000) is None  # already reached
    assert project(months(100, 2_000), 1_000) is None


def test_cap_boundary() -> None:
    # 1 a month: exactly 100 years ahead is still a projection, one month more is not.
    assert project(months(0, 1), 1 + 1_200) == START.plus(1 + 1_200)
    assert project(months(0, 1), 1 + 1_201) is None


def test_bad_window() -> None:
    with pytest.raises(ValueError, match="window must be at least 1"):
        project(months(1, 2), 10, window=0)


@given(
    st.lists(st.integers(-50, 400), min_size=2, max_size=30),
    st.integers(1, 20_000),
    st.integers(1, 24),
)
def test_projection_is_the_first_month_the_trailing_pace_reaches_target(
    steps: list[int], target: int, window: int
) -> None:
    values = [1_000]
    for step in steps:
        values.append(values[-1] + step)
    series = months(*values)
    last = len(values) - 1
    first = max(0, last - window)
    pace = Fraction(values[last] - values[first], last - first)
    got = project(series, target, window)
    if values[last] >= target or pace <= 0:
        assert got is None
        return
    k = 1
    while values[last] + pace * k < target:
        k += 1
    if k > 1_200:
        assert got is None
    else:
        assert got == START.plus(last + k)
