"""A period in prose is a phrase of its own per granularity ("in June 2015", "in 2015"), so a
language that says them differently (German "im Juni 2015" but "im Jahr 2015") reads right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.charts.data import CumulativeData, Frame, describe
from bot.charts.words import next_label
from bot.domain.announcer import announce, announce_group, following_message
from bot.domain.events import (
    CorrectionEvent,
    Event,
    Granularity,
    MilestoneEvent,
    RecordEvent,
    Subject,
)
from bot.domain.headlines_corrections import chart_alt
from bot.domain.news_words import around_period, in_period
from bot.domain.periods import Month

EVERYTHING = Subject("all", "all", "all EVs")
LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
LOCALES = Path(__file__).resolve().parents[1] / "bot" / "locales"

# German puts "im" before a month ("im Juni 2015") but never before a bare year ("im 2015")
BARE_YEAR = re.compile(r"\bim \d{4}\b")


def events(granularity: Granularity) -> list[Event]:
    """One event of every kind whose prose names a period, at `granularity`."""
    return [
        MilestoneEvent(
            EVERYTHING,
            "World",
            "sales",
            (40_000_000,),
            Month(2023, 12),
            40_512_000,
            next_threshold=50_000_000,
            projected=Month(2025, 12),
            granularity=granularity,
        ),
        RecordEvent(
            LEAF,
            "Norway",
            "sales",
            Month(2019, 12),
            4_500,
            4_300,
            Month(2015, 12),
            granularity=granularity,
        ),
        CorrectionEvent(
            LEAF,
            "World",
            "sales",
            250_000,
            "moved",
            Month(2016, 12),
            260_000,
            Month(2015, 12),
            251_000,
            new_period=Month(2016, 12),
            new_value=255_000,
            granularity=granularity,
        ),
        CorrectionEvent(
            LEAF,
            "World",
            "sales",
            250_000,
            "restored",
            Month(2016, 12),
            260_000,
            Month(2015, 12),
            251_000,
            new_period=Month(2016, 12),
            new_value=255_000,
            granularity=granularity,
        ),
    ]


def german_prose(granularity: Granularity) -> str:
    """Every sentence the events above are told in, in German: messages, lines, chart words."""
    found = events(granularity)
    texts: list[str] = []
    for event in found:
        message = announce(event, "de")
        texts += [message.title, message.body, *(f"{f.name}: {f.value}" for f in message.fields)]
    texts.append(announce_group(found, "de").body)
    assert isinstance(found[0], MilestoneEvent)
    texts.append(chart_alt(found[0], "de"))
    texts.append(
        following_message(
            "Nissan Leaf",
            40_512_000,
            Month(2023, 12),
            50_000_000,
            Month(2025, 12),
            "de",
            granularity,
        ).body
    )
    chart = CumulativeData(
        frame=Frame(
            subject="Nissan Leaf", locale="de", as_of=Month(2023, 12), yearly=granularity == "year"
        ),
        points=((Month(2022, 12), 30_000_000), (Month(2023, 12), 40_512_000)),
        milestones=((40_000_000, Month(2023, 12), 40_512_000),),
        next_threshold=50_000_000,
        projected=Month(2025, 12),
    )
    texts += [describe(chart), next_label(chart)]
    return "\n".join(texts)


def test_a_yearly_figure_in_german_is_im_jahr_never_im_and_a_bare_year() -> None:
    prose = german_prose("year")
    assert BARE_YEAR.findall(prose) == []
    assert "(bisheriger Rekord 4.300 im Jahr 2015)" in prose
    assert "etwa im Jahr 2025" in prose
    assert "im Jahr 2016" in prose  # the correction's new year and the restored one


def test_a_monthly_figure_in_german_is_still_im_and_the_month() -> None:
    prose = german_prose("month")
    assert "(bisheriger Rekord 4.300 im Dezember 2015)" in prose
    assert "etwa im Dezember 2025" in prose
    assert "im Dezember 2016" in prose
    assert "Jahr" not in prose.replace("Jahresrekord", "")


def test_english_says_in_and_around_before_a_month_and_a_year_alike() -> None:
    yearly = announce(events("year")[1]).body
    monthly = announce(events("month")[1]).body
    assert yearly.endswith("4,500 in 2019 (previous best 4,300 in 2015).")
    assert monthly.endswith("4,500 in December 2019 (previous best 4,300 in December 2015).")
    moved = announce(events("year")[2]).body
    assert moved.startswith(
        "Correction: revised figures put the Nissan Leaf's 250,000 sales in 2016, not 2015 as"
        " announced"
    )


def test_no_german_message_puts_im_before_a_placeholder_that_can_hold_a_year() -> None:
    with (LOCALES / "de" / "LC_MESSAGES" / "evbot.po").open("rb") as f:
        catalog = read_po(f)
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            # only the month phrase's own `{month}` is always a month; every other period
            # (when, moved, passed, projected, year ...) may be a yearly figure's year
            wrong += [
                f"{message.id!r}: {text!r}"
                for name in re.findall(r"\bim \{(\w+)", text)
                if name != "month"
            ]
    assert wrong == []


@pytest.mark.parametrize("lang", ["de", "fr", "nl", "es", "nb", "ja"])
def test_each_language_has_a_phrase_for_a_month_and_for_a_year(lang: str) -> None:
    for phrase in (in_period, around_period):
        month, year = phrase(Month(2015, 6), "month", lang), phrase(Month(2015, 12), "year", lang)
        assert "2015" in month and "2015" in year
        assert month != year


def test_french_says_a_stock_stands_at_the_end_of_its_month_or_year() -> None:
    # "au" reads only before a day ("au 30 juin"): a month or a year is "à fin juin 2015"
    for month, granularity, said in (
        (Month(2015, 6), "month", "juin 2015"),
        (Month(2015, 12), "year", "2015"),
    ):
        body = following_message(
            "Nissan Leaf", 110_000, month, 150_000, None, "fr", granularity, "stock"
        ).body
        assert f"(à fin {said})" in body
        assert "(au " not in body
