"""Figures of one key whose periods overlap (a year and a month of it) cannot both stand.

Each would be counted in full, so a `2015` row and a `2015-06` row of the same source, region,
make, model and powertrain count June twice. An import refuses them, naming both lines.
"""

from __future__ import annotations

from collections.abc import Iterable

# make_key, model_key, region, powertrain, period, line (0: imported before)
PeriodRow = tuple[str, str, str, str, str, int]
MAX_REPORTED = 50


def overlapping(rows: Iterable[PeriodRow], file: str) -> list[str]:
    """`FILE:LINE: 2015 overlaps 2015-06 of the same key (line 9)` for each overlap, at most
    `MAX_REPORTED`; `rows` sorted by key, then period (a year sorts just before its months,
    a month just before its days, so one pass with the last year and month seen finds them)."""
    problems: list[str] = []
    key: tuple[str, str, str, str] | None = None
    year: tuple[str, int] | None = None
    month: tuple[str, int] | None = None
    for make_key, model_key, region, powertrain, period, line in rows:
        here = (make_key, model_key, region, powertrain)
        if here != key:
            key, year, month = here, None, None
        for coarse in (year, month):
            if coarse is not None and len(period) > len(coarse[0]) and period.startswith(coarse[0]):
                problems.append(_problem(file, coarse, (period, line)))
                break
        if len(problems) >= MAX_REPORTED:
            break
        if len(period) == 4:
            year, month = (period, line), None
        elif len(period) == 7:
            month = (period, line)
    return problems


def _problem(file: str, coarse: tuple[str, int], fine: tuple[str, int]) -> str:
    (wide, wide_line), (narrow, narrow_line) = coarse, fine
    if wide_line and narrow_line:
        return f"{file}:{wide_line}: {wide} overlaps {narrow} of the same key (line {narrow_line})"
    line, other = (wide_line, narrow) if wide_line else (narrow_line, wide)
    period = wide if wide_line else narrow
    return f"{file}:{line}: {period} overlaps {other} of the same key, imported before"
