"""Command arguments in text form, and periods."""

from __future__ import annotations

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
        ("last tuesday", "expected 2015, 2015-06, june 2015, ytd or all"),
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
