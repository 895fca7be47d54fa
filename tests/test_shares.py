from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.detection.steps import share_step
from bot.domain.growth import eligible
from bot.domain.periods import Month
from bot.domain.settings import default_config
from bot.domain.shares import (
    Banding,
    ShareCrossing,
    ShareState,
    banding,
    step_level,
    step_share,
)


def run(
    shares: list[float], state: ShareState | None = None
) -> tuple[ShareState, list[ShareCrossing]]:
    state = state or ShareState()
    events: list[ShareCrossing] = []
    for share in shares:
        state, event = step_share(state, share)
        if event is not None:
            events.append(event)
    return state, events


def test_first_observation_is_a_silent_baseline() -> None:
    state, event = step_share(ShareState(), 0.7234)
    assert event is None
    assert state == ShareState(0.70)
    assert step_share(ShareState(), 0.70)[0] == ShareState(0.70)
    assert step_share(ShareState(), 0.0)[0] == ShareState(0.0)
    assert step_share(ShareState(), 1.0)[0] == ShareState(1.0)


def test_boundaries_are_exact() -> None:
    # 0.1 + 0.2 + 0.4 is 0.7000000000000001 and 0.7 - 1e-12 is just under: both count as 70 %.
    for share in (0.7, 0.1 + 0.2 + 0.4, 0.7 - 1e-12, 7 / 10):
        state, event = step_share(ShareState(0.65), share)
        assert event == ShareCrossing("up", 0.7, share)
        assert state.level == 0.7
    state, event = step_share(ShareState(0.65), 0.6999)
    assert event is None and state == ShareState(0.65)


def test_up_fires_at_the_boundary_and_jumps_fire_once_for_the_highest() -> None:
    state, event = step_share(ShareState(0.65), 0.7)
    assert event == ShareCrossing("up", 0.7, 0.7)
    state, event = step_share(ShareState(0.65), 0.8123)
    assert event == ShareCrossing("up", 0.8, 0.8123)
    assert state == ShareState(0.8)
    state, event = step_share(ShareState(0.65), 0.6999)
    assert event is None and state == ShareState(0.65)


def test_down_needs_more_than_the_hysteresis() -> None:
    # 1.9 and exactly 2 points below the level: nothing.
    assert step_share(ShareState(0.7), 0.681) == (ShareState(0.7), None)
    assert step_share(ShareState(0.7), 0.68) == (ShareState(0.7), None)
    # 2.1 points below: it fell below 70 %, and now sits in the 65 % band.
    state, event = step_share(ShareState(0.7), 0.679)
    assert event == ShareCrossing("down", 0.7, 0.679)
    assert state == ShareState(0.65)
    # A drop through several bands names the lowest boundary fallen below.
    state, event = step_share(ShareState(0.7), 0.52)
    assert event == ShareCrossing("down", 0.55, 0.52)
    assert state == ShareState(0.5)


def test_hovering_around_seventy_percent_fires_once() -> None:
    state, events = run([0.66, 0.69, 0.70, 0.695, 0.71, 0.689, 0.705, 0.681, 0.699, 0.712])
    assert events == [ShareCrossing("up", 0.7, 0.70)]
    assert state == ShareState(0.7)


def test_custom_width_and_hysteresis() -> None:
    state, event = step_share(ShareState(0.3), 0.41, width=0.1, hysteresis=0.0)
    assert event == ShareCrossing("up", 0.4, 0.41)
    state, event = step_share(state, 0.3999, width=0.1, hysteresis=0.0)
    assert event == ShareCrossing("down", 0.4, 0.3999)
    assert state == ShareState(0.3)


def test_level_from_another_width_is_replaced_without_a_false_boundary() -> None:
    # Level 0.68 saved under 4-point bands; with 5-point bands 0.655 fell below no boundary.
    state, event = step_share(ShareState(0.68), 0.655)
    assert event is None and state == ShareState(0.65)


@pytest.mark.parametrize(
    ("share", "width", "hysteresis", "message"),
    [
        (-0.01, 0.05, 0.02, "share must be between 0 and 1"),
        (1.01, 0.05, 0.02, "share must be between 0 and 1"),
        (float("nan"), 0.05, 0.02, "share must be a finite number"),
        (0.5, 0.0, 0.02, "band width must be above 0"),
        (0.5, 1.5, 0.02, "band width must be above 0 and at most 1"),
        (0.5, 0.05, -0.01, "hysteresis must not be negative"),
    ],
)
def test_bad_arguments(share: float, width: float, hysteresis: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        step_share(ShareState(0.5), share, width, hysteresis)


boundaries = st.integers(1, 19).map(lambda k: k * 500)  # basis points: 5 % .. 95 %


@given(
    boundaries,
    st.integers(1, 499),
    st.integers(0, 199),
    st.lists(st.integers(-190, 190), min_size=1, max_size=40),
)
def test_hovering_within_the_hysteresis_after_an_up_event_is_silent(
    boundary: int, below: int, over: int, hover: list[int]
) -> None:
    state, _ = step_share(ShareState(), (boundary - below) / 10_000)
    state, event = step_share(state, (boundary + over) / 10_000)
    assert event == ShareCrossing("up", boundary / 10_000, (boundary + over) / 10_000)
    _, events = run([(boundary + d) / 10_000 for d in hover], state)
    assert events == []


@given(
    boundaries,
    st.integers(201, 499),
    st.lists(st.integers(-190, 190), min_size=1, max_size=40),
)
def test_hovering_within_the_hysteresis_of_the_level_after_a_down_event_is_silent(
    boundary: int, drop: int, hover: list[int]
) -> None:
    state, event = step_share(ShareState(boundary / 10_000), (boundary - drop) / 10_000)
    assert event == ShareCrossing("down", boundary / 10_000, (boundary - drop) / 10_000)
    level = boundary - 500
    assert state == ShareState(level / 10_000)
    _, events = run([max(0, level + d) / 10_000 for d in hover], state)
    assert events == []


@given(st.lists(st.integers(1, 499), max_size=400))
def test_a_monotone_rise_fires_once_per_boundary(steps: list[int]) -> None:
    points = [0]
    for step in steps:
        points.append(min(10_000, points[-1] + step))
    _, events = run([p / 10_000 for p in points])
    expected = [k * 500 for k in range(1, 21) if k * 500 <= points[-1]]
    assert [e.boundary for e in events] == [b / 10_000 for b in expected]
    assert all(e.direction == "up" for e in events)
    # Each event fires at the first observation at or over its boundary.
    for event, boundary in zip(events, expected, strict=True):
        assert event.share == next(p for p in points if p >= boundary) / 10_000


levels = st.one_of(st.none(), st.integers(0, 20).map(lambda k: k / 20), st.floats(0, 1))


@given(
    levels,
    st.integers(0, 10**7),
    st.integers(-5, 10**7),
    st.integers(0, 40),
    st.sampled_from((1, 5, 7.5, 10)),
    st.sampled_from((0, 2, 3.5)),
)
def test_a_models_share_step_is_step_share_of_its_share(
    level: float | None, units: int, parent: int, age: int, band: float, hysteresis: float
) -> None:
    """The detector's share step (band width and hysteresis checked once per configuration)
    gives what `step_share` gives the model's share, whenever the parent is eligible."""
    config = default_config()
    ms = replace(config.milestones, share_band=band, share_hysteresis=hysteresis)
    config = replace(config, milestones=ms)
    first, month = Month(2020, 1), Month(2020, 1).plus(age)
    found = share_step(level, units, parent, first, month, config)
    if parent <= 0 or not eligible(first, month, parent, ms.min_months, ms.min_parent_total):
        assert found == (level, None, None)
        return
    share = min(1.0, units / parent)
    state, crossing = step_share(ShareState(level), share, band / 100, hysteresis / 100)
    expected = (state.level, None, None)
    if crossing is not None:
        expected = (state.level, crossing.boundary, crossing.direction)
    assert found == expected


def test_a_banding_is_checked_once_and_refuses_what_step_share_refuses() -> None:
    assert banding(0.05, 0.02) is banding(0.05, 0.02)
    assert banding(0.05, 0.02) == Banding(50_000_000, 20_000_000)
    with pytest.raises(ValueError, match="band width must be above 0"):
        banding(0.0, 0.02)
    with pytest.raises(ValueError, match="hysteresis must not be negative"):
        banding(0.05, -0.01)
    with pytest.raises(ValueError, match="level must be a finite number"):
        step_level(float("nan"), 0.5, banding())
