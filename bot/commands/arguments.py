"""Command arguments in text form: `/ev-total nissan leaf region:US as-of:2015-06`, and periods.

The subject is free words; options are `name:value` (quote a value with spaces:
`region:"United Kingdom"`). Periods are `2015`, `2015-06`, `june 2015` (English, French, German,
Spanish, Dutch or Italian month names, full or abbreviated), `06/2015`, a quarter (`2015-Q2`,
`Q2 2015`), `ytd` or `ytd 2015`, a range of years, quarters or months (`2019..2021`), and
`all`. Every error says what was expected, in the reader's language (`ArgumentError`); a
`locale:` option (`answer_locale`) asks for one answer in another language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from babel import Locale
from babel.dates import get_month_names

from bot.domain.formatting import validate_locale
from bot.domain.i18n import LANGUAGES, LocalizedError, t, tp
from bot.domain.names import name_key
from bot.domain.periods import Month

MAX_LENGTH = 500
FIRST_YEAR, LAST_YEAR = 1900, 2200

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<opt>[A-Za-z][A-Za-z0-9_-]*):(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>\S*))
      | "(?P<wdq>[^"]*)"
      | (?P<word>\S+)
    )""",
    re.VERBOSE,
)
_YEAR_AFTER = re.compile(r"\s+(\d{4})(?=\s|$)")
_COMMAND = re.compile(r"^[a-z][a-z0-9-]*$")


def _month_words() -> dict[str, int]:
    words: dict[str, int] = {}
    for locale in ("en", "fr", "de", "es", "nl", "it"):
        for width in ("wide", "abbreviated"):
            for number, name in get_month_names(width, locale=locale).items():
                key = name_key(str(name)).rstrip(".")
                words.setdefault(key, int(number))
    words.setdefault("sept", 9)
    return words


MONTH_WORDS = _month_words()


class ArgumentError(LocalizedError):
    """A command argument that cannot be used; the message says what was expected."""


@dataclass(frozen=True)
class CommandCall:
    """A command as typed: its name, the free words of the subject, and `name:value` options."""

    name: str
    words: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return " ".join(self.words)


LengthOf = Literal["command", "period", "value"]


def check_length(text: str, what: LengthOf = "command", key: str = "") -> None:
    """Refuse, politely, text longer than MAX_LENGTH characters: a whole command, a period, or
    the value of option `key`."""
    if len(text) <= MAX_LENGTH:
        return
    values: dict[str, object] = {"length": len(text), "limit": MAX_LENGTH}
    if what == "period":
        raise ArgumentError(
            "The period is {length} characters long; please keep it under {limit}.", **values
        )
    if what == "value":
        raise ArgumentError(
            "The value of {key}: is {length} characters long; please keep it under {limit}.",
            key=key,
            **values,
        )
    raise ArgumentError(
        "The command is {length} characters long; please keep it under {limit}.", **values
    )


@lru_cache(maxsize=256)
def answer_locale(text: str) -> str:
    """The locale a `locale:` option asks one answer in, canonical (`nb-no` -> `nb_NO`, `fr_CA`
    keeps Canada's numbers); refused, naming the languages the bot writes, unless it writes the
    locale's language."""
    try:
        code = validate_locale(text)
        language = Locale.parse(code).language
    except ValueError:
        language = ""
    if language in ("no", "nn"):
        language = "nb"  # read as Bokmål, like every Norwegian locale (`i18n.language_of`)
    if language not in LANGUAGES:
        raise ArgumentError(
            "locale: {value} is not a language the bot writes; use one of {languages}.",
            value=repr(text),
            languages=", ".join(LANGUAGES),
        )
    return code


def option_name(text: str) -> str:
    """The canonical spelling of an option name: `As_Of` -> `as-of`."""
    return text.strip().lower().replace("_", "-")


def parse_command(text: str) -> CommandCall:
    """Split `/ev-total nissan leaf region:US as-of:2015-06` into name, words and options."""
    check_length(text)
    stripped = text.strip()
    if not stripped:
        raise ArgumentError("Expected a command, e.g. /ev-total nissan leaf (see /ev-help).")
    head, _, rest = stripped.partition(" ")
    name = head.lstrip("/").lower()
    if not _COMMAND.match(name):
        raise ArgumentError(
            "{head} is not a command name: expected e.g. /ev-total nissan leaf (see /ev-help).",
            head=repr(head),
        )
    words: list[str] = []
    options: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    if '"' not in rest and "'" not in rest:
        if ":" not in rest:  # words alone (most calls): no option to look for
            return CommandCall(name, tuple(rest.split()))
        return _simple(name, rest.split())
    while pos < len(rest):
        match = _TOKEN.match(rest, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
        if match.group("opt") is not None:
            key = option_name(match.group("opt"))
            value = next(
                (v for v in (match.group("dq"), match.group("sq"), match.group("bare")) if v),
                "",
            )
            if key in options:
                raise ArgumentError("Option {key}: is given twice; give it once.", key=key)
            if not value.strip():
                raise ArgumentError("Option {key}: has no value; write it as {key}:VALUE.", key=key)
            follow = _YEAR_AFTER.match(rest, pos)
            if follow and value.isalpha():  # as-of:june 2015
                value, pos = f"{value} {follow.group(1)}", follow.end()
            options[key] = value.strip()
        elif match.group("wdq") is not None:
            words.extend(match.group("wdq").split())
        elif match.group("word") is not None:
            word = match.group("word")
            if word.count('"') % 2:
                raise ArgumentError(
                    'Unbalanced quote in {word}: close it with another ".', word=repr(word)
                )
            words.append(word.replace('"', ""))
    return CommandCall(name, tuple(w for w in words if w), options)


_OPTION = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.*)$")


def _simple(name: str, tokens: list[str]) -> CommandCall:
    """The common case with no quotes: split on white space."""
    words: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        match = _OPTION.match(token) if ":" in token else None
        if match is None:
            words.append(token)
            continue
        key, value = option_name(match.group(1)), match.group(2)
        if value.isalpha() and i < len(tokens) and len(tokens[i]) == 4 and tokens[i].isdigit():
            value, i = f"{value} {tokens[i]}", i + 1  # as-of:june 2015
        if key in options:
            raise ArgumentError("Option {key}: is given twice; give it once.", key=key)
        if not value:
            raise ArgumentError("Option {key}: has no value; write it as {key}:VALUE.", key=key)
        options[key] = value
    return CommandCall(name, tuple(words), options)


PeriodKind = Literal["all", "year", "month", "quarter", "ytd", "range"]


@dataclass(frozen=True, slots=True)
class PeriodSpec:
    """A period a command was asked about; `bounds` turns it into first and last months."""

    kind: PeriodKind
    year: int | None = None
    month: int | None = None  # a month's number, or a quarter's (1 to 4)
    span: tuple[PeriodSpec, PeriodSpec] | None = None  # a range's first and last periods

    def bounds(self, latest: Month | None) -> tuple[Month, Month] | None:
        """(first, last) month of the window; None for all time (or ytd with no figures).

        `latest` is the last month with figures, which year to date runs to.
        """
        if self.kind == "range" and self.span is not None:
            start, stop = (p.bounds(latest) for p in self.span)
            return (start[0], stop[1]) if start and stop else None
        if self.kind == "quarter" and self.year is not None and self.month is not None:
            return Month(self.year, 3 * self.month - 2), Month(self.year, 3 * self.month)
        if self.kind == "year" and self.year is not None:
            return Month(self.year, 1), Month(self.year, 12)
        if self.kind == "month" and self.year is not None and self.month is not None:
            return Month(self.year, self.month), Month(self.year, self.month)
        if self.kind == "ytd":
            if latest is None:
                return None
            year = latest.year if self.year is None else self.year
            # another year's "year to date" covers the same months as this year's
            return Month(year, 1), Month(year, latest.month)
        return None

    def end(self, latest: Month | None) -> Month | None:
        """The last month of the window (for an as-of); None for all time."""
        window = self.bounds(latest)
        return window[1] if window else None

    def label(self, latest: Month | None = None, locale: str = "en") -> str:
        """The period named in the language of `locale`: `2015`, `2015-06`, `Q2 2015`, `all
        time`, `2019 to 2021`, `year to date (2023-01 to 2023-06)`."""
        if self.kind == "all":
            return tp(locale, "period", "all time")
        if self.kind == "year":
            return str(self.year)
        if self.kind == "month":
            return f"{self.year:04d}-{self.month:02d}"
        if self.kind == "quarter":
            return tp(locale, "period", "Q{quarter} {year}", quarter=self.month, year=self.year)
        if self.kind == "range" and self.span is not None:
            first, last = (p.label(latest, locale) for p in self.span)
            return tp(locale, "period", "{first} to {last}", first=first, last=last)
        window = self.bounds(latest)
        if window is None:
            return tp(locale, "period", "year to date")
        return t(
            locale,
            "year to date ({first} to {last})",
            first=str(window[0]),
            last=str(window[1]),
        )


def _year(text: str, raw: str) -> int:
    year = int(raw)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ArgumentError(
            "{text}: year {year} is outside {first}-{last}; expected a period such as 2015, "
            "2015-06, june 2015, 2015-Q2, ytd, 2019..2021 or all.",
            text=repr(text),
            year=year,
            first=FIRST_YEAR,
            last=LAST_YEAR,
        )
    return year


def _month_number(text: str, raw: str) -> int:
    if raw.isdigit():
        number = int(raw)
        if 1 <= number <= 12:
            return number
        raise ArgumentError(
            "{text}: month {month} is not between 1 and 12.", text=repr(text), month=raw
        )
    number_or_none = MONTH_WORDS.get(name_key(raw).rstrip("."))
    if number_or_none is None:
        raise ArgumentError(
            "{text}: {word} is not a month name; expected a period such as 2015, 2015-06, "
            "june 2015, 2015-Q2, ytd, 2019..2021 or all.",
            text=repr(text),
            word=repr(raw),
        )
    return number_or_none


_NUMERIC = re.compile(r"^(\d{4})(?:[-/.](\d{1,2}))?$")
_NUMERIC_MY = re.compile(r"^(\d{1,2})[-/.](\d{4})$")
_WORDY = re.compile(r"^(?:([^\d\s\-/.,]+)[\s\-/.,]*(\d{4})|(\d{4})[\s\-/.,]*([^\d\s\-/.,]+))$")
_YTD = re.compile(r"^(?:ytd|year[\s\-]*to[\s\-]*date)(?:[\s:\-]*(\d{4}))?$")
_ALL = {"", "all", "all time", "alltime", "ever", "total"}
_QUARTER = re.compile(r"^(?:(\d{4})[\s\-/.]*q([1-4])|q([1-4])[\s\-/.]*(\d{4}))$")
_QUARTER_LIKE = re.compile(r"^(?:\d{4}[\s\-/.]*q\d+|q\d+[\s\-/.]*\d{4})$")


# a pure function of the text, asked of every as-of: and period: (the periods people ask are few)
@lru_cache(maxsize=1024)
def parse_period(text: str) -> PeriodSpec:
    """`2015`, `2015-06`, `june 2015`, `juin 2015`, `06/2015`, `2015-Q2`, `Q2 2015`, `ytd`,
    `ytd 2015`, `all`, or a range of two of them: `2019..2021`."""
    check_length(text, "period")
    raw = " ".join(text.strip().split())
    if ".." in raw:
        return _range(text, raw)
    low = name_key(raw)
    if low in _ALL:
        return PeriodSpec("all")
    quarter = _QUARTER.match(low)
    if quarter:
        year = _year(text, quarter.group(1) or quarter.group(4))
        return PeriodSpec("quarter", year, int(quarter.group(2) or quarter.group(3)))
    if _QUARTER_LIKE.match(low):
        raise ArgumentError(
            "{text}: a quarter is Q1 to Q4, e.g. 2015-Q2 or Q2 2015.", text=repr(text)
        )
    ytd = _YTD.match(low)
    if ytd:
        return PeriodSpec("ytd", _year(text, ytd.group(1)) if ytd.group(1) else None)
    numeric = _NUMERIC.match(low)
    if numeric:
        year = _year(text, numeric.group(1))
        if numeric.group(2) is None:
            return PeriodSpec("year", year)
        return PeriodSpec("month", year, _month_number(text, numeric.group(2)))
    numeric = _NUMERIC_MY.match(low)
    if numeric:
        return PeriodSpec(
            "month", _year(text, numeric.group(2)), _month_number(text, numeric.group(1))
        )
    wordy = _WORDY.match(low)
    if wordy:
        word = wordy.group(1) or wordy.group(4)
        year = _year(text, wordy.group(2) or wordy.group(3))
        return PeriodSpec("month", year, _month_number(text, word))
    raise ArgumentError(
        "{text} is not a period: expected 2015, 2015-06, june 2015, 2015-Q2, ytd, 2019..2021 "
        "or all.",
        text=repr(raw),
    )


def _range(text: str, raw: str) -> PeriodSpec:
    """`2019..2021`, `2023-01..2023-06`: from the first period's start to the last one's end."""
    start_text, _, stop_text = raw.partition("..")
    if not start_text.strip() or not stop_text.strip() or ".." in stop_text:
        raise ArgumentError(
            "{text}: a range is two periods joined by '..', e.g. 2019..2021 or 2023-01..2023-06.",
            text=repr(text),
        )
    start, stop = parse_period(start_text), parse_period(stop_text)
    for end, typed in ((start, start_text), (stop, stop_text)):
        if end.kind in ("all", "ytd", "range"):
            raise ArgumentError(
                "{text}: each end of a range is a year, a quarter or a month, not {end}; "
                "e.g. 2019..2021.",
                text=repr(text),
                end=repr(typed.strip()),
            )
    first, last = start.bounds(None), stop.bounds(None)
    if first is None or last is None or last[1] < first[0]:
        raise ArgumentError(
            "{text}: the range ends before it starts; write the earlier period first, "
            "e.g. 2019..2021.",
            text=repr(text),
        )
    return PeriodSpec("range", span=(start, stop))
