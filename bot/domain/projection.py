"""When a running total reaches a target, at its recent pace."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.periods import Month

MAX_MONTHS_AHEAD = 1200  # beyond 100 years a projection says nothing


def project(series: Sequence[tuple[Month, int]], target: int, window: int = 12) -> Month | None:
    """The month in which `target` is reached at the trailing `window`-month pace, or None.

    `series` is (month, cumulative value) in ascending month order. The pace is the average
    monthly increase from the earliest point no more than `window` months before the last point
    (so over fewer months when the series is shorter) to the last point. None when there are
    fewer than 2 points in that span, the pace is not positive, the last value already reaches
    `target`, or the projection lies more than 100 years ahead.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 month, got {window}")
    if not series:
        return None
    last_month, last_value = series[-1]
    if last_value >= target:
        return None
    start_month, start_value = next(
        (m, v) for m, v in series if m.index >= last_month.index - window
    )
    months = last_month.index - start_month.index
    increase = last_value - start_value
    if months <= 0 or increase <= 0:
        return None
    # ceil(remaining / pace) with pace = increase / months, in exact integers.
    ahead = -(-(target - last_value) * months // increase)
    if ahead > MAX_MONTHS_AHEAD:
        return None
    return last_month.plus(ahead)
