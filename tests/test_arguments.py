"""Command arguments in text form, and periods."""

from __future__ import annotations

import re

import pytest

from bot.commands.arguments import (
    ArgumentError,
    CommandCall,
    PeriodSpec,
    parse_command,
    parse_period,
)
from bot.domain.periods import Month


def test_subject_words_and_options() -> None:
    call = parse_command("/ev-total nissan leaf region:US as-of:2015-06")
    assert call == CommandCall("ev-total", ("nissan", "leaf"), {"region": "US", "as-of": "2015-06"})
    assert call.subject == "nissan leaf"


def test_quoted_values_case_and_underscores() -> None:
    call = parse_command('/EV-Total "renault zoe" Region:"United Kingdom" as_of:2015')
    assert call.name == "ev-total"
    assert call.subject == "renault zoe"
    assert call.options == {"region": "United Kingdom", "as-of": "2015"}


def test_month_name_then_year_stays_in_the_option() -> None:
    call = parse_command("/ev-total leaf as-of:june 2015")
    assert call.options == {"as-of": "june 2015"}
    assert call.words == ("leaf",)


def test_no_subject_and_no_slash() -> None:
    assert parse_command("ev-help") == CommandCall("ev-help")


def test_words_alone_are_the_subject() -> None:
    # a call of words alone skips the search for options
    call = parse_command("/ev-total  Nissan   e-NV200 ")
    assert call == CommandCall("ev-total", ("Nissan", "e-NV200"))
    assert call.subject == "Nissan e-NV200"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Expected a command"),
        ("/ev-total leaf region:US region:UK", "given twice"),
        ("/ev-total leaf region:", "has no value"),
        ('/ev-total le"af', "Unbalanced quote"),
        ("/!! leaf", "not a command name"),
    ],
)
def test_bad_commands_say_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(ArgumentError, match=expected):
        parse_command(text)


def test_over_500_characters_is_refused_politely() -> None:
    with pytest.raises(ArgumentError, match="please keep it under 500"):
        parse_command("/ev-total " + "a" * 600)
    with pytest.raises(ArgumentError, match="under 500"):
        parse_period("2015" * 200)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("2015", PeriodSpec("year", 2015)),
        ("2015-06", PeriodSpec("month", 2015, 6)),
        ("2015/6", PeriodSpec("month", 2015, 6)),
        ("06/2015", PeriodSpec("month", 2015, 6)),
        ("june 2015", PeriodSpec("month", 2015, 6)),
        ("June-2015", PeriodSpec("month", 2015, 6)),
        ("Jun 2015", PeriodSpec("month", 2015, 6)),
        ("2015 june", PeriodSpec("month", 2015, 6)),
        ("juin 2015", PeriodSpec("month", 2015, 6)),
        ("März 2015", PeriodSpec("month", 2015, 3)),
        ("sept. 2015", PeriodSpec("month", 2015, 9)),
        ("ytd", PeriodSpec("ytd")),
        ("YTD", PeriodSpec("ytd")),
        ("year to date", PeriodSpec("ytd")),
        ("ytd 2014", PeriodSpec("ytd", 2014)),
        ("all", PeriodSpec("all")),
        ("", PeriodSpec("all")),
    ],
)
def test_periods(text: str, spec: PeriodSpec) -> None:
    assert parse_period(text) == spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-13", "not between 1 and 12"),
        ("1850", "outside 1900-2200"),
        ("junk 2015", "not a month name"),
        ("last tuesday", "expected 2015, 2015-06, june 2015, 2015-Q2, ytd, 2019..2021 or all"),
    ],
)
def test_bad_periods(text: str, expected: str) -> None:
    with pytest.raises(ArgumentError, match=expected):
        parse_period(text)


def test_bounds() -> None:
    latest = Month(2015, 5)
    assert PeriodSpec("year", 2014).bounds(latest) == (Month(2014, 1), Month(2014, 12))
    assert PeriodSpec("month", 2014, 3).bounds(latest) == (Month(2014, 3), Month(2014, 3))
    assert PeriodSpec("ytd").bounds(latest) == (Month(2015, 1), Month(2015, 5))
    assert PeriodSpec("ytd", 2014).bounds(latest) == (Month(2014, 1), Month(2014, 5))
    assert PeriodSpec("ytd").bounds(None) is None
    assert PeriodSpec("all").bounds(latest) is None
    assert PeriodSpec("year", 2014).end(latest) == Month(2014, 12)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2023-Q2", Month(2023, 4), Month(2023, 6)),
        ("Q2 2023", Month(2023, 4), Month(2023, 6)),
        ("q4-2022", Month(2022, 10), Month(2022, 12)),
        ("2023 Q1", Month(2023, 1), Month(2023, 3)),
        ("2019..2021", Month(2019, 1), Month(2021, 12)),
        ("2023-01..2023-06", Month(2023, 1), Month(2023, 6)),
        ("2022-Q3..2023-Q1", Month(2022, 7), Month(2023, 3)),
        ("june 2022..march 2023", Month(2022, 6), Month(2023, 3)),
        ("2021..2021", Month(2021, 1), Month(2021, 12)),
    ],
)
def test_quarters_and_ranges(text: str, first: Month, last: Month) -> None:
    assert parse_period(text).bounds(Month(2023, 6)) == (first, last)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-Q5", "a quarter is Q1 to Q4"),
        ("Q0 2023", "a quarter is Q1 to Q4"),
        ("2021..2019", "ends before it starts"),
        ("2019..", "two periods joined by '..'"),
        ("..2019", "two periods joined by '..'"),
        ("2019..2020..2021", "two periods joined by '..'"),
        ("ytd..2021", "each end of a range is a year, a quarter or a month"),
        ("2019..someday", "not a period"),
    ],
)
def test_bad_quarters_and_ranges(text: str, expected: str) -> None:
    with pytest.raises(ArgumentError, match=re.escape(expected)):
        parse_period(text)


def test_quarter_and_range_labels() -> None:
    assert parse_period("2023-q2").label() == "Q2 2023"
    assert parse_period("2019..2021").label() == "2019 to 2021"
