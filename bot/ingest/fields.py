"""The rules of one field of a row: a period, a region, names, units, a flag, each checked and
cleaned, or refused with a `RowProblem` in the words the user sees."""

from __future__ import annotations

import re

from bot.domain.names import clean_label
from bot.domain.periods import PeriodError, normalize_period

MAX_FIELD = 10_000  # a longer field is refused rather than stored
# A trillion vehicles in one row is no count of cars (the world buys under 100 million a year);
# far larger figures would overflow the store's 64-bit sums or the threshold ladders.
MAX_UNITS = 10**12
_INT = re.compile(r"[0-9]+")
# digits grouped in threes by one mark a spreadsheet uses: 1.234, 1,234,567, 1 234, 1'234
_GROUPED = re.compile("-?[0-9]{1,3}([.,' \u00a0\u202f])[0-9]{3}(?:\\1[0-9]{3})*")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}
NULLS = {"", "null", "none", "n/a", "na"}


class RowProblem(ValueError):
    """What is wrong with a row, in the words the user sees after `FILE:LINE: `."""


def field_text(text: str) -> str:
    """A field's text, refused when it is longer than anything a name or figure needs."""
    if len(text) > MAX_FIELD:
        raise RowProblem(f"a field is longer than {MAX_FIELD} characters")
    return text


def period_of(text: str) -> str:
    """A period in canonical form."""
    try:
        return normalize_period(field_text(text))
    except PeriodError as exc:
        raise RowProblem(f"bad period: {exc}") from None


def region_of(text: str) -> str:
    """A region's label; never empty."""
    region = clean_label(field_text(text))
    if not region:
        raise RowProblem("region is empty")
    return region


def names_of(make: str, model: str) -> tuple[str, str]:
    """A make's and model's labels; either may be empty (a total), but a model needs its make."""
    make, model = clean_label(field_text(make)), clean_label(field_text(model))
    if model and not make:
        raise RowProblem(f"model {model!r} has no make")
    return make, model


def units_of(text: str, thousands: str = "", comma_file: bool = False) -> int:
    """A count of vehicles. Its digits may be grouped by `thousands` (the source's or the
    import's separator) and, in a comma-separated file, by commas: a field that holds a comma
    there was quoted ("1,234"), so the comma can only group digits. Nothing else is guessed."""
    units = _units(field_text(text), thousands, comma_file)
    if isinstance(units, str):
        raise RowProblem(units)
    return units


def cumulative_of(text: str) -> bool:
    """Whether the figure is a running total."""
    flag = field_text(text).strip().lower()
    if flag not in _TRUE | _FALSE:
        raise RowProblem(f"cumulative {flag!r} is not true or false")
    return flag in _TRUE


def _units(text: str, thousands: str, comma_file: bool) -> int | str:
    """An integer, or the reason it is not one."""
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 12:  # the common case, quickly
        return int(value)
    separators = [thousands] if thousands else []
    if comma_file and "," in value and "," not in separators:
        separators.append(",")
    for separator in separators:
        if separator in value:
            digits = value.removeprefix("-")
            if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(separator)}[0-9]{{3}})+", digits):
                return (
                    f"units {text.strip()!r} is not a whole number ({separator!r} separates "
                    "thousands here, in groups of three digits)"
                )
            value = value.replace(separator, "")
            break
    if value.startswith("-") and _INT.fullmatch(value[1:]):
        return f"negative units {text.strip()!r}: figures are never below 0"
    if not _INT.fullmatch(value):
        grouped = _GROUPED.fullmatch(value)
        if grouped:
            mark = grouped[1]
            return (
                f"units {text.strip()!r} is not a whole number: if {mark!r} separates thousands, "
                f"say so with thousands = {_toml(mark)} on the source or --thousands "
                f"{_shell(mark)} on evbot import"
            )
        return f"units {text.strip()!r} is not a whole number"
    if len(value) > 13 or int(value) > MAX_UNITS:
        return f"units {_short(text.strip())} are more than {MAX_UNITS:,}: not a count of vehicles"
    return int(value)


def _toml(mark: str) -> str:
    return '"' + mark.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _shell(mark: str) -> str:
    return repr(mark) if mark in (" ", "'", "\u00a0", "\u202f") else mark


def _short(text: str) -> str:
    return repr(text) if len(text) <= 20 else f"{text[:10]!r}... ({len(text)} digits)"
