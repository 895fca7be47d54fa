"""The hold rule of issue 26 as a function (the hold itself is not built yet)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.plausibility import HoldRule, implausible


def test_a_typo_of_a_few_zeros_is_held_and_a_good_month_is_not() -> None:
    usual = [900, 1_100, 1_000, 1_250, 980, 1_020]
    assert implausible(1_500, usual) is None
    assert implausible(25_000, usual) is None  # exactly 20 times the largest: still plausible
    reason = implausible(25_001, usual)
    assert reason == (
        "25,001 units is more than 20 times the largest of the 6 earlier figures of its series "
        "(1,250)"
    )
    assert implausible(1_000_000, usual[:5]) is None  # too little history to judge by


def test_the_ceiling_holds_whatever_the_history() -> None:
    assert implausible(10**9, []) is None
    assert implausible(10**9 + 1, []) == (
        "1,000,000,001 units is above the ceiling of 1,000,000,000 units in one period"
    )
    rule = HoldRule(factor=3, min_periods=2, ceiling=5_000)
    assert implausible(5_001, [10_000, 10_000], rule) is not None
    assert implausible(301, [100, 50], rule) is not None
    assert implausible(300, [100, 50], rule) is None


def test_a_series_of_zeros_has_no_scale_yet() -> None:
    assert implausible(5_000, [0] * 10) is None


@given(st.lists(st.integers(0, 10**6), max_size=12), st.integers(0, 10**12))
def test_held_exactly_when_the_rule_says(earlier: list[int], figure: int) -> None:
    held = implausible(figure, earlier) is not None
    far = len(earlier) >= 6 and max(earlier) > 0 and figure > 20 * max(earlier)
    assert held == (figure > 10**9 or far)
