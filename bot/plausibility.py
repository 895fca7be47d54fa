"""When a figure is implausible (issue 26, "Hold the implausible"): far above everything its
series has given, or above any count of cars one period can have.

Only the rule, as a plain function: holding the announcements a figure causes, listing and
releasing them (`evbot held`, `evbot release`, `--accept-jumps`) are not built yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOLD_FACTOR = 20.0
HOLD_MIN_PERIODS = 6
HOLD_CEILING = 1_000_000_000


@dataclass(frozen=True, slots=True)
class HoldRule:
    """A figure is held when above `ceiling` units in one period, or when more than `factor`
    times the largest figure of a series with at least `min_periods` earlier periods."""

    factor: float = HOLD_FACTOR
    min_periods: int = HOLD_MIN_PERIODS
    ceiling: int = HOLD_CEILING


def implausible(figure: int, earlier: Sequence[int], rule: HoldRule = HoldRule()) -> str | None:
    """Why `figure` is held, given the earlier figures of its series (per subject, region,
    metric and granularity, after aggregation); None when it is plausible.

    A series whose earlier figures are all 0 has no scale yet: only the ceiling applies.
    """
    if figure > rule.ceiling:
        return f"{figure:,} units is above the ceiling of {rule.ceiling:,} units in one period"
    if len(earlier) < rule.min_periods:
        return None
    largest = max(earlier)
    if largest > 0 and figure > rule.factor * largest:
        return (
            f"{figure:,} units is more than {rule.factor:g} times the largest of the "
            f"{len(earlier)} earlier figures of its series ({largest:,})"
        )
    return None
