from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.formatting import (
    fast_percent,
    fast_units,
    format_change,
    format_month,
    format_month_name,
    format_percent,
    format_units,
    validate_locale,
)
from bot.domain.periods import Month

NNBSP = "\u202f"  # Babel's narrow no-break space, the French group separator
NBSP = "\xa0"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "250,000"), ("fr", f"250{NNBSP}000"), ("de", "250.000"), ("en_GB", "250,000")],
)
def test_format_units(locale: str, expected: str) -> None:
    assert format_units(250_000, locale) == expected


def test_format_units_small_and_large() -> None:
    assert format_units(0, "en") == "0"
    assert format_units(999, "de") == "999"
    assert format_units(1_234_567, "en") == "1,234,567"
    assert format_units(1_234_567, "de") == "1.234.567"


@pytest.mark.parametrize(
    ("locale", "digits", "expected"),
    [
        ("en", 0, "72%"),
        ("fr", 0, f"72{NBSP}%"),
        ("de", 0, f"72{NBSP}%"),
        ("en", 1, "72.0%"),
        ("fr", 1, f"72,0{NBSP}%"),
    ],
)
def test_format_percent(locale: str, digits: int, expected: str) -> None:
    assert format_percent(0.72, locale, digits) == expected


def test_format_percent_rounds() -> None:
    assert format_percent(0.7184, "en") == "72%"
    assert format_percent(0.149, "en", digits=1) == "14.9%"
    with pytest.raises(ValueError, match="digits"):
        format_percent(0.5, "en", digits=-1)


@pytest.mark.parametrize(
    ("x", "locale", "expected"),
    [
        (0.149, "en", "+14.9%"),
        (-0.05, "en", "-5.0%"),
        (0.149, "fr", f"+14,9{NBSP}%"),
        (0.149, "de", f"+14,9{NBSP}%"),
        (0.0, "en", "0.0%"),
        (0.00001, "en", "0.0%"),  # rounds to zero: no sign
    ],
)
def test_format_change(x: float, locale: str, expected: str) -> None:
    assert format_change(x, locale) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "June 2015"), ("fr", "juin 2015"), ("de", "Juni 2015")],
)
def test_format_month(locale: str, expected: str) -> None:
    assert format_month(Month(2015, 6), locale) == expected


def test_format_month_name() -> None:
    assert format_month_name(Month(2015, 1), "en") == "January"
    assert format_month_name(Month(2015, 1), "fr") == "janvier"
    assert format_month_name(Month(2015, 3), "de") == "März"


def test_validate_locale_canonical() -> None:
    assert validate_locale("en") == "en"
    assert validate_locale("en-gb") == "en_GB"
    assert validate_locale("fr_FR") == "fr_FR"


@pytest.mark.parametrize("bad", ["xx", "", "  ", "en_US_bad!", "klingon"])
def test_validate_locale_rejects_unknown(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_locale(bad)
    assert repr(bad) in str(info.value)
    assert "'en'" in str(info.value) and "'fr'" in str(info.value)


def test_unknown_locale_is_a_clear_error_everywhere() -> None:
    with pytest.raises(ValueError, match="unknown locale 'zz'"):
        format_units(1, "zz")
    with pytest.raises(ValueError, match="unknown locale 'zz'"):
        format_month(Month(2015, 6), "zz")


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["en", "fr", "de"]))
def test_format_units_keeps_digits(n: int, locale: str) -> None:
    text = format_units(n, locale)
    assert "".join(ch for ch in text if ch.isdigit()) == str(n)


def test_fast_number_formatting_is_babels_in_every_locale() -> None:
    """Whole numbers and percentages are formatted without Babel on the hot path, with exactly
    Babel's text (grouping, symbols, half-to-even rounding)."""
    import random

    import babel

    rng = random.Random(5)
    numbers = [0, 7, 999, 1_000, 12_345, 377_700, 1_234_567, -42_000]
    numbers += [rng.randrange(10**12) for _ in range(20)]
    for code in babel.localedata.locale_identifiers():
        for n in numbers:
            assert fast_units(n, code) == format_units(n, code), (code, n)
    ratios = [0.675, 0.125, 0.0125, 0.005, 0.0005, 0.095, 0.0995, 0.665, 0.045, 1.0, 0.0, 2 / 3]
    ratios += [k / 1000 for k in range(1001)] + [rng.random() / 10 for _ in range(500)]
    for code in ("en", "fr", "de", "es", "nl", "it", "en_IN", "ar", "fa", "tr", "sv", "de_CH"):
        for x in ratios:
            assert fast_percent(x, code) == format_percent(x, code, 1 if x < 0.1 else 0), (code, x)
