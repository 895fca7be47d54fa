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
    current = sum(monthly.get(Month(month.year, m), 0) for m in range(1, month.month + 1))
    previous = sum(monthly.get(Month(month.year - 1, m), 0) for m in range(1, month.month + 1))
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
    return month.index - first_month.index >= min_months and parent_total >= min_parent_total
