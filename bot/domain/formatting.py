"""Locale-aware numbers, percentages and months for messages, built on Babel."""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.numbers import (
    NumberPattern,
    format_decimal,
    get_group_symbol,
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


# Babel takes ~10 us to format a date, and a command tells the month its figure runs to: the
# text of a month or a year is a pure function of it and the locale (a few thousand at most)
@lru_cache(maxsize=8192)
def format_month(month: Month, locale: str = "en") -> str:
    """A month and year: en `June 2015`, fr `juin 2015`, de `Juni 2015`."""
    return str(format_skeleton("yMMMM", _date(month), locale=_locale(locale)))


@lru_cache(maxsize=4096)
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


# -- the hot path: the command layer's numbers, with exactly Babel's text, without Babel ------


@dataclass(frozen=True, slots=True)
class _Grouping:
    """A locale's pattern for whole numbers, read from Babel once and applied as Babel does."""

    prefix: tuple[str, str]  # (positive, negative)
    suffix: tuple[str, str]
    symbol: str
    primary: int
    secondary: int
    min_digits: int

    def format(self, n: int) -> str:
        negative = n < 0
        digits = str(-n if negative else n)
        if len(digits) < self.min_digits:
            digits = digits.rjust(self.min_digits, "0")
        size = self.primary
        if len(digits) > size:
            parts = [digits[-size:]]
            head = digits[:-size]
            while len(head) > self.secondary:
                parts.append(head[-self.secondary :])
                head = head[: -self.secondary]
            parts.append(head)
            digits = self.symbol.join(reversed(parts))
        return self.prefix[negative] + digits + self.suffix[negative]


_GROUPING_PROBES = (0, 7, -7, 999, 1000, -1000, 12_345, 123_456, 1_234_567, 1_234_567_890)
_QUOTED = re.compile(r"'([^']*)'")


@lru_cache(maxsize=64)
def _grouping(locale: str) -> _Grouping | None:
    """The locale's whole-number pattern, or None where Babel must format (an unusual pattern).

    Babel takes ~14 us a number and command totals are mostly distinct numbers; this takes ~1 us.
    It is used only when it gives Babel's text for every probe.
    """
    try:
        pattern = Locale.parse(locale.replace("-", "_")).decimal_formats[None]
        symbol = get_group_symbol(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, KeyError):
        return None
    if pattern.exp_prec or pattern.scale or "@" in pattern.pattern or "¤" in pattern.pattern:
        return None

    def unquote(text: str) -> str:
        return _QUOTED.sub(lambda m: m.group(1) or "'", text)

    found = _Grouping(
        (unquote(pattern.prefix[0]), unquote(pattern.prefix[1])),
        (unquote(pattern.suffix[0]), unquote(pattern.suffix[1])),
        symbol,
        pattern.grouping[0],
        pattern.grouping[1],
        pattern.int_prec[0],
    )
    if any(found.format(n) != format_units(n, locale) for n in _GROUPING_PROBES):
        return None
    return found


@lru_cache(maxsize=65_536)
def fast_units(n: int, locale: str) -> str:
    """`format_units(n, locale)`'s text, kept per number and computed without Babel."""
    grouping = _grouping(locale)
    return grouping.format(n) if grouping is not None else format_units(n, locale)


_PERCENT_QUANTUM = (Decimal(1), Decimal("0.1"))


@lru_cache(maxsize=65_536)
def fast_percent(x: float, locale: str) -> str:
    """A share as a percentage, one decimal under 10%: `format_percent`'s text, kept per ratio."""
    digits = 1 if x < 0.1 else 0
    try:
        # Babel rounds the percentage as this decimal, half to even: equal roundings, equal text
        rounded = Decimal(str(x)).scaleb(2).quantize(_PERCENT_QUANTUM[digits])
    except ArithmeticError:  # NaN or infinity: let Babel say what it says
        return format_percent(x, locale, digits)
    return _rounded_percent(rounded, digits, locale)


@lru_cache(maxsize=8192)
def _rounded_percent(rounded: Decimal, digits: int, locale: str) -> str:
    # the float of a rounded percentage has the same decimal digits, so Babel rounds it alike
    return format_percent(float(rounded.scaleb(-2)), locale, digits)


# region names that read with "the" inside a sentence ("in the USA")
_REGIONS_WITH_ARTICLE = frozenset(
    {"usa", "us", "uk", "eu", "eu27", "uae", "netherlands", "philippines", "czech republic"}
)


def place(region: str) -> str:
    """A region's name as used after "in": "the USA", "Norway"."""
    key = region.strip().casefold()
    if key in _REGIONS_WITH_ARTICLE or key.startswith(("united ", "republic of ")):
        return f"the {region.strip()}"
    if key.startswith("rest of "):  # a residual: "in the rest of the world"
        return f"the {key[:8]}{region.strip()[8:]}"
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
