"""Periods: a year `YYYY`, a month `YYYY-MM` or a day `YYYY-MM-DD`, and month arithmetic.

Figures are kept at their own granularity; totals roll each period into the month in which it
ends (a year into its December, a day into its month), so every series is a series of months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class PeriodError(ValueError):
    """A period string that is not `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, or not a real date."""


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month; ordered, hashable, and cheap to step."""

    year: int
    month: int

    def __hash__(self) -> int:
        # a poll hashes months by the hundred thousand: a number, not the generated tuple's
        # hash (equal months have equal numbers, so it agrees with ==)
        return self.year * 12 + self.month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def index(self) -> int:
        """Months since year 0, for arithmetic."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> Month:
        return cls(index // 12, index % 12 + 1)

    def plus(self, months: int) -> Month:
        return Month.from_index(self.index + months)

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse `YYYY-MM` strictly."""
        match = _PERIOD.match(text.strip())
        if not match or match.group(2) is None or match.group(3) is not None:
            raise PeriodError(f"{text!r} is not a month (expected YYYY-MM)")
        return cls(int(match.group(1)), _check_month(text, match.group(2)))


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _check_month(text: str, raw: str) -> int:
    month = int(raw)
    if not 1 <= month <= 12:
        raise PeriodError(f"{text!r}: month {raw} is not between 01 and 12")
    return month


@lru_cache(maxsize=65_536)  # a file repeats its few hundred periods on every row
def normalize_period(text: str) -> str:
    """Validate a period and return it in canonical form (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`)."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise PeriodError(f"{text!r} is not a period (expected YYYY, YYYY-MM or YYYY-MM-DD)")
    year = int(match.group(1))
    if year < 1900 or year > 2200:
        raise PeriodError(f"{text!r}: year {year} is out of range 1900-2200")
    if match.group(2) is None:
        return f"{year:04d}"
    month = _check_month(text, match.group(2))
    if match.group(3) is None:
        return f"{year:04d}-{month:02d}"
    day = int(match.group(3))
    last = 29 if month == 2 and _is_leap(year) else _DAYS[month - 1]
    if not 1 <= day <= last:
        raise PeriodError(f"{text!r}: day {day} does not exist in {year:04d}-{month:02d}")
    return f"{year:04d}-{month:02d}-{day:02d}"


def granularity(period: str) -> str:
    """`year`, `month` or `day` for a canonical period."""
    return {4: "year", 7: "month", 10: "day"}[len(period)]


@lru_cache(maxsize=65_536)
def end_month(period: str) -> Month:
    """The month in which a canonical period ends: `2014` -> 2014-12, `2014-03-09` -> 2014-03."""
    year = int(period[:4])
    if len(period) == 4:
        return Month(year, 12)
    return Month(year, int(period[5:7]))


def month_range(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last`, both included."""
    return [Month.from_index(i) for i in range(first.index, last.index + 1)]


HISTORY_MONTHS = 3  # a change this many months older than a monthly source's latest is history


def news_cutoff(latest: Month, yearly: frozenset[int]) -> Month:
    """The first month whose changes are news for a source whose latest month is `latest`.

    For monthly figures that is 3 months back; for a source whose latest year is a yearly
    figure (`yearly` holds the years it gives whole), the latest year and the one before.
    """
    if latest.year in yearly:
        return Month(latest.year - 1, 1)
    return latest.plus(-HISTORY_MONTHS)


def encode_years(years: frozenset[int] | set[int]) -> str:
    """Years as stored: `2010,2011`."""
    return ",".join(str(y) for y in sorted(years))


def decode_years(text: str | None) -> frozenset[int]:
    """The years `encode_years` wrote."""
    return frozenset(int(y) for y in text.split(",") if y) if text else frozenset()
