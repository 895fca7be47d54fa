"""Year to date, record months and the noise rule, over a series of units sold per month.

A monthly series maps each month to the units sold in it; a missing month counts as 0.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.periods import Month

MIN_MONTHS = 12
MIN_PARENT_TOTAL = 10_000


def year_to_date(monthly: Mapping[Month, int], month: Month) -> tuple[int, int]:
    """Units from January to `month` of its year, and in the same months a year earlier."""
    # one pass over the figures, not a Month made and hashed per month asked: a poll asks this
    # of every make, whose figures since January of the year before are all it holds
    year, upto = month.year, month.month
    current = previous = 0
    for m, units in monthly.items():
        if m.month <= upto:
            if m.year == year:
                current += units
            elif m.year == year - 1:
                previous += units
    return current, previous


def record_month(monthly: Mapping[Month, int], month: Month) -> tuple[int, Month] | None:
    """(previous best, its month) if `month` beats every earlier month, else None.

    There must be an earlier month with units above 0; a tie is not a record. The previous best
    is dated to the earliest month that reached it, the month that set that record. Months after
    `month` are ignored.
    """
    value = monthly.get(month, 0)
    best: tuple[int, Month] | None = None
    for earlier, units in monthly.items():
        if earlier >= month or units <= 0:
            continue
        if best is None or units > best[0] or (units == best[0] and earlier < best[1]):
            best = (units, earlier)
    if best is None or value <= best[0]:
        return None
    return best


def eligible(
    first_month: Month,
    month: Month,
    parent_total: int,
    min_months: int = MIN_MONTHS,
    min_parent_total: int = MIN_PARENT_TOTAL,
) -> bool:
    """Whether share, growth and record events may fire for a subject at `month`.

    They are skipped in the subject's first `min_months` months (`first_month` is month 0) and
    while the parent total is under `min_parent_total`, where percentages are mostly noise.
    """
    # months apart without Month.index: asked for every model of a poll
    apart = (month.year - first_month.year) * 12 + month.month - first_month.month
    return apart >= min_months and parent_total >= min_parent_total
