"""Locale-aware numbers, percentages and months for messages, built on Babel."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Sequence
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.numbers import (
    NumberPattern,
    format_decimal,
    get_minus_sign_symbol,
    get_plus_sign_symbol,
)

from bot.domain.periods import Month

_EXAMPLES = "'en', 'en_GB', 'fr', 'de', 'nl', 'es'"


@lru_cache(maxsize=64)
def _locale(code: str) -> Locale:
    if not isinstance(code, str) or not code.strip():
        raise ValueError(f"unknown locale {code!r}: expected a code such as {_EXAMPLES}")
    try:
        return Locale.parse(code.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {code!r}: expected a code such as {_EXAMPLES}") from exc


def validate_locale(code: str) -> str:
    """Return the canonical form of a locale code (`en-gb` -> `en_GB`).

    Raises ValueError naming the bad code and a few valid examples.
    """
    return str(_locale(code))


def format_units(n: int, locale: str = "en") -> str:
    """A whole number with the locale's grouping: en `250,000`, fr `250 000`, de `250.000`."""
    return format_decimal(n, locale=_locale(locale))


@lru_cache(maxsize=256)
def _percent_pattern(locale: str, digits: int) -> NumberPattern:
    base = _locale(locale).percent_formats[None]
    # Babel's own percent pattern keeps the locale's spacing and symbol position ("72 %" in fr);
    # only the number of decimals is ours to choose, so copy it rather than write a pattern.
    pattern: NumberPattern = copy.copy(base)
    pattern.frac_prec = (digits, digits)
    return pattern


def format_percent(x: float, locale: str = "en", digits: int = 0) -> str:
    """A ratio as a percentage in the locale's pattern: 0.72 -> en `72%`, fr/de `72 %`."""
    if digits < 0:
        raise ValueError(f"digits must be 0 or more, not {digits}")
    loc = _locale(locale)
    return str(_percent_pattern(str(loc), digits).apply(x, loc))


def format_change(x: float, locale: str = "en", digits: int = 1) -> str:
    """A relative change with its sign: 0.149 -> en `+14.9%`, -0.05 -> `-5.0%`.

    A change that rounds to zero is shown without a sign.
    """
    loc = _locale(locale)
    text = format_percent(abs(x), str(loc), digits)
    if round(abs(x) * 100, digits) == 0:
        return text
    sign = get_plus_sign_symbol(loc) if x > 0 else get_minus_sign_symbol(loc)
    return f"{sign}{text}"


def format_month(month: Month, locale: str = "en") -> str:
    """A month and year: en `June 2015`, fr `juin 2015`, de `Juni 2015`."""
    return str(format_skeleton("yMMMM", _date(month), locale=_locale(locale)))


def format_year(year: int, locale: str = "en") -> str:
    """A year as the locale writes it on its own: `2023`."""
    return str(format_skeleton("y", datetime.date(year, 1, 1), locale=_locale(locale)))


def format_period(month: Month, granularity: str = "month", locale: str = "en") -> str:
    """A month (`June 2015`), or the year a yearly figure stands for (`2015`)."""
    return format_year(month.year, locale) if granularity == "year" else format_month(month, locale)


def format_month_name(month: Month, locale: str = "en") -> str:
    """The month's stand-alone name without the year: en `January`, fr `janvier`."""
    return str(format_date(_date(month), "LLLL", locale=_locale(locale)))


def _date(month: Month) -> datetime.date:
    return datetime.date(month.year, month.month, 1)


# region names that read with "the" inside a sentence ("in the USA")
_REGIONS_WITH_ARTICLE = frozenset(
    {"usa", "us", "uk", "eu", "eu27", "uae", "netherlands", "philippines", "czech republic"}
)


def place(region: str) -> str:
    """A region's name as used after "in": "the USA", "Norway"."""
    key = region.strip().casefold()
    if key in _REGIONS_WITH_ARTICLE or key.startswith(("united ", "republic of ")):
        return f"the {region.strip()}"
    return region.strip()


def covered(covers: Sequence[str]) -> str:
    """What a partial figure covers: "the USA", "the USA and Norway", "14 regions"."""
    if len(covers) > 3:
        return f"{len(covers)} regions"
    return _and([place(r) for r in covers])


def in_region(region: str, covers: Sequence[str] = ()) -> str:
    """ " in Norway"; "" for the world's own figure; what a partial figure covers, named:
    " in the USA" (the world from US figures), " in the USA (WA only)"."""
    world = region.strip().casefold() in ("", "world")
    if covers:
        return (
            f" in {covered(covers)}" if world else f" in {place(region)} ({covered(covers)} only)"
        )
    return "" if world else f" in {place(region)}"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
